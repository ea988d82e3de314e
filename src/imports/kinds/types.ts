/**
 * What a kind of import is: its columns, its table, and how one row is checked. A kind is one
 * module in this folder plus its table in db/schema.ts; kinds/index.ts lists them.
 */
export interface KindColumn {
  /** The canonical name, as SPEC writes it; headers are matched to it by `normalizeColumnName`. */
  name: string;
  /** The table column that receives the value. */
  dbColumn: string;
  required?: boolean;
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
  jobColumns?: readonly string[];
  /**
   * For kinds that take records of any shape (COLLECTION): builds the values in `columns` order
   * from the whole record (an NDJSON object, or a CSV row as header -> text). Such a kind accepts
   * any header, and its rows are always written in `columns` order.
   */
  fromRecord?(record: Record<string, unknown>, fail: ErrorSink): unknown[];
  /**
   * Checks one row given as values in `columns` order (undefined when absent) and returns the
   * text to COPY for each column (null for SQL NULL). The row failed if it called `fail`.
   * Runs once per row on the hot path: no closures or objects per call beyond the result.
   */
  validate(values: readonly unknown[], fail: ErrorSink): (string | null)[];
}

/** The columns every kind's table carries before its own: who, which job, and which line of the file. */
export const ROW_ORIGIN_COLUMNS = ['tenant_id', 'job_id', 'line'] as const;
