/**
 * What arrives is normalised before it is spooled, so the spool only ever holds UTF-8 CSV or
 * NDJSON and the parse thread, its checkpoints and a resumed job never see anything else:
 * - gzip (recognised by its bytes, with or without .gz) is decompressed as it streams;
 * - UTF-16 (by its BOM, or `encoding`), Windows-1252 and ISO-8859-1 (by `encoding`) become UTF-8;
 * - an XLSX workbook (its zip bytes, .xlsx, or `format: XLSX`) becomes NDJSON (xlsxRows.ts).
 * A file that needs none of it (plain UTF-8, the common case) is passed on as it came, untouched.
 *
 * Limits: the bytes sent count against MAX_FILE_SIZE as always; what a decoded file grows to
 * counts against MAX_UNCOMPRESSED_SIZE, checked as it streams, so a decompression bomb is
 * refused as soon as it passes that, in the memory of a few chunks. What a workbook keeps on disk
 * while it is read (a sheet before the shared strings) takes room from the upload's reservation
 * (SPOOL_MAX_BYTES) before it is written. The duplicate-file hash is the
 * one of the bytes sent, as for a plain file.
 */
import { createHash } from 'node:crypto';
import { Readable, pipeline } from 'node:stream';
import zlib from 'node:zlib';
import { FileRefusal, tooLargeMessage } from '../spool/spool.js';
import type { Scratch } from '../spool/sharedRoom.js';
import type { FileFormat } from '../parse/types.js';
import { toUtf8, type TextEncoding } from './textDecoding.js';
import { xlsxToNdjson } from './xlsxRows.js';
import { sheetRefused } from './inspect.js';
import type { UserError } from './userErrors.js';

export interface DecodeOptions {
  filename: string | null;
  format?: FileFormat | null;
  encoding?: TextEncoding | null;
  sheet?: string | null;
  maxFileSize: number;
  maxUncompressedSize: number;
  /** XLSX: what its shared strings may unzip to (they are held in memory). */
  maxXlsxSharedStrings: number;
  /** XLSX: where a sheet that waits for the shared strings is kept, in room taken from the upload's. */
  scratch: Scratch;
}

export type Decoded =
  | {
    ok: true;
    /** What the spool writes: UTF-8 CSV or NDJSON. */
    stream: Readable;
    /** Null: the file is spooled as sent. Else the SHA-256 of the bytes sent, once `stream` has ended. */
    sentSha256: (() => string) | null;
    /** The most bytes the spooled file may have. */
    maxBytes: number;
    /** The format the file was sent in when known from its bytes (XLSX), else as asked. */
    format: FileFormat | null;
    /** The name the format is read from: without .gz. */
    filename: string | null;
  }
  | ({ ok: false } & UserError);

const GZIP = [0x1f, 0x8b];
const ZIP = [0x50, 0x4b, 0x03, 0x04];
/** OLE compound files: a password-protected .xlsx (Office encrypts into one) or an old .xls. */
const OLE = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
const HEAD = 8;
/** Decompressed output comes in pieces this large: fewer, larger writes into the spool. */
const INFLATE_CHUNK = 256 << 10;

const startsWith = (head: Buffer, magic: number[]) => head.length >= magic.length && magic.every((b, i) => head[i] === b);

export const uncompressedTooLargeMessage = (max: number) =>
  `Decompressed or converted to UTF-8, the file is larger than the limit of ${max} bytes (MAX_UNCOMPRESSED_SIZE)`;

export async function decodeArrival(stream: Readable, opts: DecodeOptions): Promise<Decoded> {
  const first = await peek(stream, HEAD);
  let source = first.stream;
  let head = first.head;
  let filename = opts.filename;
  let sent: SentBytes | null = null;
  const gzipped = startsWith(head, GZIP);
  if (gzipped) {
    filename = filename?.replace(/\.gz$/i, '') ?? null;
    sent = new SentBytes(opts.maxFileSize);
    const inflate = zlib.createGunzip({ chunkSize: INFLATE_CHUNK });
    pipeline(Readable.from(sent.count(source), { objectMode: false }), inflate, () => {});
    try {
      ({ head, stream: source } = await peek(inflate, HEAD));
    } catch (err) {
      const refusal = asRefusal(err);
      if (refusal && refusal.code !== 'SPOOL_FULL') return { ok: false, code: refusal.code, message: refusal.message };
      throw err;
    }
  }
  const byName = /\.xlsx$/i.test(filename ?? '');
  const refuse = (message: string): Decoded => {
    source.destroy();
    return { ok: false, code: 'INVALID_FILE', message };
  };
  if (startsWith(head, OLE)) {
    return refuse('The file is an encrypted (password-protected) workbook or an old .xls one: save it as .xlsx without a password, or as CSV UTF-8');
  }
  const zipped = startsWith(head, ZIP);
  const xlsx = opts.format === 'XLSX' || (!opts.format && (zipped || byName));
  if (xlsx && !zipped) return refuse(`The file is not an XLSX workbook (an .xlsx file is a zip archive${gzipped ? ', here inside gzip' : ''}); send format: CSV or NDJSON for text`);
  if (!xlsx && zipped) return refuse(`The file is a zip archive, not ${opts.format ?? 'CSV or NDJSON'} text; if it is an Excel workbook, send format: XLSX`);
  if (!xlsx && opts.sheet != null) {
    source.destroy();
    const { code, message, field } = sheetRefused(opts.format ?? 'text, not a workbook');
    return { ok: false, code, message, field };
  }

  const encoding = xlsx ? null : textEncoding(head, opts.encoding);
  if (!sent && !xlsx && encoding === null) {
    return { ok: true, stream: source, sentSha256: null, maxBytes: opts.maxFileSize, format: opts.format ?? null, filename };
  }
  // Not spooled as sent: what was sent is hashed and counted, what it becomes is counted too.
  let out: AsyncIterable<Buffer> = source;
  if (!sent) {
    sent = new SentBytes(opts.maxFileSize);
    out = sent.count(source);
  }
  if (xlsx) out = xlsxToNdjson(out, opts.sheet ?? null, { maxUnzipped: opts.maxUncompressedSize, maxSharedStrings: opts.maxXlsxSharedStrings }, opts.scratch);
  else if (encoding) out = toUtf8(out, encoding);
  const bytesSent = sent;
  return {
    ok: true,
    stream: Readable.from(capped(out, opts.maxUncompressedSize), { objectMode: false }),
    sentSha256: () => bytesSent.sha256(),
    maxBytes: opts.maxUncompressedSize,
    format: xlsx ? 'XLSX' : opts.format ?? null,
    filename,
  };
}

