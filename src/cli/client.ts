/**
 * The client commands: upload and revert (with a live progress bar from `jobProgress`), jobs, job, errors.
 * `--url` and `--key` fall back to BULK_IMPORT_URL and BULK_IMPORT_KEY; `--json` prints JSON for
 * scripts. Exit codes: 0 success; 1 the job failed, was cancelled, or had failed rows; 2 the
 * upload was refused (user errors) or the command could not run.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { BulkImportClient, STAGED_THRESHOLD_BYTES, type JobSnapshot } from '../client/bulkImportClient.js';
import {
  ClientJobDocument, ClientJobErrorsDocument, ClientJobsDocument, ClientRevertJobDocument,
  type ImportFormat, type ImportKind, type TextEncoding, type JobStatus, type LocationType,
} from '../generated/gql/graphql.js';
import { commandLine } from './commandName.js';

interface GlobalOptions { url: string; key?: string; json?: boolean }

interface UploadCommandOptions {
  kind: string; collection?: string; locationType?: string; format?: string; encoding?: string; sheet?: string; dryRun?: boolean; maxErrors?: number;
  allowDuplicateFile?: boolean; wait: boolean; staged?: boolean; resume?: boolean; parallel: number;
  delimiter?: string; map?: string[]; saveMapping?: string;
}

export function clientFrom(command: Command): { client: BulkImportClient; json: boolean } {
  const opts = command.optsWithGlobals<GlobalOptions>();
  if (!opts.key) throw new Error(`An API key is needed: --key or BULK_IMPORT_KEY (make one with ${commandLine('keys create --tenant NAME')})`);
  return { client: new BulkImportClient({ url: opts.url, key: opts.key }), json: Boolean(opts.json) };
}

export const print = (text: string) => process.stdout.write(`${text}\n`);
const num = (n: number | null | undefined) => (n == null ? '-' : n.toLocaleString('en-US'));

/** The status as a person reads it: a queued job says how many jobs are ahead of it. */
export function statusText(job: Pick<JobSnapshot, 'status' | 'queuePosition'>): string {
  if (job.status !== 'QUEUED' || job.queuePosition == null) return job.status;
  return job.queuePosition <= 1 ? 'QUEUED, next' : `QUEUED, ${job.queuePosition - 1} ahead`;
}

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
    `job ${job.id}: ${statusText(job)}${job.revertOf ? ` (revert of ${job.revertOf.id})` : ''}${job.dryRun ? ' (dry run)' : ''}`,
    rowsLine(job),
    ...(records ? [`  records${job.dryRun ? ' it would write' : ''}: ${num(job.rowsCreated)} created, ${num(job.rowsUpdated)} updated, ${num(job.rowsUnchanged)} unchanged`] : []),
    `  time: ${job.elapsedSeconds?.toFixed(1) ?? '-'} s, ${num(job.insertRate)} rows/s`,
    ...(job.failureReason ? [`  reason: ${job.failureReason}`] : []),
    ...(job.rowsFailed > 0 ? [`  see the failed rows: ${commandLine('errors', job.id)}`] : []),
  ].join('\n');
}

/** Where the CLI remembers a staged upload of `file` under way, to continue it with --resume. */
function uploadStateFile(file: string): string {
  const dir = process.env.BULK_IMPORT_STATE_DIR || path.join(os.homedir(), '.bulk-import', 'uploads');
  return path.join(dir, `${createHash('sha256').update(path.resolve(file)).digest('hex').slice(0, 32)}.json`);
}

type RowError = { line: number; column?: string | null; value?: string | null; message: string };

/** One row error as `errors` and `upload` print it: line, column (value): reason. */
const errorLine = (e: RowError) => `line ${e.line}${e.column ? `, ${e.column}` : ''}${e.value != null ? ` (${JSON.stringify(e.value)})` : ''}: ${e.message}`;

/** How many of a job's row errors `upload` prints after its summary; `errors` prints them all. */
const ERRORS_AFTER_SUMMARY = 10;

