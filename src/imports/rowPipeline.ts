/**
 * Turns a batch of source records into what one transaction writes: the valid rows as COPY CSV
 * text, and the row errors. Pure: no I/O, so it can run wherever the parsing runs.
 */
import { checkHeader, createKeyMatcher } from './columns.js';
import { ROW_ORIGIN_COLUMNS, type ImportKind, type RowError } from './kinds/types.js';
import type { ImportFormat, RecordBatch, SourceRecord } from './formats/types.js';
import { shown } from './kinds/values.js';
import { csvCell } from '../db/copyCsv.js';

export interface PreparedBatch {
  copyCsv: string;
  rowsValid: number;
  rowsFailed: number;
  rowsProcessed: number;
  errors: (RowError & { rawRow: string })[];
  endOffset: number;
  endLine: number;
}

export interface RowContext { kind: ImportKind; format: ImportFormat; header: string[] | null; tenantId: string; jobId: string }

export function copyColumnsOf(kind: ImportKind): string[] {
  return [...ROW_ORIGIN_COLUMNS, ...kind.columns.map((c) => c.dbColumn)];
}

export function createRowPipeline(ctx: RowContext): (batch: RecordBatch) => PreparedBatch {
  const { kind } = ctx;
  const width = kind.columns.length;
  const toValues = ctx.format === 'CSV' ? csvValues(ctx) : ndjsonValues(ctx);
  const prefix = `${ctx.tenantId},${ctx.jobId},`;

  return (batch) => {
    let copyCsv = '';
    let rowsValid = 0;
    const errors: PreparedBatch['errors'] = [];
    const failedLines = new Set<number>();
    for (const record of batch.records) {
      const fail = (column: string | null, value: unknown, message: string) => {
        failedLines.add(record.line);
        errors.push({ line: record.line, column, value: shown(value), message, rawRow: record.raw });
      };
      if (record.parseError !== undefined) { fail(null, null, record.parseError); continue; }
      const values = toValues(record, fail);
      if (!values) continue;
      const row = kind.validate(values, fail);
      if (!row) continue;
      let line = prefix + record.line;
      for (let i = 0; i < width; i++) line += ',' + csvCell(row[i]);
      copyCsv += line + '\n';
      rowsValid++;
    }
    return {
      copyCsv, rowsValid, errors, rowsFailed: failedLines.size, rowsProcessed: batch.records.length,
      endOffset: batch.endOffset, endLine: batch.endLine,
    };
  };
}

type ToValues = (record: SourceRecord, fail: (column: string | null, value: unknown, message: string) => void) => unknown[] | null;

function csvValues({ kind, header }: RowContext): ToValues {
  if (!header) throw new Error('a CSV job needs its header');
  const check = checkHeader(kind, header);
  // The header was checked at upload; a failure here means the job row was tampered with.
  if (!check.ok) throw new Error(check.message);
  const target = check.kindIndexOfFileColumn;
  const width = kind.columns.length;
  return (record, fail) => {
    const fields = record.fields!;
    if (fields.length !== header.length) {
      fail(null, null, `expected ${header.length} fields as in the header, found ${fields.length}`);
      return null;
    }
    const values: unknown[] = new Array(width);
    for (let f = 0; f < fields.length; f++) if (target[f] >= 0) values[target[f]] = fields[f];
    return values;
  };
}

function ndjsonValues({ kind }: RowContext): ToValues {
  const indexOf = createKeyMatcher(kind);
  const width = kind.columns.length;
  return (record, fail) => {
    const json = record.json;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      fail(null, null, 'the line is not a JSON object');
      return null;
    }
    const values: unknown[] = new Array(width);
    let ok = true;
    for (const key in json) {
      const i = indexOf(key);
      if (i < 0) { fail(key, null, `unknown field "${key}"`); ok = false; continue; }
      values[i] = (json as Record<string, unknown>)[key];
    }
    return ok ? values : null;
  };
}
