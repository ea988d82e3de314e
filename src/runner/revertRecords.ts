/**
 * Reverting an import of a roster kind (USERS, ORGANISATIONS, LOCATIONS) from its outcomes,
 * last line first: an UPDATED row gets back the values it overwrote (its `changes`' from) and the
 * job and line that had written the record before it; a CREATED row's record is deleted; an
 * UNCHANGED row wrote nothing. Undone in that order, several rows of the import on one record
 * leave it exactly as it was before the import.
 *
 * A row is undone only while its record is as the row left it (written by this import, at this
 * line). Otherwise a later job changed the record again: a conflict, reported as the row's error
 * and left as it is, unless the revert is forced. A record the import created is not deleted
 * while a record the revert leaves points to it (a later job's user at a school the import
 * created), forced or not: the import's rows never point to a missing record, and neither does a
 * revert. A key the import moved away from a record is given back only if no record that stays
 * holds it, forced or not: one a later job wrote, or one the import created that is kept so
 * (its row and those it blocks are decided again, knowing it stays); otherwise that row is
 * reported and left as it is, since the table allows one record per key.
 *
 * The cursor is the lowest line undone (0: none yet). Each batch decides its rows in memory, then
 * writes with one DELETE and one UPDATE; a dry run keeps what it "undid" in memory instead.
 */
import type { Transaction } from '../db/database.js';
import { holdLock, LockIds } from '../db/lockIds.js';
import { jobGlobalId } from '../jobs/globalIds.js';
import { listJobOutcomesBackwards, type JobOutcome } from '../jobs/rowOutcomes.js';
import { getKind, KINDS } from '../kinds/index.js';
import type { RevertContext, UndoneBatch, UndoStep } from './revertSteps.js';
import { DRY_RUN_MEMORY } from './upsertRows.js';

/** A record as the revert finds it, then as its decisions leave it. */
interface RecordState { exists: boolean; jobId: string; line: number; key: string | null }

/** An updated record's values to put back (by table column), and the writer it goes back to. */
interface Restore { id: string; values: Record<string, string | null>; jobId: string | null; line: number | null }

/** What a batch decided: its counts and row errors, the records to delete and the values to put back. */
interface Decisions { done: UndoneBatch; deletes: Set<string>; restores: Map<string, Restore> }

