/**
 * What a kind of import is: its columns, its table, and how one row is checked. A kind is one
 * module in this folder plus its table in db/schema.ts; kinds/index.ts lists them.
 */
import type { JsonText } from '../codecs/jsonText.js';

export interface KindColumn {
  /** The canonical name, as docs/kinds/ writes it; headers are matched to it by `normalizeColumnName`. */
  name: string;
  /** The table column that receives the value. */
  dbColumn: string;
  required?: boolean;
}

/** A row's fields as bytes, by kind column index, with the checks `validate` makes (parse/bytePath.ts). */
export interface RowBytes {
  /** An empty field, or a column the file does not have. */
  absent(column: number): boolean;
  /** Which of `words` the field is exactly (bytes compared), or -1. */
  oneOf(column: number, words: readonly Uint8Array[]): number;
  /** A timestamp that checkTimestamp accepts. */
  timestamp(column: number): boolean;
  /** A value that checkNonNegativeInt accepts as it is (not absent). */
  nonNegativeInt(column: number): boolean;
  /** A JSON object that checkJsonObject stores as it is (not absent). */
  jsonObject(column: number): boolean;
}

export interface RowError { line: number; column: string | null; value: string | null; message: string }

/** Collects a row's errors; `validate` reports through it so a row can fail on several columns at once. */
export interface ErrorSink { (column: string | null, value: unknown, message: string): void }

export interface ImportKind {
  name: string;
  table: string;
  columns: readonly KindColumn[];
  /**
   * A column whose value, when present, identifies the row within the tenant: a row whose value
   * the tenant already has (or that came earlier in the file) is a duplicate, skipped and counted.
   * The table has a unique index on (tenant_id, this column) for rows where it is set.
   */
  dedupColumn?: string;
  /** The column whose distinct values `Job.facets` reports (e.g. USER_EVENTS' course_id). */
  facetColumn?: string;
  /** The unique index that dedup conflicts on (table columns); by default (tenant_id, dedupColumn's column). */
  dedupScope?: readonly string[];
  /**
   * Table columns whose value is the job's, not the row's (COLLECTION's `collection`): written
   * after ROW_ORIGIN_COLUMNS, from the job.
   */
  jobColumns?: readonly JobOptionName[];
  /** The options an import of this kind takes (COLLECTION's collection, LOCATIONS' locationType). */
  options?: readonly KindOption[];
  /**
   * For kinds that take records of any shape (COLLECTION): builds the values in `columns` order
   * from the whole record (an NDJSON object, or a CSV row as header -> text). Such a kind accepts
   * any header, and its rows are always written in `columns` order. From NDJSON, `text` is the
   * record's own JSON text (its numbers exactly as written).
   */
  fromRecord?(record: Record<string, unknown>, fail: ErrorSink, text?: JsonText): unknown[];
  /**
   * Checks one row given as values in `columns` order (undefined when absent) and returns the
   * text to COPY for each column (null for SQL NULL). The row failed if it called `fail`.
   * Runs once per row on the hot path: no closures or objects per call beyond the result.
   */
  validate(values: readonly unknown[], fail: ErrorSink): (string | null)[];
  /**
   * The common case of `validate`, answered on a record's bytes without building a string
   * (parse/bytePath.ts). True only when `validate` would accept the row and return every
   * column's value as the file gives it (null for an empty field; for a JSON object, the same
   * object). False sends the row to `validate`, which decides: a row it would fail, or change (a
   * default, a value it rewrites), or anything this check is unsure of must answer false. A
   * property test holds every kind that has one to this (test/bytePath.test.ts).
   */
  passesAsWritten?(row: RowBytes): boolean;
  /** For roster kinds (USERS, ORGANISATIONS, LOCATIONS): rows create or update records instead of being appended. */
  upsert?: UpsertRules;
}

