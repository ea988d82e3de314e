/**
 * Reads a GraphQL multipart request (operations, map, then one file) from the Node request with
 * busboy, and hands the file to its resolver as a stream. It does what graphql-upload-minimal's
 * processRequest did, without its flaw: it stopped listening to the parser after the parser's
 * first error and then destroyed it, so a second error (a malformed part header, a control byte
 * in a file name, an over-long header) was thrown with no listener and ended the process.
 *
 * Here every stream involved (the request, the parser, each file part) keeps an error listener
 * for its whole life, and every error, whenever it comes (before the operations, during the file,
 * after the answer), ends up in `fail`: the request's first error is its answer (a 4xx), later
 * ones are dropped. Once a request fails, or is answered before its body has ended, the rest of
 * its body is read and dropped (nothing reaches a file stream any more), and a client that sends
 * nothing for a while is cut off (and, as on every route, one that goes on sending long after its
 * answer: answeredBodies.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { Upload, type FileUpload } from 'graphql-upload-minimal';
import { closeIfBodyPauses } from './answeredBodies.js';

/** A malformed request; `status` is its HTTP answer. */
export class MultipartError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export interface MultipartLimits {
  /** The operations and map parts may each hold this many bytes. */
  maxFieldBytes: number;
  /** A body that sends nothing for this long is given up (its connection closed), so that it holds no upload slot for ever. */
  idleMs: number;
}

/** What the upload service needs to know about the request its file comes in. */
export interface MultipartBody {
  /** Settles once the body has been read to its closing boundary (null) or has failed (why). */
  readonly finished: Promise<MultipartError | null>;
  /** Bytes of the operations and map parts, so far: with Content-Length, they bound the file's size. */
  readonly fieldBytes: number;
  /** The file is not wanted (the import was refused): the rest of the body is read and dropped. */
  discardRest(): void;
}

const bodies = new WeakMap<IncomingMessage, MultipartBody>();

export function multipartBodyOf(req: IncomingMessage | undefined): MultipartBody | undefined {
  return req ? bodies.get(req) : undefined;
}

const SPEC = 'see https://github.com/jaydenseric/graphql-multipart-request-spec';
const bad = (message: string, status = 400) => new MultipartError(status, message);

type Operations = Record<string, unknown>;

/**
 * Resolves to the operations once the map has been read (or, when the map names no file, once
 * the body has been read to its end), with each file's place holding an Upload (graphql-upload-
 * minimal's, which its Upload scalar expects) that resolves once that file's part begins. Rejects
 * with a MultipartError when the body is malformed before that.
 */
