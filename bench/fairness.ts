/**
 * `npm run bench -- --scenario fairness` (issue 22): two tenants' big imports and a third
 * tenant's small upload on one server with its default settings (two runners, JOB_SLICE_MS).
 *
 *   generate two CSVs of --rows (1,000,000) and one of --small-rows (1,000) -> fresh database ->
 *   server child process (as `npm start` runs it) -> three tenants' keys -> --rounds (3) rounds of:
 *   - one after the other: tenant A's import, then tenant B's (the fresh server's first imports count)
 *   - together: A's and B's files again, uploaded at once; --small-after-s (1) seconds after both
 *     run, tenant C's small file; each tenant's rows_processed sampled every 250 ms from the database
 *   odd rounds one after the other first, even rounds together first (the tables keep their rows,
 *   so neither way always meets the smaller table); `jobs` queried every 100 ms throughout;
 *   every import's rows counted in `events`.
 * Every upload is sent by curl (its own multipart boundary), as the README's example sends it.
 *   -> JSON (--out) and an SVG plot of rows/s over time per tenant in round 1 (--plot); --server-log
 *      FILE keeps the server's log at info (when each job started, made way, resumed, completed).
 *
 * Reported: the small upload's wait (from the upload's answer to COMPLETED; the worst round's),
 * the combined rows/s of the two big imports together against one after the other (per round,
 * where both ways meet the host in the same minutes, and their median), and the `jobs` p99.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createApiKey, startJobsPoller } from './client.js';
import type { Sql } from './database.js';
import { generateEvents } from './generate.js';
import { lineChartSvg, type Series } from './plot.js';
import { machine, median, percentile } from './report.js';
import { importByCurl, runScenario, wholeNumber, type CurlImport } from './scenario.js';

const log = (message: string) => console.error(`[bench fairness] ${message}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SAMPLE_MS = 250;
const TENANTS = { a: 'fair-a', b: 'fair-b', c: 'fair-c' } as const;
const COLORS: Record<string, string> = { 'fair-a': '#1f77b4', 'fair-b': '#ff7f0e', 'fair-c': '#2ca02c' };

function options() {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      rows: { type: 'string', default: '1000000' },
      'small-rows': { type: 'string', default: '1000' },
      'small-after-s': { type: 'string', default: '1' },
      rounds: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string', default: 'bench/out/fairness.json' },
      plot: { type: 'string', default: 'bench/out/fairness.svg' },
      'timeout-min': { type: 'string', default: '30' },
      'server-log': { type: 'string' },
    },
  });
  const n = wholeNumber;
  const seconds = (name: string, raw: string) => {
    const v = Number(raw);
    if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number of seconds, got "${raw}"`);
    return v;
  };
  return {
    rows: n('rows', values.rows!), smallRows: n('small-rows', values['small-rows']!), smallAfterMs: seconds('small-after-s', values['small-after-s']!) * 1000,
    seed: n('seed', values.seed!), rounds: n('rounds', values.rounds!), out: path.resolve(values.out!), plot: path.resolve(values.plot!), timeoutMs: n('timeout-min', values['timeout-min']!) * 60_000,
    serverLog: values['server-log'] ? path.resolve(values['server-log']) : undefined,
  };
}

/** Every SAMPLE_MS, each tenant's rows processed by the jobs created since `since`. */
function startSampler(pg: Sql, since: Date) {
  const samples: { atMs: number; rows: Record<string, number> }[] = [];
  const started = performance.now();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const rows = await pg<{ name: string; rows: string }[]>`
        select t.name, sum(j.rows_processed) as rows from import_jobs j join tenants t on t.id = j.tenant_id
        where j.created_at >= ${since} group by t.name`;
      samples.push({ atMs: performance.now() - started, rows: Object.fromEntries(rows.map((r) => [r.name, Number(r.rows)])) });
      await sleep(SAMPLE_MS);
    }
  })();
  return { started, async stop() { stopped = true; await loop; return samples; } };
}

/** Rows/s over this window: a batch (20,000 rows) commits at once, so a window must hold several (a job commits 5-10 a second on a quiet machine). */
const RATE_WINDOW_MS = 1000;

