/**
 * An upload's bytes written into an S3 object, on the hash thread (hashThread.ts), which gets every
 * byte of the upload anyway: a multipart upload of PART_BYTES parts out of a few part buffers
 * reused for the whole upload, so neither the main thread's event loop nor its heap carries the
 * store's requests (signing, checksums, socket writes) or their buffers (docs/performance.md).
 * A file that ends within its first part is one PutObject.
 *
 * A part that fails (after the SDK's own retries) fails the upload: later bytes are refused, and
 * the multipart upload is aborted once the parts in flight are settled. The main thread then
 * removes what may be left as for any failed upload (s3Upload.ts).
 */
import type { S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { storeClientConfig } from '../parse/storeClient.js';

/** Where an upload goes, as the main thread's spool knows it (s3Spool.ts). */
export interface ObjectTarget { endpoint?: string; region: string; bucket: string; key: string }

export const PART_BYTES = 8 << 20;
/**
 * Part buffers an upload holds, each either filling or uploading: about its memory in the thread
 * (3 x 8 MiB). Two parts in flight are about as fast as four into the local radosgw (commit message).
 */
export const PART_BUFFERS = 3;

/** One client per store, kept for the thread's life: its connections are reused by later uploads. */
const clients = new Map<string, Promise<S3Client>>();
function clientFor(target: ObjectTarget): Promise<S3Client> {
  const id = `${target.endpoint ?? ''} ${target.region}`;
  let client = clients.get(id);
  if (!client) {
    // Loaded only here: the SDK is large, and a folder spool's hashes never need it.
    client = import('@aws-sdk/client-s3').then(({ S3Client }) => new S3Client(storeClientConfig(target.endpoint, target.region)));
    clients.set(id, client);
  }
  return client;
}

/**
 * A part whose CRC32 header the SDK added (and the signature covers) is signed as UNSIGNED-PAYLOAD,
 * as the SDK signs streamed uploads: the store checks the bytes against that CRC32, and neither we
 * nor the store hash each part again with SHA-256 for the signature (0.15 CPU-s each per 286 MB
 * here). Without a CRC32 (AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED) the payload hash stays.
 */
const checksumInsteadOfPayloadHash = ((next: (args: { request: unknown }) => Promise<unknown>) => (args: { request: unknown }) => {
  const headers = (args.request as { headers?: Record<string, string> }).headers;
  if (headers && 'x-amz-checksum-crc32' in headers) headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  return next(args);
  // A finalizeRequest middleware: its arguments carry the HTTP request.
}) as unknown as Parameters<UploadPartCommand['middlewareStack']['addRelativeTo']>[0];

export class ObjectUpload {
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private filling: Buffer | null = null;
  private filled = 0;
  private partsSent = 0;
  private readonly parts: { PartNumber: number; ETag: string; ChecksumCRC32?: string }[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private waitingForPart: (() => void) | null = null;
  private begun: Promise<string> | null = null;
  /** The store's error that ended the upload, if one did. */
  failure: Error | null = null;
  /** Cancels the parts in flight once the upload is given up: its answer need not wait for them. */
  private readonly givenUp = new AbortController();

  constructor(private readonly target: ObjectTarget, private readonly partBytes = PART_BYTES, private readonly partBuffers = PART_BUFFERS) {}

  /** Copies `bytes` into the parts, sending each part as it fills; resolves once all are copied (it waits for a free part buffer). */
  async add(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) {
      if (this.failure) throw this.failure;
      this.filling ??= await this.freePart();
      const n = Math.min(this.partBytes - this.filled, bytes.length - at);
      this.filling.set(bytes.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === this.partBytes) this.sendFilling();
    }
  }

  /** The object, complete: the last part and the completion, or one PutObject for a file within one part. */
  async complete(): Promise<void> {
    if (this.failure) throw this.failure;
    const { bucket: Bucket, key: Key } = this.target;
    const client = await clientFor(this.target);
    const s3 = await import('@aws-sdk/client-s3');
    if (this.partsSent === 0) {
      const body = this.filling ? this.filling.subarray(0, this.filled) : Buffer.alloc(0);
      await client.send(new s3.PutObjectCommand({ Bucket, Key, Body: body }));
      this.release();
      return;
    }
    if (this.filled > 0) this.sendFilling();
    await this.settled();
    if (this.failure) throw this.failure;
    const UploadId = await this.begun!;
    this.parts.sort((a, b) => a.PartNumber - b.PartNumber);
    await client.send(new s3.CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: this.parts } }));
    this.release();
  }

  /** Gives the upload up: once its parts in flight are settled, aborts the multipart upload (errors are left to the main thread's cleanup). */
  async abort(): Promise<void> {
    this.stop();
    await this.settled();
    const uploadId = await this.begun?.catch(() => null);
    if (uploadId) {
      const client = await clientFor(this.target);
      const { AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
      await client.send(new AbortMultipartUploadCommand({ Bucket: this.target.bucket, Key: this.target.key, UploadId: uploadId })).catch(() => {});
    }
    this.release();
  }

  /** Takes no more bytes: a caller waiting for a part buffer gets an error at once, and the parts in flight are cancelled. */
  stop(): void {
    this.failure ??= new Error('the upload was given up');
    this.givenUp.abort(this.failure);
    this.waitingForPart?.();
  }

  private async settled(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private release(): void {
    this.free.length = 0;
    this.filling = null;
  }

  /** A part buffer to fill: a free one, a new one while fewer than partBuffers exist, else the first one a finished part gives back. */
  private async freePart(): Promise<Buffer> {
    for (;;) {
      const part = this.free.pop();
      if (part) return part;
      if (this.allocated < this.partBuffers) { this.allocated++; return Buffer.allocUnsafeSlow(this.partBytes); }
      await new Promise<void>((resolve) => { this.waitingForPart = resolve; });
      this.waitingForPart = null;
      if (this.failure) throw this.failure;
    }
  }

  private sendFilling(): void {
    const part = this.filling!;
    const length = this.filled;
    this.filling = null;
    this.filled = 0;
    const PartNumber = ++this.partsSent;
    const { bucket: Bucket, key: Key } = this.target;
    const sent = (async () => {
      const client = await clientFor(this.target);
      const s3 = await import('@aws-sdk/client-s3');
      // As @aws-sdk/lib-storage does: parts carry the CRC32 the SDK adds unless told to add checksums only where required.
      this.begun ??= client.config.requestChecksumCalculation().then((when) => client.send(new s3.CreateMultipartUploadCommand({ Bucket, Key, ...(when === 'WHEN_SUPPORTED' ? { ChecksumAlgorithm: 'CRC32' } : {}) })))
        .then((r) => r.UploadId!);
      const UploadId = await this.begun;
      const command = new s3.UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: part.subarray(0, length) });
      command.middlewareStack.addRelativeTo(checksumInsteadOfPayloadHash, { relation: 'before', toMiddleware: 'httpSigningMiddleware', name: 'checksumInsteadOfPayloadHash' });
      const answer = await client.send(command, { abortSignal: this.givenUp.signal });
      if (!answer.ETag) throw new Error(`the store answered part ${PartNumber} without an ETag`);
      this.parts.push({ PartNumber, ETag: answer.ETag, ...(answer.ChecksumCRC32 ? { ChecksumCRC32: answer.ChecksumCRC32 } : {}) });
    })().catch((err: Error) => { this.failure ??= err; }).finally(() => {
      this.inFlight.delete(sent);
      this.free.push(part);
      this.waitingForPart?.();
    });
    this.inFlight.add(sent);
  }
}
