/**
 * The client commands: upload and revert (with a live progress bar from `jobProgress`), jobs, job, errors.
 * `--url` and `--key` fall back to BULK_IMPORT_URL and BULK_IMPORT_KEY; `--json` prints JSON for
 * scripts. Exit codes: 0 success; 1 the job failed, was cancelled, or had failed rows; 2 the
 * upload was refused (user errors) or the command could not run.
 */
import { pipeline } from 'node:stream/promises';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { BulkImportClient, type JobSnapshot } from '../client/bulkImportClient.js';
import {
  ClientJobDocument, ClientJobErrorsDocument, ClientJobsDocument, ClientRevertJobDocument,
  type ImportFormat, type ImportKind, type JobStatus, type LocationType,
} from '../generated/gql/graphql.js';
import { commandLine } from './commandName.js';

interface GlobalOptions { url: string; key?: string; json?: boolean }

function clientFrom(command: Command): { client: BulkImportClient; json: boolean } {
  const opts = command.optsWithGlobals<GlobalOptions>();
  if (!opts.key) throw new Error(`An API key is needed: --key or BULK_IMPORT_KEY (make one with ${commandLine('keys create --tenant NAME')})`);
  return { client: new BulkImportClient({ url: opts.url, key: opts.key }), json: Boolean(opts.json) };
}

const print = (text: string) => process.stdout.write(`${text}\n`);
const num = (n: number | null | undefined) => (n == null ? '-' : n.toLocaleString('en-US'));

/** The rows line: what an import wrote, what a dry run would write, what a revert undid. */
function rowsLine(job: JobSnapshot): string {
  if (job.revertOf) {
    return `  ${job.dryRun ? 'would undo' : 'undone'}: ${num(job.rowsImported)} of ${num(job.rowsProcessed)} rows`
      + `${job.rowsUpdated > 0 ? ` (${num(job.rowsUpdated)} restored)` : ''}, ${num(job.rowsFailed)} in conflict`
      + `${job.rowsUnchanged > 0 ? `, ${num(job.rowsUnchanged)} had changed nothing` : ''}`;
  }
  if (job.dryRun) {
    return `  dry run, nothing written: ${num(job.rowsProcessed)} rows checked, ${num(job.rowsProcessed - job.rowsFailed)} would be imported, ${num(job.rowsFailed)} failed`;
  }
  return `  rows: ${num(job.rowsProcessed)} processed, ${num(job.rowsImported)} imported, ${num(job.rowsFailed)} failed, ${num(job.rowsDuplicate)} duplicate`;
}

function summary(job: JobSnapshot): string {
  const records = job.rowsCreated + job.rowsUpdated + job.rowsUnchanged > 0 && !job.revertOf;
  return [
    `job ${job.id}: ${job.status}${job.revertOf ? ` (revert of ${job.revertOf.id})` : ''}${job.dryRun ? ' (dry run)' : ''}`,
    rowsLine(job),
    ...(records ? [`  records${job.dryRun ? ' it would write' : ''}: ${num(job.rowsCreated)} created, ${num(job.rowsUpdated)} updated, ${num(job.rowsUnchanged)} unchanged`] : []),
    `  time: ${job.elapsedSeconds?.toFixed(1) ?? '-'} s, ${num(job.insertRate)} rows/s`,
    ...(job.failureReason ? [`  reason: ${job.failureReason}`] : []),
    ...(job.rowsFailed > 0 ? [`  see the failed rows: ${commandLine('errors', job.id)}`] : []),
  ].join('\n');
}

/**
 * After a job is queued: prints the refusal (exit 2), or the job (with --no-wait), or follows it
 * live to its end and prints its summary.
 */
