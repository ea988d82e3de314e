/** The benchmark's results: their JSON shape, the targets they are judged against, and the printed table. */
import os from 'node:os';
import type { CpuFigures } from './cpuUsage.js';

export interface ImportFigures {
  /** From the first byte of the upload to the COMPLETED event. */
  seconds: number;
  rowsPerSec: number;
  ratioToCopy: number | null;
  /** Until the upload's HTTP answer: the file is spooled and the job queued. */
  uploadSeconds: number;
  progressEvents: number;
  maxProgressGapMs: number;
  jobsLatencyP50Ms: number | null;
  jobsLatencyP99Ms: number | null;
  jobsQueries: number;
  jobsQueryErrors: number;
  /** The slowest `jobs` answer: how long it took, when it was sent (seconds into the import), and whether the upload was still arriving. */
  slowestJobsAnswer?: { ms: number; atSeconds: number; duringUpload: boolean } | null;
  /** MiB (1024 x 1024 bytes), as /proc reports it. */
  peakRssMb: number;
  /** Rows of the job found in the events table (Postgres), or the job's rowsImported (PGlite). */
  rowsVerified: number;
  status: string;
  /** Set when the import did not do what it should: failed, or wrote the wrong number of rows. */
  problem?: string;
  /** CPU-seconds of the server, the Postgres processes and this benchmark (the client), and the machine's busy share, from upload to COMPLETED. */
  cpu?: CpuFigures;
}

export interface PgliteFigures {
  rows: number;
  csvBytes: number;
  seconds: number;
  rowsPerSec: number;
  uploadSeconds: number;
  progressEvents: number;
  maxProgressGapMs: number;
  /** MiB (1024 x 1024 bytes), as /proc reports it. */
  peakRssMb: number;
  serverStartupSeconds: number;
  rowsVerified: number;
  status: string;
  problem?: string;
}

/** One import in one round: its ratio is against that round's COPY. */
export interface RoundFigures {
  seconds: number; ratioToCopy: number; uploadSeconds: number; peakRssMb: number; cpu?: CpuFigures;
  slowestJobsAnswer?: ImportFigures['slowestJobsAnswer'];
  problem?: string;
}

export interface Target { name: string; target: string; value: string; pass: boolean }

export interface BenchReport {
  /** How the files reached the service (bench/client.ts UploadMode); absent in reports from before staged uploads. */
  upload?: 'multipart' | 'staged';
  /** Who sent the counted uploads (curl for multipart); absent in reports from before curl counted. */
  countedSender?: 'curl' | 'own';
  rows: number;
  seed: number;
  csvBytes: number;
  csvBytesPerRow: number;
  ndjsonBytes: number | null;
  generateSeconds: number;
  /** Medians over the rounds (see bench/run.ts); each round as measured in `rounds`. */
  copy: { seconds: number; rowsPerSec: number };
  csv: ImportFigures;
  ndjson: ImportFigures | null;
  /** The same files sent by the project's own client, in the same rounds: reported, not judged. */
  ownClient?: { csv: ImportFigures; ndjson: ImportFigures | null };
  rounds: {
    copySeconds: number; copyCpu?: CpuFigures; csv: RoundFigures; ndjson: RoundFigures | null;
    ownClient?: { csv: RoundFigures; ndjson: RoundFigures | null };
  }[];
  /** Measured as the rounds are, and left out of every figure above but the whole run's peak RSS. */
  warmupRounds?: BenchReport['rounds'];
  serverPeakRssMb: number;
  /** After start and key creation, before any import. */
  serverIdleRssMb: number;
  rssMethod: string;
  /** Null without --pglite; only `rows` and `problem` when the embedded run could not finish. */
  pglite: PgliteFigures | { rows: number; problem: string } | null;
  /** With --embedded: the embedded default, engine by engine (embedded.ts). */
  embedded?: unknown[];
  targets: Target[];
  machine: { cpus: number; cpuModel: string; totalMemMb: number; platform: string; release: string };
  node: string;
  postgres: string;
  /** Server settings taken from the environment, when set (defaults otherwise). */
  serverEnv: Record<string, string>;
  date: string;
}

/** Nearest-rank percentile: a value that was really observed, never an interpolation. */
/** The middle value; with an even count, the mean of the two middle ones. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function machine(): BenchReport['machine'] {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemMb: Math.round(os.totalmem() / 1024 / 1024),
    platform: os.platform(),
    release: os.release(),
  };
}

/** Issue 22, item 4: ratios to `psql \copy` of the same file in the same run. */
const TARGET_CSV_RATIO = 0.9;
const TARGET_NDJSON_RATIO = 0.8;
const MOONSHOT_CSV_RATIO = 1.2;
const MOONSHOT_NDJSON_RATIO = 1.0;
const TARGET_PEAK_RSS_MB = 256;
const TARGET_JOBS_P99_MS = 100;
const TARGET_MAX_GAP_MS = 500;

