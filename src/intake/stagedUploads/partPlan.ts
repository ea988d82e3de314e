/**
 * How a staged upload's file is cut in parts. S3 wants every part but the last at least 5 MiB and
 * at most 10,000 parts; both spools cut alike, so clients have one flow everywhere. Parts are
 * numbered from 1, and part n starts at byte (n - 1) * partSize.
 */
const MiB = 1 << 20;
export const MIN_PART_BYTES = 5 * MiB;
/** Small enough that a broken connection costs little to send again, large enough for few requests. */
const PREFERRED_PART_BYTES = 8 * MiB;
export const MAX_PARTS = 10_000;

export function partSizeFor(fileSize: number): number {
  const least = Math.ceil(Math.ceil(fileSize / MAX_PARTS) / MiB) * MiB;
  return Math.max(MIN_PART_BYTES, PREFERRED_PART_BYTES, least);
}

export const partCount = (fileSize: number, partSize: number) => Math.max(1, Math.ceil(fileSize / partSize));

/** The exact length of part `n`: partSize, or what is left for the last part. */
export function partLength(fileSize: number, partSize: number, n: number): number {
  return n < partCount(fileSize, partSize) ? partSize : fileSize - (n - 1) * partSize;
}

export const partOffset = (partSize: number, n: number) => (n - 1) * partSize;

/** Part numbers 1..count that are not in `received`. */
export function missingParts(fileSize: number, partSize: number, received: Iterable<number>): number[] {
  const have = new Set(received);
  const missing: number[] = [];
  for (let n = 1; n <= partCount(fileSize, partSize); n++) if (!have.has(n)) missing.push(n);
  return missing;
}
