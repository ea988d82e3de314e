/** How a spooled file is read: every file is spooled as UTF-8 CSV or NDJSON (intake/fileDecoding.ts). */
export type ImportFormat = 'CSV' | 'NDJSON';
/** The format a file is sent in: an XLSX workbook is spooled as NDJSON, one line per sheet row. */
export type FileFormat = ImportFormat | 'XLSX';

/** How a job's file (its FileFormat) is read from the spool. */
export const spooledFormat = (format: string): ImportFormat => (format === 'CSV' ? 'CSV' : 'NDJSON');

/** One record as read from the file: CSV fields in header order, or one parsed NDJSON value. */
export type SourceRecord =
  | { line: number; raw: string; fields: string[]; clean: boolean; json?: undefined; parseError?: undefined; data?: undefined }
  | { line: number; raw: string; json: unknown; fields?: undefined; clean?: undefined; parseError?: undefined; data?: undefined }
  | { line: number; raw: string; parseError: string; fields?: undefined; clean?: undefined; json?: undefined; data?: undefined };

/**
 * A record framed but not decoded (readCsv or readNdjson with `decode: false`): its bytes are
 * `data[start, end)`. The row pipeline reads it as bytes, or decodes it (decodeCsvRecord,
 * decodeNdjsonLine).
 */
export interface RecordBytes {
  line: number;
  data: Buffer;
  start: number;
  end: number;
  /** The bytes are known to be valid UTF-8 (checked once for many records); false: not checked, or not valid. */
  utf8: boolean;
}

/** A run of records and where the file stands after the last of them: the checkpoint to resume from. */
export interface RecordBatch<R = SourceRecord> {
  records: R[];
  /** Byte offset just past the batch's last record. */
  endOffset: number;
  /** Last line number the batch consumed. */
  endLine: number;
}

export interface ReadFrom {
  path: string;
  /** Byte offset to start at: 0, or a checkpoint (always the start of a record past the header). */
  offset: number;
  /** Lines before `offset`. */
  line: number;
  batchSize: number;
  signal?: AbortSignal;
  /** Read size; 1 MiB unless a test wants records split across many chunk boundaries. */
  chunkBytes?: number;
  /**
   * The caller is done with a batch's records before it asks for the next batch (the parse thread
   * is), so their bytes may be read over after that: the reader reads into buffers it reuses.
   * Without it, records stay valid for as long as they are held.
   */
  reuseBuffers?: boolean;
  /** For an s3:// location: how a read the store broke off is retried (parse/objectChunks.ts). */
  store?: StoreReadOptions;
}

export interface StoreReadOptions {
  /** How long reads are retried after the first failure of a run of them. */
  retryForMs: number;
  onRetry?: (retry: { attempt: number; delayMs: number; error: string }) => void;
}
