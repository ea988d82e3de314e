/**
 * `npx tsx bench/decodeCost.ts [--rows N]`: what normalising a file at intake costs
 * (intake/fileDecoding.ts), in CPU seconds of this process (all its threads: zlib inflates on
 * libuv's pool) per file, for a generated EVENTS CSV and NDJSON:
 *   plain     a UTF-8 file as it comes (the peek at its first bytes, then the bytes passed on)
 *   utf8      the spool's UTF-8 check, as the hash thread runs it (spool/utf8Check.ts)
 *   gzip      the same file gzipped: inflated, counted, the bytes sent hashed
 *   utf16     the same file in UTF-16 LE with a BOM: decoded to UTF-8
 * CPU time rather than wall time, so a busy machine skews it less; still, run it on a quiet one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import { decodeArrival } from '../src/intake/fileDecoding.js';
import { Utf8Check } from '../src/spool/utf8Check.js';
import { generateEvents } from './generate.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '300000' } } });
const rows = Number(values.rows);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'decode-cost-'));

async function drain(stream: Readable): Promise<number> {
  let n = 0;
  for await (const chunk of stream) n += (chunk as Buffer).length;
  return n;
}

async function cpu(run: () => Promise<unknown>): Promise<number> {
  const before = process.cpuUsage();
  await run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

// Text files only: nothing is kept on disk while they are decoded (no workbook's scratch file).
const scratch = { file: (part: string) => path.join(dir, part), hold: async () => true, release: () => {} };
const opts = { filename: null, maxFileSize: 8 * 2 ** 30, maxUncompressedSize: 32 * 2 ** 30, maxXlsxSharedStrings: 256 << 20, scratch };
const chunks = (file: string) => fs.createReadStream(file, { highWaterMark: 1 << 20 });

try {
  const files = await generateEvents({ rows, seed: 7, csvPath: path.join(dir, 'e.csv'), ndjsonPath: path.join(dir, 'e.ndjson') });
  for (const [name, file] of [['CSV', files.csvPath!], ['NDJSON', files.ndjsonPath!]] as const) {
    const bytes = fs.statSync(file).size;
    const gz = `${file}.gz`;
    fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(file), { level: 6 }));
    const utf16 = `${file}.utf16`;
    fs.writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(fs.readFileSync(file, 'utf8'), 'utf16le')]));
    const readOnly = await cpu(() => drain(chunks(file)));
    const plain = await cpu(async () => { const d = await decodeArrival(chunks(file), opts); if (d.ok) await drain(d.stream); });
    const utf8 = await cpu(async () => { const c = new Utf8Check(false); for await (const p of chunks(file)) c.feed(p as Buffer); c.finish(); });
    const gzip = await cpu(async () => { const d = await decodeArrival(chunks(gz), opts); if (d.ok) { await drain(d.stream); d.sentSha256?.(); } });
    const fromUtf16 = await cpu(async () => { const d = await decodeArrival(chunks(utf16), opts); if (d.ok) await drain(d.stream); });
    const mb = (n: number) => (n / 1e6).toFixed(0);
    console.log(`${name}: ${rows} rows, ${mb(bytes)} MB (gzip ${mb(fs.statSync(gz).size)} MB). CPU s: reading alone ${readOnly.toFixed(2)}, `
      + `plain ${plain.toFixed(2)}, UTF-8 check ${utf8.toFixed(2)}, gzip ${gzip.toFixed(2)}, UTF-16 ${fromUtf16.toFixed(2)}`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
