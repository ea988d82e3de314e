/**
 * A reader's byte records (`decode: false`) are marked valid UTF-8 in bulk: one native check over
 * all the bytes framed since the last mark, instead of one per record. Records it cannot vouch for
 * stay unmarked, and the row pipeline decodes them, which finds the one at fault.
 */
import { isUtf8 } from 'node:buffer';
import type { RecordBytes, SourceRecord } from './types.js';

export class Utf8Marks {
  /** Where the bytes not yet checked start, in the reader's current buffer. */
  private fromByte = 0;
  /** The first record not yet marked, in the reader's current records array. */
  private fromRecord = 0;

  /** `enabled` false: the reader decodes every record itself, and there is nothing to mark. */
  constructor(private readonly enabled: boolean) {}

  /** The records pushed since the last mark were framed from `buf[.., upTo)`: marks them if all of it is UTF-8. */
  mark(records: readonly (SourceRecord | RecordBytes)[], buf: Buffer, upTo: number): void {
    if (this.enabled && records.length > this.fromRecord && isUtf8(buf.subarray(this.fromByte, upTo))) {
      for (let k = this.fromRecord; k < records.length; k++) {
        const record = records[k];
        if (record.data !== undefined) record.utf8 = true;
      }
    }
    this.fromByte = upTo;
    this.fromRecord = records.length;
  }

  /** Framing goes on in a new buffer, from its byte `from`. */
  newBuffer(from = 0): void {
    this.fromByte = from;
  }

  /** The records were handed out; the reader starts a new array. */
  newBatch(): void {
    this.fromRecord = 0;
  }
}