/** A valid row of an upsert kind, as the parse thread hands it over: its checked values in `columns` order. */
export interface UpsertRow { line: number; values: (string | null)[]; raw: string }

/**
 * A record a row may name: one already in the table, or one written by an earlier row of the batch.
 * Records of the kind being imported also carry their values (UpsertRules.columns order, as text)
 * and the job and line that last wrote them: what an update compares with and keeps.
 */
export interface KnownRecord {
  id: string; key: string | null; type: string | null;
  values?: (string | null)[]; jobId?: string; line?: number;
}

/** Finds one kind's records by id or by natural key (code, external id), within the tenant. */
export interface RecordLookup {
  byId(id: string | null): KnownRecord | undefined;
  byKey(key: string | null): KnownRecord | undefined;
}

/** Which record a row writes (id null: a new one), its natural key and type, and its table values. */
export interface UpsertDecision {
  id: string | null;
  key: string | null;
  type?: string | null;
  /** In UpsertRules.columns order; null leaves an existing record's value as it was. */
  values: (string | null)[];
}

export interface UpsertRules {
  /** The table columns a decision's values fill, in order (id, tenant_id, job_id and line are the engine's). */
  columns: readonly string[];
  /** The column of the natural key that rows upsert on, and of the record's type if it has one. */
  keyColumn: string;
  typeColumn?: string;
  /** What to say when a row gives a key that another record holds, e.g. 'External ID "x" already belongs to another user'. */
  keyTaken(key: string): { column: string; message: string };
  /**
   * The records a batch's rows name, loaded in one query per kind before any row is decided:
   * for each kind, the row values (by column index) to find by id and by key.
   */
  lookups: readonly { kind: string; idColumns: readonly number[]; keyColumns: readonly number[] }[];
  /** The columns of this kind's table that hold another record's id, and that record's kind: a revert deletes no record still pointed to. */
  references?: readonly { column: string; kind: string }[];
  /**
   * Decides one row, in line order: rows see the records that earlier rows of the file created
   * or changed. A row that names a record that does not exist fails through `fail`.
   */
  decide(row: UpsertRow, find: (kind: string) => RecordLookup, job: UpsertJob, fail: ErrorSink): UpsertDecision | null;
}

/**
 * The record a roster row writes over: the one its id column names (USER ID, SCHOOL ID), which
 * must exist; else the one that holds its natural key (upsert); else none, and the row creates one.
 */
export function recordToUpdate(
  records: RecordLookup, named: { column: string; id: string | null; noun: string }, key: string | null, fail: ErrorSink,
): string | null {
  if (named.id === null) return records.byKey(key)?.id ?? null;
  const existing = records.byId(named.id);
  if (!existing) fail(named.column, named.id, `${named.column} "${named.id}" does not name ${named.noun} of this tenant`);
  return existing?.id ?? null;
}

/** The options an import may carry for its whole file (GraphQL input fields of the same names), kept on its job. */
export const JOB_OPTION_NAMES = ['collection', 'locationType'] as const;
export type JobOptionName = (typeof JOB_OPTION_NAMES)[number];
/** A job's options, as the job keeps them (null: not given). */
export type JobOptions = Record<JobOptionName, string | null>;

/** An option a kind takes; a kind that does not declare one refuses it. */
export interface KindOption {
  name: JobOptionName;
  /** Why the value the request gave (null: none) is refused, or null when it is fine. Checked before the file is read. */
  refuse(value: string | null): string | null;
  /** Why the file cannot go without this option, now that its columns are known (checked only when none was given). */
  refuseWithout?(columns: readonly string[]): string | null;
  /** The value as the job keeps it, when it differs from the request's. */
  stored?(value: string): string;
}

/** The job's own settings that a row's decision may depend on. */
export type UpsertJob = JobOptions;

/** The columns every kind's table carries before its own: who, which job, and which line of the file. */
export const ROW_ORIGIN_COLUMNS = ['tenant_id', 'job_id', 'line'] as const;