async function reportJob(
  client: BulkImportClient, result: { job?: JobSnapshot | null; userErrors: { code: string; message: string }[] }, opts: { json: boolean; wait: boolean; label: string },
): Promise<void> {
  const { job, userErrors } = result;
  const { json } = opts;
  if (!job) {
    if (json) print(JSON.stringify({ userErrors }, null, 2));
    else for (const e of userErrors) console.error(`${e.code}: ${e.message}`);
    process.exitCode = 2;
    return;
  }
  if (!opts.wait) {
    print(json ? JSON.stringify(job, null, 2) : `job ${job.id}: ${job.status}`);
    return;
  }
  if (!json) console.error(`job ${job.id} queued; following it (Ctrl-C stops watching, not the job)`);
  const bar = process.stderr.isTTY && !json
    ? new SingleBar({ format: `${opts.label.padEnd(8)} [{bar}] {percentage}% | {rows} rows | {rate} rows/s | {failed} failed | {status}`, hideCursor: true })
    : null;
  bar?.start(100, 0, { rows: 0, rate: 0, failed: 0, status: job.status });
  let lastLine = 0;
  const final = await client.follow(job.id, (snapshot) => {
    const payload = { rows: num(snapshot.rowsProcessed), rate: num(snapshot.insertRate), failed: num(snapshot.rowsFailed), status: snapshot.status };
    if (bar) bar.update(Math.floor(snapshot.percentComplete), payload);
    else if (!json && Date.now() - lastLine > 1000) {
      lastLine = Date.now();
      console.error(`${snapshot.status} ${snapshot.percentComplete.toFixed(1)}% ${payload.rows} rows ${payload.rate} rows/s ${payload.failed} failed`);
    }
  });
  bar?.stop();
  print(json ? JSON.stringify(final, null, 2) : summary(final));
  process.exitCode = exitCodeOf(final);
}

export function exitCodeOf(job: JobSnapshot): number {
  return job.status === 'COMPLETED' && job.rowsFailed === 0 ? 0 : 1;
}