async function firstErrors(client: BulkImportClient, id: string): Promise<string[]> {
  const { job } = await client.request(ClientJobErrorsDocument, { id, first: ERRORS_AFTER_SUMMARY });
  if (!job || job.errors.edges.length === 0) return [];
  const shown = job.errors.edges.length;
  const more = job.errors.totalCount > shown ? ` (the first ${shown} of ${num(job.errors.totalCount)})` : '';
  return [`  row errors${more}:`, ...job.errors.edges.map((e) => `    ${errorLine(e.node)}`)];
}

/** `--map` values: `Phone=MOBILE PHONE` maps a column, `Notes=` ignores one. */
function columnMappingOf(pairs: string[] | undefined): { from: string; to: string | null }[] | undefined {
  return pairs?.map((pair) => {
    const at = pair.lastIndexOf('=');
    if (at <= 0) throw new Error(`--map takes FROM=TO (or FROM= to ignore a column); got ${JSON.stringify(pair)}`);
    const to = pair.slice(at + 1).trim();
    return { from: pair.slice(0, at).trim(), to: to === '' ? null : to };
  });
}

/**
 * After a job is queued: prints the refusal (exit 2; with how long a staged upload's file stays on
 * the server to be imported with --resume), or the job (with --no-wait), or follows it live to its
 * end and prints its summary and its first row errors.
 */