export function readMultipartRequest(req: IncomingMessage, res: ServerResponse, limits: MultipartLimits): Promise<Operations> {
  let parsed!: (operations: Operations) => void;
  let refused!: (err: MultipartError) => void;
  const operationsRead = new Promise<Operations>((resolve, reject) => { parsed = resolve; refused = reject; });
  let settle!: (outcome: MultipartError | null) => void;
  const finished = new Promise<MultipartError | null>((resolve) => { settle = resolve; });

  let operations: Operations | undefined;
  let uploads: Map<string, Upload> | undefined;
  let fileStream: Readable | null = null;
  let failure: MultipartError | null = null;
  let ended = false; // read to the closing boundary, every part accounted for
  let fieldBytes = 0;
  let parser: busboy.Busboy | null = null;

  /** Reads and drops what is left of the body; nothing more is parsed. */
  const dropRest = () => {
    if (parser) {
      req.unpipe(parser);
      parser.destroy(); // its last words (e.g. "Unexpected end of form") go to its error listener
    }
    req.resume();
    // Unpiping while chunks are on their way can pause the request again after this.
    setImmediate(() => req.resume());
  };

  const fail = (err: MultipartError) => {
    if (failure || ended) return;
    failure = err;
    refused(err);
    for (const upload of uploads?.values() ?? []) if (!upload.file) rejectUpload(upload, err);
    fileStream?.destroy(err);
    dropRest();
    settle(err);
  };

  // A client that goes on sending long after its answer is cut off, as on every route (answeredBodies.ts).
  res.once('close', () => {
    if (!ended) fail(bad('The request was answered before its body ended'));
  });
  req.on('error', (err) => fail(bad(`The request failed: ${err.message}`)));
  closeIfBodyPauses(req, res, limits.idleMs, finished);
  req.once('close', () => { if (!req.complete) fail(bad('The client disconnected before the request ended', 499)); });

  bodies.set(req, {
    finished,
    get fieldBytes() { return fieldBytes; },
    discardRest: () => fail(bad('The rest of the request was not read: the import was refused')),
  });

  try {
    parser = busboy({
      headers: req.headers,
      defParamCharset: 'utf8',
      limits: { fieldSize: limits.maxFieldBytes, fields: 2, files: 1 },
    });
  } catch (err) {
    fail(bad(`${(err as Error).message} (content-type ${req.headers['content-type']})`));
    return operationsRead;
  }

  parser.on('error', (err) => fail(bad((err as Error).message)));
  parser.on('field', (name, value, info) => {
    if (info.valueTruncated) return fail(bad(`The '${name}' part is larger than ${limits.maxFieldBytes} bytes`, 413));
    fieldBytes += Buffer.byteLength(value);
    if (name === 'operations' && !operations) {
      const result = parseOperations(value);
      if (result instanceof MultipartError) return fail(result);
      operations = result;
    } else if (name === 'map' && operations && !uploads) {
      const result = placeUploads(operations, value);
      if (result instanceof MultipartError) return fail(result);
      uploads = result;
      // With files to come, the resolver must start now to read them; a fault in what has
      // already arrived is still this request's answer. Without files, the body is read to its end first.
      const ready = operations;
      if (uploads.size > 0) setImmediate(() => { if (!failure) parsed(ready); });
    } else {
      fail(bad(`Unexpected multipart field '${name}': the parts are 'operations', then 'map', then the file (${SPEC})`));
    }
  });
  parser.on('file', (name, stream, info) => {
    stream.on('error', () => { /* its reader, if any, has its own listener; unread, it fails with the request */ });
    const upload = uploads?.get(name);
    if (!upload || upload.file) {
      stream.resume();
      return fail(bad(uploads
        ? `The file part '${name}' is not named in the map`
        : `Misordered multipart fields: files should follow 'map' (${SPEC})`));
    }
    fileStream = stream;
    stream.once('end', () => { fileStream = null; });
    let taken = false;
    const file: FileUpload = {
      fieldName: name,
      filename: info.filename as string, // undefined for a file part sent without a name
      mimetype: info.mimeType,
      encoding: info.encoding,
      createReadStream: () => {
        if (failure) throw failure;
        if (taken) throw bad('This file is already being read: one file can feed only one field');
        taken = true;
        return stream as never;
      },
    };
    (upload as unknown as { resolve(file: FileUpload): void }).resolve(file);
  });
  parser.on('filesLimit', () => fail(bad('1 max file uploads exceeded: an upload carries exactly one file', 413)));
  parser.on('fieldsLimit', () => fail(bad(`Too many multipart fields: only 'operations' and 'map' (${SPEC})`, 413)));
  parser.on('finish', () => {
    if (!operations) return fail(bad(`Missing multipart field 'operations' (${SPEC})`));
    if (!uploads) return fail(bad(`Missing multipart field 'map' (${SPEC})`));
    const missing = [...uploads.entries()].filter(([, upload]) => !upload.file).map(([name]) => name);
    if (missing.length) return fail(bad(`File missing in the request: part '${missing.join("', '")}' named in the map`));
    ended = true;
    parsed(operations);
    settle(null);
  });
  req.pipe(parser);
  return operationsRead;
}

function rejectUpload(upload: Upload, err: MultipartError): void {
  (upload as unknown as { reject(err: unknown): void }).reject(err); // its promise already has a catch
}

function parseOperations(value: string): Operations | MultipartError {
  let operations: unknown;
  try {
    operations = JSON.parse(value);
  } catch {
    return bad(`Invalid JSON in the 'operations' multipart field (${SPEC})`);
  }
  if (Array.isArray(operations)) return bad('Batched operations are not supported');
  if (!isPlainObject(operations)) return bad(`Invalid type for the 'operations' multipart field (${SPEC})`);
  return operations;
}

/** Reads the map and puts an Upload at each place it names in the operations. */
function placeUploads(operations: Operations, value: string): Map<string, Upload> | MultipartError {
  let map: unknown;
  try {
    map = JSON.parse(value);
  } catch {
    return bad(`Invalid JSON in the 'map' multipart field (${SPEC})`);
  }
  if (!isPlainObject(map)) return bad(`Invalid type for the 'map' multipart field (${SPEC})`);
  const entries = Object.entries(map);
  if (entries.length > 1) return bad('1 max file uploads exceeded: the map names more than one file', 413);
  const uploads = new Map<string, Upload>();
  for (const [name, paths] of entries) {
    if (!Array.isArray(paths) || paths.length === 0) return bad(`The 'map' entry '${name}' must be a non-empty array of object paths (${SPEC})`);
    const upload = new Upload();
    uploads.set(name, upload);
    for (const place of paths) {
      if (typeof place !== 'string' || !setAt(operations, place, upload)) {
        return bad(`Invalid object path in the 'map' entry '${name}': ${JSON.stringify(place)} names no place in the operations`);
      }
    }
  }
  return uploads;
}

/**
 * Sets `operations` at a dotted path ("variables.input.file") to `value`, through own properties
 * only, so that no path reaches a prototype. False when the path names no existing place.
 */
function setAt(operations: Operations, place: string, value: unknown): boolean {
  const keys = place.split('.');
  const last = keys.pop()!;
  let target: unknown = operations;
  for (const key of keys) {
    if (!isContainer(target) || !Object.hasOwn(target, key)) return false;
    target = (target as Record<string, unknown>)[key];
  }
  if (!isContainer(target) || !Object.hasOwn(target, last)) return false;
  (target as Record<string, unknown>)[last] = value;
  return true;
}

const isPlainObject = (value: unknown): value is Operations =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isContainer = (value: unknown): value is object => typeof value === 'object' && value !== null;