/** The bytes as sent: counted against MAX_FILE_SIZE, and hashed. */
class SentBytes {
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private digest: string | null = null;
  constructor(private readonly max: number) {}

  async* count(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      this.bytes += chunk.length;
      if (this.bytes > this.max) throw new FileRefusal('FILE_TOO_LARGE', tooLargeMessage(this.max));
      this.hash.update(chunk);
      yield chunk;
    }
  }

  sha256(): string {
    return (this.digest ??= this.hash.digest('hex'));
  }
}

/** Whether a file that starts with `head` is spooled other than as it is (decodeArrival decides the same). */
export function needsDecoding(head: Buffer, opts: Pick<DecodeOptions, 'filename' | 'format' | 'encoding'>): boolean {
  return startsWith(head, GZIP) || startsWith(head, ZIP) || startsWith(head, OLE) || opts.format === 'XLSX'
    || (!opts.format && /\.xlsx$/i.test(opts.filename ?? '')) || textEncoding(head, opts.encoding) !== null;
}

/** The encoding to decode from, or null for UTF-8 (which passes as it is). */
function textEncoding(head: Buffer, asked: TextEncoding | null | undefined): Exclude<TextEncoding, 'UTF8'> | null {
  if (asked && asked !== 'UTF8') return asked;
  if (asked === 'UTF8') return null;
  if (head[0] === 0xff && head[1] === 0xfe) return 'UTF16LE';
  if (head[0] === 0xfe && head[1] === 0xff) return 'UTF16BE';
  return null;
}

/** Corrupt or cut-off gzip data is the file's fault. */
function asRefusal(err: unknown): FileRefusal | null {
  if (err instanceof FileRefusal) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new FileRefusal('INVALID_FILE', `The gzip data cannot be decompressed (damaged or cut off): ${(err as Error).message}`);
  }
  return null;
}

/** `source`, refused once it passes `max` bytes. */
async function* capped(source: AsyncIterable<Buffer>, max: number): AsyncGenerator<Buffer> {
  let size = 0;
  try {
    for await (const chunk of source) {
      size += chunk.length;
      if (size > max) throw new FileRefusal('FILE_TOO_LARGE', uncompressedTooLargeMessage(max));
      yield chunk;
    }
  } catch (err) {
    throw asRefusal(err) ?? err;
  }
}

/**
 * The first `n` bytes of `source` (fewer if it is shorter), and a stream of all of it: `source`
 * itself with the bytes put back, or, if it has already ended, a new one.
 */
export function peek(source: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    let settled = false;
    const finish = (ended: boolean) => {
      if (settled) return;
      settled = true;
      source.off('readable', onReadable);
      source.off('end', onEnd);
      source.off('error', onError);
      const head = Buffer.concat(chunks);
      // From here on its errors reach whoever reads it (pipeline and async iteration look at
      // `errored`); one that comes before they listen must not be an uncaught exception.
      source.on('error', () => {});
      if (ended) { resolve({ head, stream: Readable.from(chunks.length ? [head] : [], { objectMode: false }) }); return; }
      if (head.length) source.unshift(head);
      resolve({ head, stream: source });
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while (got < n && (chunk = source.read() as Buffer | null) !== null) { chunks.push(chunk); got += chunk.length; }
      if (got >= n) finish(false);
    };
    const onEnd = () => finish(true);
    const onError = (err: Error) => { if (!settled) { settled = true; reject(err); } };
    if (source.errored) { reject(source.errored); return; }
    if (source.readableEnded) { resolve({ head: Buffer.alloc(0), stream: Readable.from([], { objectMode: false }) }); return; }
    source.on('readable', onReadable);
    source.once('end', onEnd);
    source.once('error', onError);
  });
}
