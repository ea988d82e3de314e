/**
 * What the crash-safety tests and `npm run chaos` read straight from Postgres to prove "never lose
 * or duplicate a row": each line of the file once in `events` (events.line is the row's line in its
 * file, header = line 1), the job's counters, its lease, and sessions left in a bad state.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import postgres from 'postgres';
import { storeKey, generateKey } from '../../src/auth/apiKeys.js';

export type Sql = postgres.Sql;

export const openSql = (url: string): Sql =>
  postgres(url, { max: 2, onnotice: () => {}, connection: { application_name: 'bulk-import-chaos-check' } });

/** A new API key for `tenant`, written the way `bulk-import keys create` writes it (the server must have migrated). */
export async function createKeyIn(sql: Sql, tenant: string): Promise<string> {
  const { key, hash, prefix } = generateKey();
  await storeKey({ query: async (text, params) => (await sql.unsafe(text, (params ?? []) as never[])) as never }, tenant, hash, prefix);
  return key;
}

export interface LineCheck { count: number; distinct: number; min: number | null; max: number | null }

/** count(*), count(distinct line), min(line), max(line) of the job's events: rows, rows, 2, rows+1 when exact. */
export async function lineCheck(sql: Sql, jobId: string): Promise<LineCheck> {
  const [r] = await sql<{ count: string; distinct: string; min: string | null; max: string | null }[]>`
    select count(*) as count, count(distinct line) as distinct, min(line) as min, max(line) as max
    from events where job_id = ${jobId}`;
  return {
    count: Number(r.count),
    distinct: Number(r.distinct),
    min: r.min === null ? null : Number(r.min),
    max: r.max === null ? null : Number(r.max),
  };
}

/** The line check for the first `rows` data rows of a file: lines 2 .. rows+1, each once. */
export const exactLines = (rows: number): LineCheck =>
  rows === 0 ? { count: 0, distinct: 0, min: null, max: null } : { count: rows, distinct: rows, min: 2, max: rows + 1 };

/**
 * A checksum of content against line: sum(line * screen_width). Line numbers alone would not catch
 * a resume that started at the right line number but the wrong byte offset (rows shifted).
 */
export async function contentChecksum(sql: Sql, jobId: string): Promise<string> {
  const [r] = await sql<{ s: string | null }[]>`select coalesce(sum(line::numeric * screen_width), 0)::text as s from events where job_id = ${jobId}`;
  return r.s ?? '0';
}

/**
 * The same checksum from the CSV file itself, for its first `upToLine` lines. Only valid for files
 * whose first nine columns hold no comma or newline (bench/generate.ts and test/support/events.ts).
 */
export async function fileChecksum(csvPath: string, upToLine = Number.POSITIVE_INFINITY): Promise<{ rows: number; checksum: string }> {
  const lines = readline.createInterface({ input: fs.createReadStream(csvPath, { highWaterMark: 1 << 20 }), crlfDelay: Infinity });
  let line = 0;
  let rows = 0;
  let sum = 0n;
  let widthIndex = -1;
  for await (const text of lines) {
    line++;
    if (line === 1) {
      widthIndex = text.split(',').indexOf('screen_width');
      if (widthIndex < 0) throw new Error(`${csvPath}: no screen_width column`);
      continue;
    }
    if (line > upToLine) break;
    if (text === '') continue;
    rows++;
    const width = text.split(',', widthIndex + 1)[widthIndex];
    if (width !== '') sum += BigInt(line) * BigInt(width);
  }
  return { rows, checksum: sum.toString() };
}

export interface JobState {
  status: string;
  rows_processed: number;
  rows_imported: number;
  rows_failed: number;
  rows_total: number | null;
  attempt: number;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  checkpoint_line: number;
  checkpoint_offset: number;
  cancel_requested: boolean;
  failure_reason: string | null;
  finished_at: Date | null;
}

export async function jobState(sql: Sql, jobId: string): Promise<JobState> {
  const [row] = await sql<JobState[]>`
    select status, rows_processed, rows_imported, rows_failed, rows_total, attempt, lease_owner, lease_expires_at,
      checkpoint_line::int as checkpoint_line, checkpoint_offset::float8 as checkpoint_offset, cancel_requested,
      failure_reason, finished_at
    from import_jobs where id = ${jobId}`;
  if (!row) throw new Error(`job ${jobId} is not in import_jobs`);
  return row;
}

/** Sessions of `database` idle in an aborted transaction: what postgres.js issue #1173 leaves behind. */
export async function abortedIdleSessions(sql: Sql, database: string): Promise<number> {
  const [r] = await sql<{ n: number }[]>`
    select count(*)::int as n from pg_stat_activity
    where state = 'idle in transaction (aborted)' and datname = ${database}`;
  return r.n;
}

/**
 * Whether some session holds the job's row locked, as a runner does for the whole of a batch's
 * transaction (commitBatch starts with SELECT ... FOR UPDATE). Probed the way claimJob looks at it:
 * FOR UPDATE SKIP LOCKED, in a transaction of its own that ends at once.
 */
export async function jobRowLocked(sql: Sql, jobId: string): Promise<boolean> {
  return sql.begin(async (tx) => (await tx`select id from import_jobs where id = ${jobId} for update skip locked`).length === 0) as Promise<boolean>;
}

/** Polls `probe` until it returns something other than undefined/false; fails with `what` and the last value. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, opts: { timeoutMs?: number; intervalMs?: number; onTimeout?: () => string | Promise<string> } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${opts.timeoutMs ?? 60_000} ms waiting for ${what}${opts.onTimeout ? `\n${await opts.onTimeout()}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

/**
 * Paces the import from the database side, without touching the service: a trigger sleeps `ms`
 * when a batch moves the job's checkpoint, so once per batch, inside the batch's transaction,
 * after its COPY and while it holds the job row, just before COMMIT. It makes a 60k-row import
 * last long enough to kill it at chosen points on a fast machine, and widens the window in which
 * a kill lands between COPY and COMMIT. The pace can be changed while the import runs
 * (`setPace`); 0 turns it off.
 */
export async function installPace(sql: Sql, ms: number): Promise<void> {
  await sql.unsafe(`
    create table if not exists chaos_pace (ms int not null);
    create or replace function chaos_pace() returns trigger language plpgsql as $$
    declare pause int;
    begin
      select ms into pause from chaos_pace limit 1;
      if pause > 0 then perform pg_sleep(pause / 1000.0); end if;
      return null;
    end $$;
    drop trigger if exists chaos_pace on import_jobs;
    create trigger chaos_pace after update of checkpoint_offset on import_jobs for each row
      when (new.checkpoint_offset is distinct from old.checkpoint_offset) execute function chaos_pace();
  `);
  await setPace(sql, ms);
}

export async function setPace(sql: Sql, ms: number): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`delete from chaos_pace`;
    await tx`insert into chaos_pace (ms) values (${ms})`;
  });
}

/** The database name in a postgres:// URL. */
export const databaseName = (url: string): string => decodeURIComponent(new URL(url).pathname.slice(1));