export function judge(r: Pick<BenchReport, 'csv' | 'ndjson' | 'serverPeakRssMb'>): Target[] {
  const targets: Target[] = [];
  const imports: [string, ImportFigures, number][] = [['CSV', r.csv, TARGET_CSV_RATIO]];
  if (r.ndjson) imports.push(['NDJSON', r.ndjson, TARGET_NDJSON_RATIO]);
  for (const [name, f, ratio] of imports) {
    targets.push({ name: `${name} rows/s vs COPY`, target: `>= ${ratio}x`, value: `${fmt(f.ratioToCopy, 2)}x`, pass: !f.problem && (f.ratioToCopy ?? 0) >= ratio });
  }
  for (const [name, f] of imports) {
    const moonshot = name === 'CSV' ? MOONSHOT_CSV_RATIO : MOONSHOT_NDJSON_RATIO;
    targets.push({ name: `${name} rows/s vs COPY (moonshot)`, target: `>= ${moonshot}x`, value: `${fmt(f.ratioToCopy, 2)}x`, pass: !f.problem && (f.ratioToCopy ?? 0) >= moonshot });
  }
  targets.push({ name: 'server peak RSS', target: `<= ${TARGET_PEAK_RSS_MB} MiB`, value: `${fmt(r.serverPeakRssMb, 0)} MiB`, pass: r.serverPeakRssMb <= TARGET_PEAK_RSS_MB });
  for (const [name, f] of imports) {
    targets.push({ name: `${name} jobs p99 latency`, target: `<= ${TARGET_JOBS_P99_MS} ms`, value: `${fmt(f.jobsLatencyP99Ms, 1)} ms`, pass: f.jobsLatencyP99Ms !== null && f.jobsLatencyP99Ms <= TARGET_JOBS_P99_MS && f.jobsQueryErrors === 0 });
  }
  for (const [name, f] of imports) {
    targets.push({ name: `${name} max progress gap`, target: `<= ${TARGET_MAX_GAP_MS} ms`, value: `${fmt(f.maxProgressGapMs, 0)} ms`, pass: f.maxProgressGapMs <= TARGET_MAX_GAP_MS });
  }
  return targets;
}

