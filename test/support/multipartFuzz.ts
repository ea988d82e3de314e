/**
 * Random damage to well-formed GraphQL multipart bodies, for test/uploadCrash.test.ts: bytes
 * flipped, deleted, repeated, cut off, and pieces inserted that mean something to a multipart
 * parser (line ends, dashes, the boundary, a part head, control bytes, quotes).
 */
import fc from 'fast-check';
import { print } from 'graphql';
import { UploadImportDocument } from '../../src/generated/gql/graphql.js';
import { BOUNDARY, closing, fileHead, part, uploadMap } from './multipart.js';

const uploadOperations = (input: Record<string, unknown>) =>
  JSON.stringify({ query: print(UploadImportDocument), variables: { input: { kind: 'EVENTS', ...input, file: null } } });

/** A CSV the EVENTS kind refuses once it is spooled (SCHEMA_MISMATCH): its whole body is parsed, and no job is made. */
const REFUSED_CSV = 'colour,size\nred,1\nblue,2\n';

/** Well-formed bodies to start from: an upload read to its end, a query with no files, a file whose name needs care. */
export const SEEDS: Buffer[] = [
  part('operations', uploadOperations({ allowDuplicateFile: true })) + part('map', uploadMap) + fileHead('0', 'a.csv') + REFUSED_CSV + '\r\n' + closing(),
  part('operations', JSON.stringify({ query: '{ __typename }' })) + part('map', '{}') + closing(),
  part('operations', uploadOperations({ dryRun: true, allowDuplicateFile: true })) + part('map', uploadMap)
    + fileHead('0', 'r\u00e9sum\u00e9 \\"q\\".csv') + REFUSED_CSV + '\r\n' + closing(),
].map((body) => Buffer.from(body));

/** Pieces a parser gives meaning to. */
const MEANINGFUL = [
  '\r\n', '\r\n\r\n', '\r', '\n', '--', `--${BOUNDARY}`, `\r\n--${BOUNDARY}\r\n`, `--${BOUNDARY}--`, '\0', '\x01', '\x7f', '\xff',
  '"', ':', ';', '=', 'Content-Disposition: form-data; name="0"; filename="x.csv"\r\n\r\n',
  'Content-Disposition: form-data; name="map"\r\n\r\n', 'bogus header line\r\n', 'filename*=utf-8\'\'%ZZ', 'x'.repeat(17_000),
].map((text) => Buffer.from(text, 'latin1'));

export type Damage =
  | { kind: 'flip'; at: number; byte: number }
  | { kind: 'insert'; at: number; piece: number }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'repeat'; at: number; length: number }
  | { kind: 'cut'; at: number };

/**
 * Positions are fractions of the body's length, so one damage applies to any body; spread evenly
 * (fast-check's default bias would put most of them at the very start).
 */
const position = fc.noBias(fc.nat({ max: 9999 })).map((n) => n / 10_000);

export const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: position, piece: fc.nat({ max: MEANINGFUL.length - 1 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('repeat' as const), at: position, length: fc.integer({ min: 1, max: 200 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: position }),
);

export function applyDamage(body: Buffer, d: Damage): Buffer {
  const at = Math.floor(d.at * body.length);
  switch (d.kind) {
    case 'flip': {
      const copy = Buffer.from(body);
      if (copy.length) copy[at] = d.byte;
      return copy;
    }
    case 'insert': return Buffer.concat([body.subarray(0, at), MEANINGFUL[d.piece], body.subarray(at)]);
    case 'delete': return Buffer.concat([body.subarray(0, at), body.subarray(at + d.length)]);
    case 'repeat': return Buffer.concat([body.subarray(0, at + d.length), body.subarray(at)]);
    case 'cut': return body.subarray(0, at);
  }
}

export interface DamagedRequest {
  seed: number;
  damages: Damage[];
  /** Sent without Content-Length, in pieces cut at these fractions of the body. */
  chunkedAt: number[] | null;
}

export const damagedRequest: fc.Arbitrary<DamagedRequest> = fc.record({
  seed: fc.nat({ max: SEEDS.length - 1 }),
  damages: fc.array(damage, { minLength: 1, maxLength: 4 }),
  chunkedAt: fc.option(fc.array(position, { minLength: 1, maxLength: 4 }), { freq: 4 }),
});

export function damagedBody(request: DamagedRequest): Buffer {
  return request.damages.reduce(applyDamage, SEEDS[request.seed]);
}

/** The body in the pieces a request sends it in. */
export function piecesOf(request: DamagedRequest, body: Buffer): Buffer[] {
  if (!request.chunkedAt) return [body];
  const cuts = [...new Set(request.chunkedAt.map((f) => Math.floor(f * body.length)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, body.length]) {
    if (cut > from) pieces.push(body.subarray(from, cut));
    from = Math.max(from, cut);
  }
  return pieces.length ? pieces : [body];
}
