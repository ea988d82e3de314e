/**
 * Where a staged upload's parts go, one interface over both spools: the folder spool writes each
 * part at its offset in the one spool file (folderStaging.ts), an S3 spool has the store take the
 * parts of a multipart upload from presigned URLs (s3Staging.ts). Either way the whole file ends
 * at `location`, the spool location a job reads.
 */
import type { Readable } from 'node:stream';
import type { StagedUploadRow } from './stagedUploadRows.js';
import type { Utf8Break } from '../../spool/utf8Check.js';

export interface StagedStorage {
  /** Makes room for a new upload's file. */
  begin(fileSize: number): Promise<{ location: string; s3UploadId: string | null }>;
  /** The URL that takes an HTTP PUT of part `n`, valid until the upload expires. */
  partUrl(row: StagedUploadRow, n: number, origin: string): Promise<string>;
  /** The parts that have arrived whole. */
  receivedParts(row: StagedUploadRow): Promise<number[]>;
  /** Puts the parts together into `location`; answers the parts still missing (or of the wrong size), none when done. */
  assemble(row: StagedUploadRow): Promise<number[]>;
  /** The whole file's size, SHA-256 and first `headBytes` bytes. */
  read(row: StagedUploadRow, headBytes: number): Promise<{ size: number; sha256: string; notUtf8: Utf8Break | null; head: Buffer }>;
  /** The file's first `bytes` bytes (fewer when it is shorter), without reading the rest. */
  head(row: StagedUploadRow, bytes: number): Promise<Buffer>;
  /** The whole file, to read once (when it must be decoded into a new spool file: intake/fileDecoding.ts). */
  open(row: StagedUploadRow): Promise<Readable>;
  /** Removes what was sent (the upload expired, or its file was refused for good). */
  discard(row: StagedUploadRow): Promise<void>;
}