export function rosterUndo({ revert, original, batchSize }: RevertContext): UndoStep {
  const kind = getKind(original.kind);
  const rules = kind.upsert!;
  const keyName = kind.columns.find((c) => c.dbColumn === rules.keyColumn)?.name ?? rules.keyColumn;
  const dryRunMemory = revert.dryRun ? new Map<string, RecordState>() : null;

  /**
   * Decides the batch's rows, last line first, on copies of the records' states: `kept` names the
   * created records that stay because a record that stays points to them (with its kind).
   */
  function decide(
    outcomes: readonly JobOutcome[], loaded: ReadonlyMap<string, RecordState>, loadedHolders: ReadonlyMap<string, string>, kept: ReadonlyMap<string, string>,
  ): { states: Map<string, RecordState>; decisions: Decisions } {
    const states = new Map([...loaded].map(([id, s]) => [id, { ...s }]));
    const holders = new Map(loadedHolders);
    const done: UndoneBatch = { cursor: outcomes.at(-1)!.line, processed: outcomes.length, undone: 0, restored: 0, unchanged: 0, errors: [] };
    const fail = (o: JobOutcome, message: string) => done.errors.push({ line: o.line, column: null, value: o.recordId, message, rawRow: '' });
    const deletes = new Set<string>();
    const restores = new Map<string, Restore>();
    const release = (s: RecordState, id: string) => { if (s.key !== null && holders.get(s.key) === id) holders.delete(s.key); };

    for (const o of outcomes) {
      if (o.outcome === 'unchanged') { done.unchanged++; continue; }
      const s = states.get(o.recordId);
      if (!s?.exists) { fail(o, `Record ${o.recordId} no longer exists: nothing to undo`); continue; }
      if (!(s.jobId === original.id && s.line === o.line) && !revert.revertForce) {
        fail(o, `Record ${o.recordId} was changed after this row by job ${jobGlobalId(s.jobId)}; left as it is (revert with force to undo it anyway)`);
        continue;
      }
      if (o.outcome === 'created') {
        const referrer = kept.get(o.recordId);
        // Kept, it keeps its key too: the rows before it see that key held.
        if (referrer !== undefined) {
          fail(o, `Record ${o.recordId} is still referenced by a record of ${referrer} that stays; left as it is, forced or not`);
          continue;
        }
        deletes.add(o.recordId);
        restores.delete(o.recordId);
        release(s, o.recordId);
        s.exists = false;
        done.undone++;
        continue;
      }
      const keyChange = o.changes?.find((c) => c.column === rules.keyColumn);
      const holder = keyChange?.from != null ? holders.get(keyChange.from) : undefined;
      if (holder !== undefined && holder !== o.recordId) {
        fail(o, `Record ${o.recordId} cannot get back ${keyName} "${keyChange!.from}": record ${holder} holds it and stays; this row is left as it is`);
        continue;
      }
      const restore = restores.get(o.recordId) ?? { id: o.recordId, values: {}, jobId: null, line: null };
      for (const c of o.changes ?? []) restore.values[c.column] = c.from;
      restore.jobId = o.previousJobId;
      restore.line = o.previousLine;
      restores.set(o.recordId, restore);
      if (keyChange) {
        release(s, o.recordId);
        s.key = keyChange.from;
        if (s.key !== null) holders.set(s.key, o.recordId);
      }
      s.jobId = o.previousJobId ?? s.jobId;
      s.line = o.previousLine ?? s.line;
      done.undone++;
      done.restored++;
    }
    done.errors.sort((a, b) => b.line - a.line);
    return { states, decisions: { done, deletes, restores } };
  }

  return async (tx: Transaction, cursor: number): Promise<UndoneBatch | null> => {
    const outcomes = await listJobOutcomesBackwards(tx, original.id, { beforeLine: cursor === 0 ? Number.MAX_SAFE_INTEGER : cursor, limit: batchSize });
    if (outcomes.length === 0) return null;
    // The same lock as the import's batches: no upsert changes these records while they are decided.
    await holdLock(tx, LockIds.ROSTER, `${original.tenantId}:${kind.table}`);
    const loaded = await loadStates(tx, kind.table, rules.keyColumn, original.tenantId, outcomes, dryRunMemory);
    // A created record found still referenced stays, and with it the key it holds: the rows are
    // decided again knowing it, so that no record is given back a key a kept record holds (which
    // can keep more records, pointed to by those that now stay: until nothing changes).
    const kept = new Map<string, string>();
    let decided = decide(outcomes, loaded.states, loaded.holders, kept);
    for (;;) {
      const found = await stillReferenced(tx, kind.name, original.tenantId, decided.decisions.deletes, dryRunMemory);
      if (found.size === 0) break;
      for (const [id, referrer] of found) kept.set(id, referrer);
      decided = decide(outcomes, loaded.states, loaded.holders, kept);
    }
    const { states, decisions: { done, deletes, restores } } = decided;
    if (dryRunMemory) {
      for (const [id, s] of states) if (dryRunMemory.size < DRY_RUN_MEMORY || dryRunMemory.has(id)) dryRunMemory.set(id, s);
    }
    else await writeUndo(tx, kind.table, rules.keyColumn, rules.columns, original.tenantId, deletes, restores);
    return done;
  };
}

/**
 * The records the batch's outcomes name, and those holding the keys it may give back, by id; and
 * who holds each of those keys. A dry run's earlier batches "undid" some of them: that wins.
 */
async function loadStates(
  tx: Transaction, table: string, keyColumn: string, tenantId: string, outcomes: readonly JobOutcome[], memory: Map<string, RecordState> | null,
) {
  const ids = new Set<string>();
  const keys = new Set<string>();
  for (const o of outcomes) {
    if (o.outcome === 'unchanged') continue;
    ids.add(o.recordId);
    for (const c of o.changes ?? []) if (c.column === keyColumn && c.from !== null) keys.add(c.from);
  }
  const rows = await tx.query<{ id: string; job_id: string; line: number; key: string | null }>(
    `select id::text as id, job_id::text as job_id, line::float8 as line, "${keyColumn}" as key from "${table}"
     where tenant_id = $1 and (id = any($2::uuid[]) or "${keyColumn}" = any($3::text[]))`,
    [tenantId, [...ids], [...keys]],
  );
  const states = new Map<string, RecordState>();
  for (const r of rows) states.set(r.id, { exists: true, jobId: r.job_id, line: Number(r.line), key: r.key });
  if (memory) for (const id of ids) { const s = memory.get(id); if (s) states.set(id, { ...s }); }
  const holders = new Map<string, string>();
  for (const [id, s] of states) if (s.exists && s.key !== null) holders.set(s.key, id);
  return { states, holders };
}