export function fmt(value: number | null | undefined, digits: number): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function render(r: BenchReport): string {
  // Files in decimal MB, as file sizes are usually given; memory in MiB (1024 x 1024), as /proc and top count it.
  const mb = (bytes: number) => `${fmt(bytes / 1e6, 1)} MB`;
  const out: string[] = [];
  out.push(`Bulk-import benchmark, ${r.date}`);
  out.push(`machine: ${r.machine.cpus} x ${r.machine.cpuModel}, ${fmt(r.machine.totalMemMb / 1024, 1)} GB RAM; node ${r.node}; Postgres ${r.postgres}`);
  out.push(`data: ${fmt(r.rows, 0)} EVENTS rows (seed ${r.seed}); CSV ${mb(r.csvBytes)} (${fmt(r.csvBytesPerRow, 1)} B/row)`
    + `${r.ndjsonBytes !== null ? `, NDJSON ${mb(r.ndjsonBytes)}` : ''}; generated in ${fmt(r.generateSeconds, 1)} s`);
  if (Object.keys(r.serverEnv).length) out.push(`server env: ${Object.entries(r.serverEnv).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  out.push('');

  const importRow = (name: string, f: ImportFigures): string[] => [
    name, fmt(f.seconds, 2), fmt(f.rowsPerSec, 0), fmt(f.ratioToCopy, 2), fmt(f.uploadSeconds, 2), String(f.progressEvents),
    fmt(f.maxProgressGapMs, 0), `${fmt(f.jobsLatencyP50Ms, 1)} / ${fmt(f.jobsLatencyP99Ms, 1)}`, fmt(f.peakRssMb, 0),
    f.problem ? `FAILED: ${f.problem}` : `${f.status}, ${fmt(f.rowsVerified, 0)} rows checked`,
  ];
  const by = r.upload === 'staged' ? 'staged upload' : r.countedSender === 'curl' ? 'upload, curl' : 'upload';
  const rows: string[][] = [
    ['psql \\copy into twin', fmt(r.copy.seconds, 2), fmt(r.copy.rowsPerSec, 0), '1.00', '-', '-', '-', '-', '-', 'baseline'],
    importRow(`CSV ${by}`, r.csv),
  ];
  if (r.ndjson) rows.push(importRow(`NDJSON ${by}`, r.ndjson));
  if (r.ownClient) {
    rows.push(importRow('CSV upload, own client', r.ownClient.csv));
    if (r.ownClient.ndjson) rows.push(importRow('NDJSON upload, own client', r.ownClient.ndjson));
  }
  if (r.pglite && !('seconds' in r.pglite)) {
    rows.push([`PGlite CSV (${fmt(r.pglite.rows, 0)})`, '-', '-', '-', '-', '-', '-', '-', '-', `FAILED: ${r.pglite.problem}`]);
  } else if (r.pglite) {
    const p = r.pglite;
    rows.push([`PGlite CSV (${fmt(p.rows, 0)})`, fmt(p.seconds, 2), fmt(p.rowsPerSec, 0), '-', fmt(p.uploadSeconds, 2), String(p.progressEvents),
      fmt(p.maxProgressGapMs, 0), '-', fmt(p.peakRssMb, 0), p.problem ? `FAILED: ${p.problem}` : `${p.status}, ${fmt(p.rowsVerified, 0)} rows imported`]);
  }
  out.push(table(['path', 'seconds', 'rows/s', 'x COPY', 'upload s', 'progress', 'max gap ms', 'jobs p50 / p99 ms', 'peak RSS MiB', 'check'], rows));
  if (r.rounds.length > 1) {
    out.push('');
    out.push(`${r.rounds.length} rounds: seconds, rows/s, x COPY and upload s are medians of the rounds; max gap, p99 and peak RSS the worst round`);
    const each = (get: (round: BenchReport['rounds'][number]) => string) => r.rounds.map(get).join(' / ');
    out.push(`  COPY s:            ${each((x) => fmt(x.copySeconds, 2))}`);
    out.push(`  CSV s (x COPY):    ${each((x) => `${fmt(x.csv.seconds, 2)} (${fmt(x.csv.ratioToCopy, 2)}x)`)}`);
    if (r.ndjson) out.push(`  NDJSON s (x COPY): ${each((x) => (x.ndjson ? `${fmt(x.ndjson.seconds, 2)} (${fmt(x.ndjson.ratioToCopy, 2)}x)` : '-'))}`);
    if (r.ownClient) {
      const own = (f: RoundFigures | null | undefined) => (f ? `${fmt(f.seconds, 2)} (${fmt(f.ratioToCopy, 2)}x)` : '-');
      out.push(`  own client CSV, NDJSON s (x COPY): ${each((x) => `${own(x.ownClient?.csv)}, ${own(x.ownClient?.ndjson)}`)}`);
    }
    out.push(`  peak RSS MiB (CSV, NDJSON): ${each((x) => `${fmt(x.csv.peakRssMb, 0)}, ${x.ndjson ? fmt(x.ndjson.peakRssMb, 0) : '-'}`)}`);
    const cpu = (c: CpuFigures | undefined) => (c ? `${fmt(c.serverS, 1)}+${fmt(c.postgresS, 1)}+${fmt(c.clientS, 1)} s, ${fmt(c.machineBusy * 100, 0)}%` : '-');
    out.push(`  CPU server+postgres+client, machine busy (COPY): ${each((x) => cpu(x.copyCpu))}`);
    out.push(`  CPU server+postgres+client, machine busy (CSV): ${each((x) => cpu(x.csv.cpu))}`);
    if (r.ndjson) out.push(`  CPU server+postgres+client, machine busy (NDJSON): ${each((x) => cpu(x.ndjson?.cpu))}`);
    const slowest = (s: ImportFigures['slowestJobsAnswer'] | undefined) => (s ? `${fmt(s.ms, 0)} ms at ${fmt(s.atSeconds, 1)} s${s.duringUpload ? ' (upload)' : ''}` : '-');
    out.push(`  slowest jobs answer (CSV, NDJSON): ${each((x) => `${slowest(x.csv.slowestJobsAnswer)}, ${slowest(x.ndjson?.slowestJobsAnswer)}`)}`);
  }
  for (const [i, w] of (r.warmupRounds ?? []).entries()) {
    const ratio = (f: RoundFigures | null) => (!f ? '-' : f.problem ? `FAILED: ${f.problem}`
      : `${fmt(f.seconds, 2)} s (${fmt(f.ratioToCopy, 2)}x, upload ${fmt(f.uploadSeconds, 2)} s)`);
    out.push(`warm-up round ${i + 1}, not counted: COPY ${fmt(w.copySeconds, 2)} s, CSV ${ratio(w.csv)}, NDJSON ${ratio(w.ndjson)}`);
  }
  out.push('');
  out.push(`server RSS (Postgres mode): peak ${fmt(r.serverPeakRssMb, 0)} MiB over the whole run (warm-up included: the target judges this), ${fmt(r.serverIdleRssMb, 0)} MiB idle before the imports`);
  out.push(`  measured as: ${r.rssMethod}, of the server process itself (node dist/main.js)`);
  if (r.pglite && 'seconds' in r.pglite) out.push(`PGlite server: started in ${fmt(r.pglite.serverStartupSeconds, 1)} s (new data folder); its memory (a WASM heap) is not judged`);
  out.push('');
  out.push(table(['target', 'wanted', 'measured', 'result'], r.targets.map((t) => [t.name, t.target, t.value, t.pass ? 'PASS' : 'FAIL'])));
  return out.join('\n');
}
