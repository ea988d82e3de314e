/**
 * `npm run bench:parse`: the parse thread's work alone, without server or database: the real
 * readers and row pipeline turn a generated EVENTS file into binary COPY data, as an import's parse
 * thread does, once with records as bytes (the byte path where it can) and once decoded (the
 * string way for every row). It answers "did parsing get faster" without Postgres' share of the
 * CPU in the figure; `npm run bench` remains what the targets are judged by.
 *
 * Options: --rows N (1,000,000)  --repeat N (3)  --seed N (1)
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { binaryTypesOf } from '../src/db/binaryTypes.js';
import { readCsv } from '../src/parse/csvReader.js';
import { readNdjson } from '../src/parse/ndjsonReader.js';
import type { ImportFormat, RecordBatch, RecordBytes, SourceRecord } from '../src/parse/types.js';
import { getKind } from '../src/kinds/index.js';
import { copyColumnsFor, createRowPipeline } from '../src/parse/rowPipeline.js';
import { EVENT_COLUMNS, generateEvents } from './generate.js';

/** As the parse thread reads: slices of 500 records. */
const SLICE_ROWS = 500;

async function parseOnce(format: ImportFormat, file: string, asBytes: boolean): Promise<{ seconds: number; rows: number }> {
  const kind = getKind('EVENTS');
  const header = format === 'CSV' ? [...EVENT_COLUMNS] : null;
  const types = binaryTypesOf('events', copyColumnsFor({ kind, format, header }))!;
  const pipeline = createRowPipeline({
    kind, format, header, tenantId: '00000000-0000-4000-8000-000000000001', jobId: '00000000-0000-4000-8000-000000000002',
    startOffset: 0, copy: { format: 'binary', types },
  });
  const from = { path: file, offset: 0, line: 0, batchSize: SLICE_ROWS };
  const batches = (format === 'CSV'
    ? (asBytes ? readCsv({ ...from, skipHeader: true, decode: false, reuseBuffers: true }) : readCsv({ ...from, skipHeader: true }))
    : (asBytes ? readNdjson({ ...from, decode: false, reuseBuffers: true }) : readNdjson(from))) as AsyncGenerator<RecordBatch<SourceRecord | RecordBytes>>;
  const started = performance.now();
  let rows = 0;
  for await (const batch of batches) {
    const prepared = pipeline.prepare(batch);
    if (prepared.rowsFailed) throw new Error(`${prepared.rowsFailed} rows failed: ${prepared.errors[0]?.message}`);
    rows += prepared.rowsValid;
    pipeline.takeCopyData();
  }
  return { seconds: (performance.now() - started) / 1000, rows };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, repeat: { type: 'string', default: '3' }, seed: { type: 'string', default: '1' } } });
  const rows = Number(values.rows);
  const repeat = Number(values.repeat);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-parse-'));
  try {
    const csvPath = path.join(dir, 'events.csv');
    const ndjsonPath = path.join(dir, 'events.ndjson');
    await generateEvents({ rows, seed: Number(values.seed), csvPath, ndjsonPath });
    console.log(`parse thread work alone, ${rows.toLocaleString('en-US')} EVENTS rows, rows/s of ${repeat} runs each (interleaved)`);
    for (const format of ['CSV', 'NDJSON'] as const) {
      const runs: Record<'bytes' | 'strings', number[]> = { bytes: [], strings: [] };
      for (let r = 0; r < repeat; r++) {
        for (const way of ['bytes', 'strings'] as const) {
          const { seconds, rows: parsed } = await parseOnce(format, format === 'CSV' ? csvPath : ndjsonPath, way === 'bytes');
          if (parsed !== rows) throw new Error(`${format} ${way}: ${parsed} rows, ${rows} expected`);
          runs[way].push(Math.round(rows / seconds));
        }
      }
      for (const way of ['bytes', 'strings'] as const) console.log(`  ${format.padEnd(6)} ${way === 'bytes' ? 'byte path  ' : 'string way '} ${runs[way].map((n) => n.toLocaleString('en-US')).join(' / ')}`);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
