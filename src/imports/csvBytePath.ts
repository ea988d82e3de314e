/**
 * The byte path for CSV rows: a record is split where its bytes lie (formats/csvFields.ts), its
 * kind checks it on those bytes (ImportKind.passesAsWritten), and its fields are copied into the
 * binary COPY data as they are. No string is built for a row that passes. Measured here, 1M
 * events rows: the string way (decode the record, split it into strings, validate, encode the
 * strings again) spent most of the parse thread's time building and re-encoding strings.
 *
 * The path only takes rows it is sure of; every other row (a failing one, one whose values
 * validate would change, one with quotes out of place, one not known to be UTF-8) is declined
 * and goes the string way, which decides it and says what is wrong. So rows and errors are the
 * same either way; test/csvBytePath.test.ts holds the two ways to that.
 */
import type { CopyDataBuilder } from './copyData.js';
import { CsvFields } from './formats/csvFields.js';
import type { CsvRecordBytes } from './formats/types.js';
import { readTimestampBytes, TimestampCheck } from './kinds/timestamps.js';
import type { ImportKind, RowBytes } from './kinds/types.js';
import { isNonNegativeIntBytes, isStorableJsonObjectBytes, MAX_KEY_BYTES } from './kinds/values.js';

export enum BytePathResult { Declined, Plain, Keyed }

export class CsvBytePath implements RowBytes {
  private readonly fields = new CsvFields();
  /** The file field of each kind column, or -1 when the file does not have it. */
  private readonly fieldOf: Int32Array;
  private readonly fieldCount: number;
  /** The file fields of the dedup key and of a unique index's column (too long a key fails the row), or -1. */
  private readonly keyField: number;
  private readonly uniqueField: number;

  /**
   * `kindIndexOfFileColumn`: the kind column of each file field (the COPY column order);
   * `keyColumn` and `uniqueColumn` are kind column indexes, or -1.
   */
  constructor(private readonly passes: NonNullable<ImportKind['passesAsWritten']>, kindColumnCount: number,
    kindIndexOfFileColumn: readonly number[], keyColumn: number, uniqueColumn: number) {
    this.fieldCount = kindIndexOfFileColumn.length;
    this.fieldOf = new Int32Array(kindColumnCount).fill(-1);
    kindIndexOfFileColumn.forEach((column, field) => { this.fieldOf[column] = field; });
    this.keyField = keyColumn >= 0 ? this.fieldOf[keyColumn] : -1;
    this.uniqueField = uniqueColumn >= 0 ? this.fieldOf[uniqueColumn] : -1;
  }

  /** Adds the record's row to `plain` or, when it carries a dedup key, to `keyed`; or declines it. */
  add(record: CsvRecordBytes, plain: CopyDataBuilder, keyed: CopyDataBuilder): BytePathResult {
    if (!record.utf8) return BytePathResult.Declined;
    const fields = this.fields;
    if (!fields.split(record.data, record.start, record.end, this.fieldCount)) return BytePathResult.Declined;
    if (this.uniqueField >= 0 && fields.end[this.uniqueField] - fields.start[this.uniqueField] > MAX_KEY_BYTES) return BytePathResult.Declined;
    if (!this.passes(this)) return BytePathResult.Declined;
    const isKeyed = this.keyField >= 0 && fields.end[this.keyField] > fields.start[this.keyField];
    if (!(isKeyed ? keyed : plain).addFields(record.line, fields)) return BytePathResult.Declined;
    return isKeyed ? BytePathResult.Keyed : BytePathResult.Plain;
  }

  // RowBytes, over the record just split.

  absent(column: number): boolean {
    const f = this.fieldOf[column];
    return f < 0 || this.fields.end[f] === this.fields.start[f];
  }

  oneOf(column: number, words: readonly Uint8Array[]): number {
    const f = this.fieldOf[column];
    if (f < 0) return -1;
    const { buf, start, end } = this.fields;
    const b = buf[f];
    const s = start[f];
    const length = end[f] - s;
    for (let w = 0; w < words.length; w++) {
      const word = words[w];
      if (word.length !== length) continue;
      let k = 0;
      while (k < length && b[s + k] === word[k]) k++;
      if (k === length) return w;
    }
    return -1;
  }

  timestamp(column: number): boolean {
    const f = this.fieldOf[column];
    return f >= 0 && readTimestampBytes(this.fields.buf[f], this.fields.start[f], this.fields.end[f]) === TimestampCheck.Ok;
  }

  nonNegativeInt(column: number): boolean {
    const f = this.fieldOf[column];
    return f >= 0 && isNonNegativeIntBytes(this.fields.buf[f], this.fields.start[f], this.fields.end[f]);
  }

  jsonObject(column: number): boolean {
    const f = this.fieldOf[column];
    return f >= 0 && this.fields.end[f] > this.fields.start[f] && isStorableJsonObjectBytes(this.fields.buf[f], this.fields.start[f], this.fields.end[f]);
  }
}
