/**
 * Staged uploads on an S3 spool: a multipart upload in the store, whose parts the client PUTs to
 * presigned UploadPart URLs, so the bytes never pass through the service. Each URL is signed with
 * the part's exact Content-Length, so the store refuses a part of another size. What has arrived
 * is what the store lists (ListParts); import completes the multipart upload into the object a
 * job reads.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from '../../logger.js';
import { newObjectLocation, removeObject, type S3Spool } from '../../spool/s3Spool.js';
import { Utf8Check } from '../../spool/utf8Check.js';
import { splitObjectLocation } from '../../parse/objectChunks.js';
import { missingParts, partCount, partLength } from './partPlan.js';
import type { StagedStorage } from './stagedStorage.js';
import type { StagedUploadRow } from './stagedUploadRows.js';

/** SigV4 presigned URLs are valid for at most a week. */
const MAX_URL_SECONDS = 7 * 24 * 3600;

interface ListedPart { number: number; size: number; etag: string }

export function s3Staging(spool: S3Spool, log: Logger): StagedStorage {
  const sdk = import('@aws-sdk/client-s3');
  const where = (row: StagedUploadRow) => {
    const { bucket, key } = splitObjectLocation(row.location);
    return { Bucket: bucket, Key: key, UploadId: row.s3UploadId! };
  };

  async function listParts(row: StagedUploadRow): Promise<ListedPart[]> {
    const { ListPartsCommand } = await sdk;
    const parts: ListedPart[] = [];
    let marker: string | undefined;
    do {
      const page = await spool.client.send(new ListPartsCommand({ ...where(row), PartNumberMarker: marker }));
      for (const p of page.Parts ?? []) {
        if (p.PartNumber !== undefined && p.ETag) parts.push({ number: p.PartNumber, size: p.Size ?? 0, etag: p.ETag });
      }
      marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (marker);
    // A part of another size than its plan (signed URLs prevent it; a store might not) is as good as missing.
    return parts.filter((p) => p.number <= partCount(row.fileSize, row.partSize) && p.size === partLength(row.fileSize, row.partSize, p.number));
  }

  return {
    async begin() {
      const { CreateMultipartUploadCommand } = await sdk;
      const location = newObjectLocation(spool);
      const { bucket, key } = splitObjectLocation(location);
      const created = await spool.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      if (!created.UploadId) throw new Error('the store began a multipart upload without an UploadId');
      return { location, s3UploadId: created.UploadId };
    },
    async partUrl(row, n) {
      const [{ UploadPartCommand }, { getSignedUrl }] = await Promise.all([sdk, import('@aws-sdk/s3-request-presigner')]);
      const expiresIn = Math.max(1, Math.min(MAX_URL_SECONDS, Math.floor((row.expiresAt.getTime() - Date.now()) / 1000)));
      const command = new UploadPartCommand({ ...where(row), PartNumber: n, ContentLength: partLength(row.fileSize, row.partSize, n) });
      return getSignedUrl(spool.presignClient, command, { expiresIn, signableHeaders: new Set(['content-length']) });
    },
    async receivedParts(row) {
      if (row.completed) return Array.from({ length: partCount(row.fileSize, row.partSize) }, (_, i) => i + 1);
      return (await listParts(row)).map((p) => p.number).sort((a, b) => a - b);
    },
    async assemble(row) {
      if (row.completed) return [];
      const parts = await listParts(row);
      const missing = missingParts(row.fileSize, row.partSize, parts.map((p) => p.number));
      if (missing.length) return missing;
      const { CompleteMultipartUploadCommand } = await sdk;
      await spool.client.send(new CompleteMultipartUploadCommand({
        ...where(row),
        MultipartUpload: { Parts: parts.sort((a, b) => a.number - b.number).map((p) => ({ PartNumber: p.number, ETag: p.etag })) },
      }));
      return [];
    },
    async read(row, headBytes) {
      const { GetObjectCommand } = await sdk;
      const { bucket, key } = splitObjectLocation(row.location);
      const got = await spool.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const hash = createHash('sha256');
      const utf8 = new Utf8Check();
      const head: Buffer[] = [];
      let size = 0;
      for await (const chunk of got.Body as Readable) {
        const bytes = chunk as Buffer;
        if (size < headBytes) head.push(bytes.subarray(0, headBytes - size));
        size += bytes.length;
        hash.update(bytes);
        utf8.feed(bytes);
      }
      return { size, sha256: hash.digest('hex'), notUtf8: utf8.finish(), head: Buffer.concat(head) };
    },
    async head(row, bytes) {
      if (bytes <= 0) return Buffer.alloc(0);
      const { GetObjectCommand } = await sdk;
      const { bucket, key } = splitObjectLocation(row.location);
      // A range past the end of a shorter object is answered with the whole object (a staged file is never empty).
      const got = await spool.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${bytes - 1}` }));
      const pieces: Buffer[] = [];
      for await (const chunk of got.Body as Readable) pieces.push(chunk as Buffer);
      return Buffer.concat(pieces).subarray(0, bytes);
    },
    async open(row) {
      const { GetObjectCommand } = await sdk;
      const { bucket, key } = splitObjectLocation(row.location);
      const got = await spool.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return got.Body as Readable;
    },
    async discard(row) {
      if (!row.completed) {
        const { AbortMultipartUploadCommand } = await sdk;
        await spool.client.send(new AbortMultipartUploadCommand(where(row)))
          .catch((err: unknown) => log.warn({ err, location: row.location }, 'could not abort a staged multipart upload'));
      }
      await removeObject(spool, row.location, log);
    },
  };
}