export function registerClientCommands(program: Command): void {
  program
    .option('--url <url>', 'GraphQL endpoint (BULK_IMPORT_URL)', process.env.BULK_IMPORT_URL ?? 'http://localhost:4000/graphql')
    .option('--key <key>', 'API key (BULK_IMPORT_KEY)', process.env.BULK_IMPORT_KEY)
    .option('--json', 'print JSON for scripts');

  program.command('upload').description('Upload a CSV or NDJSON file, follow its import live, print a summary')
    .argument('<file>')
    .requiredOption('--kind <kind>', 'EVENTS, USER_EVENTS, USERS, ORGANISATIONS, LOCATIONS or COLLECTION')
    .option('--collection <name>', 'COLLECTION only')
    .option('--location-type <type>', 'LOCATIONS only: STATE, DISTRICT, BLOCK or CLUSTER')
    .option('--format <format>', 'CSV or NDJSON (default: from the file name, then the content)')
    .option('--dry-run', 'check every row, write nothing')
    .option('--max-errors <n>', 'fail the job once more rows than this have failed', (v) => Number.parseInt(v, 10))
    .option('--allow-duplicate-file', 'import a file even if the same one was imported before')
    .option('--no-wait', 'return once the job is queued')
    .action(async (file: string, opts: { kind: string; collection?: string; locationType?: string; format?: string; dryRun?: boolean; maxErrors?: number; allowDuplicateFile?: boolean; wait: boolean }, command: Command) => {
      const { client, json } = clientFrom(command);
      const interactive = process.stderr.isTTY && !json;
      const uploadBar = interactive ? new SingleBar({ format: 'upload   [{bar}] {percentage}% {value}/{total} bytes', hideCursor: true }) : null;
      let started = false;
      const { job, userErrors } = await client.upload(file, {
        kind: opts.kind.toUpperCase() as ImportKind,
        collection: opts.collection,
        locationType: opts.locationType?.toUpperCase() as LocationType | undefined,
        format: opts.format?.toUpperCase() as ImportFormat | undefined,
        dryRun: opts.dryRun,
        maxErrors: opts.maxErrors,
        allowDuplicateFile: opts.allowDuplicateFile,
      }, (sent, total) => {
        if (!uploadBar) return;
        if (!started) { uploadBar.start(total, 0); started = true; }
        uploadBar.update(sent);
      });
      uploadBar?.stop();
      await reportJob(client, { job, userErrors }, { json, wait: opts.wait, label: 'import' });
    });

  program.command('revert').description('Undo a completed or failed import (created records deleted, updated ones restored, appended rows deleted); follow it live')
    .argument('<id>')
    .option('--dry-run', 'tell what the revert would undo and where it would conflict, change nothing')
    .option('--force', 'also undo rows whose records a later job changed again')
    .option('--no-wait', 'return once the revert is queued')
    .action(async (id: string, opts: { dryRun?: boolean; force?: boolean; wait: boolean }, command: Command) => {
      const { client, json } = clientFrom(command);
      const { revertJob } = await client.request(ClientRevertJobDocument, { id, input: { dryRun: opts.dryRun, force: opts.force } });
      await reportJob(client, revertJob, { json, wait: opts.wait, label: 'revert' });
    });

  program.command('jobs').description("List your jobs, newest first")
    .option('--first <n>', 'page size', (v) => Number.parseInt(v, 10), 20)
    .option('--after <cursor>', 'the page after this cursor (printed under the table)')
    .option('--status <status...>', 'only these statuses')
    .option('--kind <kind...>', 'only these kinds')
    .action(async (opts: { first: number; after?: string; status?: string[]; kind?: string[] }, command: Command) => {
      const { client, json } = clientFrom(command);
      const { jobs } = await client.request(ClientJobsDocument, {
        first: opts.first,
        after: opts.after,
        filter: { status: opts.status?.map((s) => s.toUpperCase() as JobStatus), kind: opts.kind?.map((k) => k.toUpperCase() as ImportKind) },
      });
      if (json) { print(JSON.stringify(jobs, null, 2)); return; }
      const rows = jobs.edges.map(({ node: j }) => [j.id, j.kind, j.status, num(j.rowsImported), num(j.rowsFailed), `${j.percentComplete.toFixed(0)}%`, j.filename ?? '', j.createdAt]);
      const header = ['ID', 'KIND', 'STATUS', 'IMPORTED', 'FAILED', 'DONE', 'FILE', 'CREATED'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
      for (const r of [header, ...rows]) print(r.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd());
      print(`${jobs.edges.length} of ${jobs.totalCount}${jobs.pageInfo.hasNextPage ? `; next page: ${commandLine('jobs --after', jobs.pageInfo.endCursor ?? '')}` : ''}`);
    });

  program.command('job').description('Show one job').argument('<id>')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const { client, json } = clientFrom(command);
      const { job } = await client.request(ClientJobDocument, { id });
      if (!job) { console.error('Job not found'); process.exitCode = 2; return; }
      print(json ? JSON.stringify(job, null, 2) : summary(job));
    });

  program.command('errors').description("List a job's failed rows in line order: line, column, value, message").argument('<id>')
    .option('--csv', "print the job's error report (errorReportUrl): CSV of line, column, value, message, original row")
    .action(async (id: string, opts: { csv?: boolean }, command: Command) => {
      const { client, json } = clientFrom(command);
      if (opts.csv) {
        // The server's report itself, so every CSV of a job's errors has the same columns and cells.
        const { found, csv } = await client.errorReport(id);
        if (!found) { console.error('Job not found'); process.exitCode = 2; return; }
        if (csv) await pipeline(csv, process.stdout, { end: false });
        else console.error('The job has no row errors');
        return;
      }
      const all: { line: number; column?: string | null; value?: string | null; message: string }[] = [];
      let after: string | null | undefined;
      for (;;) {
        const { job } = await client.request(ClientJobErrorsDocument, { id, first: 1000, after });
        if (!job) { console.error('Job not found'); process.exitCode = 2; return; }
        all.push(...job.errors.edges.map((e) => e.node));
        if (!job.errors.pageInfo.hasNextPage) break;
        after = job.errors.pageInfo.endCursor;
      }
      if (json) print(JSON.stringify(all, null, 2));
      else for (const e of all) print(`line ${e.line}${e.column ? `, ${e.column}` : ''}${e.value != null ? ` (${JSON.stringify(e.value)})` : ''}: ${e.message}`);
    });
}