async function reportJob(
  client: BulkImportClient,
  result: { job?: JobSnapshot | null; userErrors: { code: string; message: string }[]; resumableUntil?: string },
  opts: { json: boolean; wait: boolean; label: string },
): Promise<void> {
  const { job, userErrors, resumableUntil } = result;
  const { json } = opts;
  if (!job) {
    if (json) print(JSON.stringify(resumableUntil ? { userErrors, resumableUntil } : { userErrors }, null, 2));
    else {
      for (const e of userErrors) console.error(`${e.code}: ${e.message}`);
      if (resumableUntil) {
        console.error(`The file stays on the server until ${resumableUntil}: run the command again with --resume (its options corrected `
          + 'if the refusal asks it) to import it without sending it again');
      }
    }
    process.exitCode = 2;
    return;
  }
  if (!opts.wait) {
    print(json ? JSON.stringify(job, null, 2) : `job ${job.id}: ${statusText(job)}`);
    return;
  }
  if (!json) console.error(`job ${job.id} queued; following it (Ctrl-C stops watching, not the job)`);
  const bar = process.stderr.isTTY && !json
    ? new SingleBar({ format: `${opts.label.padEnd(8)} [{bar}] {percentage}% | {rows} rows | {rate} rows/s | {failed} failed | {status}`, hideCursor: true })
    : null;
  bar?.start(100, 0, { rows: 0, rate: 0, failed: 0, status: statusText(job) });
  let lastLine = 0;
  let lastStatus = '';
  const final = await client.follow(job.id, (snapshot) => {
    const payload = { rows: num(snapshot.rowsProcessed), rate: num(snapshot.insertRate), failed: num(snapshot.rowsFailed), status: statusText(snapshot) };
    if (bar) bar.update(Math.floor(snapshot.percentComplete), payload);
    else if (!json && (Date.now() - lastLine > 1000 || payload.status !== lastStatus)) {
      lastLine = Date.now();
      lastStatus = payload.status;
      console.error(`${payload.status} ${snapshot.percentComplete.toFixed(1)}% ${payload.rows} rows ${payload.rate} rows/s ${payload.failed} failed`);
    }
  });
  bar?.stop();
  print(json ? JSON.stringify(final, null, 2) : summary(final));
  if (!json && final.rowsFailed > 0) for (const line of await firstErrors(client, final.id)) print(line);
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
    .option('--format <format>', 'CSV, NDJSON or XLSX (default: from the file name, then the content)')
    .option('--encoding <encoding>', 'UTF8, UTF16LE, UTF16BE, WINDOWS_1252 or ISO_8859_1 (default: UTF-8, or UTF-16 by its BOM)')
    .option('--sheet <name>', 'XLSX: the sheet to import (default: the first)')
    .option('--dry-run', 'check every row, write nothing')
    .option('--max-errors <n>', 'fail the job once more rows than this have failed', (v) => Number.parseInt(v, 10))
    .option('--allow-duplicate-file', 'import a file even if the same one was imported before')
    .option('--delimiter <char>', 'CSV: the delimiter, e.g. ";" or tab (default: detected from the header line)')
    .option('--map <FROM=TO...>', 'a column of the file (CSV or XLSX header, NDJSON key) and the kind\'s column it is (FROM= ignores it); repeatable')
    .option('--save-mapping <name>', 'save the --map mapping under this name: later files with the same header use it unasked')
    .option('--no-wait', 'return once the job is queued')
    .option('--staged', `send the file in parts (staged upload) whatever its size; files over ${STAGED_THRESHOLD_BYTES >> 20} MiB always are`)
    .option('--resume', 'continue the staged upload of this file that was interrupted (the CLI stopped or the network failed)')
    .option('--parallel <n>', 'staged upload: parts in flight at once', (v) => Number.parseInt(v, 10), 4)
    .action(async (file: string, opts: UploadCommandOptions, command: Command) => {
      const { client, json } = clientFrom(command);
      const interactive = process.stderr.isTTY && !json;
      const uploadBar = interactive ? new SingleBar({ format: 'upload   [{bar}] {percentage}% {value}/{total} bytes', hideCursor: true }) : null;
      let started = false;
      const onSent = (sent: number, total: number) => {
        if (!uploadBar) return;
        if (!started) { uploadBar.start(total, 0); started = true; }
        uploadBar.update(sent);
      };
      const options = {
        kind: opts.kind.toUpperCase() as ImportKind,
        collection: opts.collection,
        locationType: opts.locationType?.toUpperCase() as LocationType | undefined,
        format: opts.format?.toUpperCase() as ImportFormat | undefined,
        encoding: opts.encoding?.toUpperCase().replace(/-/g, '_') as TextEncoding | undefined,
        sheet: opts.sheet,
        dryRun: opts.dryRun,
        maxErrors: opts.maxErrors,
        allowDuplicateFile: opts.allowDuplicateFile,
        delimiter: opts.delimiter === 'tab' || opts.delimiter === '\\t' ? '\t' : opts.delimiter,
        columnMapping: columnMappingOf(opts.map),
        saveMappingAs: opts.saveMapping,
      };
      const staged = opts.staged || opts.resume || (await fs.promises.stat(file)).size > STAGED_THRESHOLD_BYTES;
      const stateFile = uploadStateFile(file);
      let partsSent = 0;
      const result = staged
        ? await client.uploadStaged(file, options, { stateFile, resume: opts.resume, parallel: opts.parallel, onSent, onPart: () => { partsSent++; } })
          .catch((err: Error) => {
            uploadBar?.stop();
            // Only a staged upload that began (a part arrived) has anything to resume.
            throw new Error(partsSent > 0 ? `${err.message}\nWhat arrived is kept: run the same command with --resume to send the rest` : err.message);
          })
        : await client.upload(file, options, onSent);
      const { job, userErrors } = result;
      const { resumableUntil } = result as { resumableUntil?: string }; // staged uploads only (stagedSender.ts)
      uploadBar?.stop();
      if (staged && !json) console.error(`sent ${partsSent} part(s) as a staged upload`);
      await reportJob(client, { job, userErrors, resumableUntil }, { json, wait: opts.wait, label: 'import' });
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
      const rows = jobs.edges.map(({ node: j }) => [j.id, j.kind, statusText(j), num(j.rowsImported), num(j.rowsFailed), `${j.percentComplete.toFixed(0)}%`, j.filename ?? '', j.createdAt]);
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
      const all: RowError[] = [];
      let after: string | null | undefined;
      for (;;) {
        const { job } = await client.request(ClientJobErrorsDocument, { id, first: 1000, after });
        if (!job) { console.error('Job not found'); process.exitCode = 2; return; }
        all.push(...job.errors.edges.map((e) => e.node));
        if (!job.errors.pageInfo.hasNextPage) break;
        after = job.errors.pageInfo.endCursor;
      }
      if (json) print(JSON.stringify(all, null, 2));
      else for (const e of all) print(errorLine(e));
    });
}