/** rows/s per tenant over RATE_WINDOW_MS, at each sample. */
function rateSeries(samples: { atMs: number; rows: Record<string, number> }[]): Series[] {
  const window = Math.max(1, Math.round(RATE_WINDOW_MS / SAMPLE_MS));
  return Object.values(TENANTS).map((name) => {
    const points: [number, number][] = [];
    for (let i = window; i < samples.length; i++) {
      const a = samples[i - window];
      const b = samples[i];
      const rate = ((b.rows[name] ?? 0) - (a.rows[name] ?? 0)) / ((b.atMs - a.atMs) / 1000);
      points.push([b.atMs / 1000, Math.max(0, rate)]);
    }
    return { name: `tenant ${name}`, color: COLORS[name], points };
  });
}

export async function runFairness(): Promise<number> {
  const opts = options();
  let file = (name: string) => name;
  return runScenario({
    name: 'fair', serverLog: opts.serverLog, log,
    prepare: async (workDir) => {
      log(`generating 2 x ${opts.rows.toLocaleString('en-US')} rows and ${opts.smallRows.toLocaleString('en-US')} rows in ${workDir}`);
      file = (name: string) => path.join(workDir, `${name}.csv`);
      await generateEvents({ rows: opts.rows, seed: opts.seed, csvPath: file('a') });
      await generateEvents({ rows: opts.rows, seed: opts.seed + 1, csvPath: file('b') });
      await generateEvents({ rows: opts.smallRows, seed: opts.seed + 2, csvPath: file('c') });
    },
  }, async (run) => {
    const { server, pg, env } = run;
    const keys = { a: await createApiKey(env, TENANTS.a), b: await createApiKey(env, TENANTS.b), c: await createApiKey(env, TENANTS.c) };
    const imported = new Set<string>();
    const importOne = (key: string, tenant: string, name: string, rows: number) => {
      const again = imported.has(name);
      imported.add(name);
      return importByCurl(run, { key, tenant, file: file(name), rows, timeoutMs: opts.timeoutMs, again });
    };
    // `jobs` is asked every 100 ms through every phase of every round, as a console would.
    const poller = await startJobsPoller({ url: server.url, key: keys.c, intervalMs: 100 });

    const oneAfterTheOther = async (round: number) => {
      log(`round ${round}/${opts.rounds}: one after the other: A, then B`);
      const imports = [await importOne(keys.a, TENANTS.a, 'a', opts.rows), await importOne(keys.b, TENANTS.b, 'b', opts.rows)];
      return { seconds: imports[0].seconds + imports[1].seconds, imports };
    };
    const together = async (round: number) => {
      log(`round ${round}/${opts.rounds}: together: A and B, and C's ${opts.smallRows} rows ${opts.smallAfterMs / 1000} s after both run`);
      const [{ now }] = await pg<{ now: Date }[]>`select now()`;
      const sampler = startSampler(pg, now);
      const bigs = Promise.all([importOne(keys.a, TENANTS.a, 'a', opts.rows), importOne(keys.b, TENANTS.b, 'b', opts.rows)]);
      // Both have begun (a job handed back is QUEUED again, with rows behind it), whatever the runners' count.
      const begun = async () => (await pg<{ n: number }[]>`
        select count(*)::int as n from import_jobs where created_at >= ${now} and (status <> 'QUEUED' or rows_processed > 0)`)[0].n;
      while ((await begun()) < 2) await sleep(100);
      await sleep(opts.smallAfterMs);
      const smallUploadAt = (performance.now() - sampler.started) / 1000;
      const small = await importOne(keys.c, TENANTS.c, 'c', opts.smallRows);
      const smallWaitMs = performance.now() - small.answeredAt;
      const imports = await bigs;
      return { seconds: Math.max(...imports.map((t) => t.seconds)), imports, small, smallWaitMs, smallUploadAt, samples: await sampler.stop() };
    };

    // Odd rounds run the two big imports one after the other first, even rounds together first:
    // the tables keep their rows, so neither way always meets the smaller table.
    const rounds = [];
    for (let round = 1; round <= opts.rounds; round++) {
      let sequential: Awaited<ReturnType<typeof oneAfterTheOther>>;
      let shared: Awaited<ReturnType<typeof together>>;
      if (round % 2 === 1) { sequential = await oneAfterTheOther(round); shared = await together(round); } else { shared = await together(round); sequential = await oneAfterTheOther(round); }
      const ratio = sequential.seconds / shared.seconds;
      log(`round ${round}/${opts.rounds}: one after the other ${sequential.seconds.toFixed(1)} s, together ${shared.seconds.toFixed(1)} s (${ratio.toFixed(2)}x), C done ${(shared.smallWaitMs / 1000).toFixed(2)} s after its upload`);
      rounds.push({ round, sequential, together: shared, ratio });
    }
    const jobs = await poller.stop();

    const figures = ({ answeredAt: _a, ...i }: CurlImport) => i;
    const rowsPerSec = (seconds: number) => (2 * opts.rows) / seconds;
    const worstWait = rounds.reduce((w, r) => (r.together.smallWaitMs > w.together.smallWaitMs ? r : w));
    const plotted = rounds[0].together;
    const report = {
      scenario: 'fairness',
      rows: opts.rows, smallRows: opts.smallRows, rounds: opts.rounds,
      // The worst-served tenant is what this scenario judges: the longest of the rounds' waits.
      smallWaitMs: worstWait.together.smallWaitMs,
      // Each round's two ways ran minutes apart at most, on the same host: their ratio is taken per round, then the median.
      combinedVsSequential: median(rounds.map((r) => r.ratio)),
      jobsP99Ms: percentile(jobs.latenciesMs, 99), jobsQueries: jobs.latenciesMs.length, jobsErrors: jobs.errors,
      perRound: rounds.map((r) => ({
        round: r.round, combinedVsSequential: r.ratio,
        sequential: { seconds: r.sequential.seconds, rowsPerSec: rowsPerSec(r.sequential.seconds), imports: r.sequential.imports.map(figures) },
        together: { seconds: r.together.seconds, rowsPerSec: rowsPerSec(r.together.seconds), imports: r.together.imports.map(figures) },
        small: { ...figures(r.together.small), uploadSeconds: r.together.small.seconds - r.together.smallWaitMs / 1000, waitMs: r.together.smallWaitMs },
      })),
      targets: {
        smallWaitMs: '<= 2000', combinedVsSequential: '>= 0.9', jobsP99Ms: '<= 100',
      },
      plotted: { round: 1, samples: plotted.samples, smallUploadAt: plotted.smallUploadAt },
      machine: machine(), loadAverage: os.loadavg(), node: process.version, date: new Date().toISOString(),
    };
    const svg = lineChartSvg({
      title: `Rows/s per tenant: two ${opts.rows.toLocaleString('en-US')}-row imports and a ${opts.smallRows.toLocaleString('en-US')}-row one`,
      xLabel: 'seconds since the big uploads began (round 1)', yLabel: `rows/s (${RATE_WINDOW_MS / 1000} s window)`,
      series: rateSeries(plotted.samples),
      markers: [{ x: plotted.smallUploadAt, label: `C uploads (done ${(plotted.smallWaitMs / 1000).toFixed(1)} s later)` }],
    });
    await fs.mkdir(path.dirname(opts.out), { recursive: true });
    await fs.writeFile(opts.out, `${JSON.stringify(report, null, 2)}\n`);
    await fs.mkdir(path.dirname(opts.plot), { recursive: true });
    await fs.writeFile(opts.plot, svg);
    const s1 = (n: number) => n.toFixed(1);
    console.log([
      `small upload (${opts.smallRows} rows): completed ${rounds.map((r) => (r.together.smallWaitMs / 1000).toFixed(2)).join(' / ')} s after its upload's answer (worst ${(report.smallWaitMs / 1000).toFixed(2)} s; target <= 2 s)`,
      `one after the other: ${rounds.map((r) => s1(r.sequential.seconds)).join(' / ')} s`,
      `together:            ${rounds.map((r) => s1(r.together.seconds)).join(' / ')} s`,
      `together x one after the other: ${rounds.map((r) => r.ratio.toFixed(2)).join(' / ')}, median ${report.combinedVsSequential.toFixed(2)}x (target >= 0.9x)`,
      `jobs p99: ${report.jobsP99Ms?.toFixed(0)} ms over ${jobs.latenciesMs.length} queries in every phase, ${jobs.errors} errors (target <= 100 ms)`,
      `load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`,
      `written to ${path.relative(process.cwd(), opts.out)} and ${path.relative(process.cwd(), opts.plot)}`,
    ].join('\n'));
    return 0;
  });
}
