/**
 * Builders for hostile upload files (test/hostileFiles.test.ts): EVENTS files as lines that a
 * test can break one at a time, seeded random bytes, and deeply nested JSON text.
 */
import { eventsCsv, eventsNdjson, type EventRow } from './events.js';

/** The lines of an EVENTS CSV (header first, no line ends): data row i is file line i + 2. */
export function csvLines(rows: EventRow[]): string[] {
  return eventsCsv(rows).split('\n').slice(0, -1);
}

/** The lines of an EVENTS NDJSON file (no line ends): row i is file line i + 1. */
export function ndjsonLines(rows: EventRow[]): string[] {
  return eventsNdjson(rows).split('\n').slice(0, -1);
}

/** One NDJSON line for an event with `metadataJson` spliced in as-is (it may be invalid or too deep for JSON.stringify). */
export function ndjsonLineWithMetadata(row: EventRow, metadataJson: string): string {
  const { metadata: _ignored, ...rest } = row;
  const head = ndjsonLines([rest])[0];
  return `${head.slice(0, -1)},"metadata":${metadataJson}}`;
}

/** Lines joined with LF, plus a final LF, as bytes. */
export const joinLines = (lines: (string | Buffer)[], eol = '\n'): Buffer =>
  Buffer.concat(lines.flatMap((l) => [typeof l === 'string' ? Buffer.from(l) : l, Buffer.from(eol)]));

/** `{"a":{"a":...1...}}`, `depth` objects deep. */
export function nestedJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** Deterministic pseudo-random bytes (mulberry32), so a failure can be replayed. */
export function seededBytes(seed: number, length: number): Buffer {
  let a = seed >>> 0;
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    out[i] = ((x ^ (x >>> 14)) >>> 0) & 0xff;
  }
  return out;
}