async function writeUndo(
  tx: Transaction, table: string, keyColumn: string, columns: readonly string[], tenantId: string,
  deletes: Set<string>, restores: Map<string, Restore>,
): Promise<void> {
  if (deletes.size > 0) await tx.query(`delete from "${table}" where tenant_id = $1 and id = any($2::uuid[])`, [tenantId, [...deletes]]);
  if (restores.size === 0) return;
  // Keys given back give up the ones they hold first: one UPDATE checks uniqueness row by row,
  // so two records swapping keys would collide halfway although the end state is consistent.
  const rekeyed = [...restores.values()].filter((r) => keyColumn in r.values).map((r) => r.id);
  if (rekeyed.length > 0) await tx.query(`update "${table}" set "${keyColumn}" = null where tenant_id = $1 and id = any($2::uuid[])`, [tenantId, rekeyed]);
  const sets = columns.map((c) => `"${c}" = case when v.c ? '${c}' then (v.r)."${c}" else t."${c}" end`).join(', ');
  await tx.query(
    `update "${table}" t set ${sets}, job_id = coalesce(v.job_id, t.job_id), line = coalesce(v.line, t.line), updated_at = now()
     from (select x.id, x.c, x.job_id, x.line, jsonb_populate_record(null::"${table}", x.c) as r
           from jsonb_to_recordset($2::jsonb) as x(id uuid, c jsonb, job_id uuid, line bigint)) v
     where t.tenant_id = $1 and t.id = v.id`,
    [tenantId, JSON.stringify([...restores.values()].map((r) => ({ id: r.id, c: r.values, job_id: r.jobId, line: r.line })))],
  );
}

/**
 * Of the records the batch would delete, those a record that stays points to, with that record's
 * kind: pointed to by a record of another job, by a record this revert leaves (a conflict), or by
 * one it keeps for this very reason (a district of a kept state's), found round after round.
 * A dry run deleted nothing: a record of the kind's own table that its memory says is gone points
 * to nothing.
 */
async function stillReferenced(
  tx: Transaction, kindName: string, tenantId: string, deletes: ReadonlySet<string>, memory: Map<string, RecordState> | null,
): Promise<Map<string, string>> {
  const own = getKind(kindName).table;
  const referrers = Object.values(KINDS).flatMap((k) => (k.upsert?.references ?? [])
    .filter((r) => r.kind === kindName).map((r) => ({ kind: k.name, table: k.table, column: r.column })));
  const kept = new Map<string, string>();
  if (referrers.length === 0 || deletes.size === 0) return kept;
  const going = new Set(deletes);
  for (;;) {
    const candidates = [...going];
    let found = false;
    for (const r of referrers) {
      // Another kind's records are never deleted by this revert; the kind's own are, by this batch
      // (`going`) or, in a dry run, by its earlier batches (the memory).
      const rows = r.table === own
        ? (await tx.query<{ id: string; ref: string }>(
          `select id::text as id, "${r.column}"::text as ref from "${r.table}"
           where tenant_id = $1 and "${r.column}" = any($2::uuid[]) and not (id = any($2::uuid[]))`,
          [tenantId, candidates],
        )).filter((row) => memory?.get(row.id)?.exists !== false)
        : await tx.query<{ ref: string }>(
          `select distinct "${r.column}"::text as ref from "${r.table}" where tenant_id = $1 and "${r.column}" = any($2::uuid[])`,
          [tenantId, candidates],
        );
      for (const { ref } of rows) {
        if (!going.delete(ref)) continue;
        kept.set(ref, r.kind);
        found = true;
      }
    }
    if (!found || going.size === 0) return kept;
  }
}
