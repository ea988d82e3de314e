/**
 * The write path of the roster kinds (USERS, ORGANISATIONS, LOCATIONS), inside a batch's
 * transaction: find every record the batch's rows name in one query per kind, decide each row in
 * line order (so a row sees what earlier rows created: a parent earlier in the file), then write
 * the records with one COPY and one INSERT ... ON CONFLICT, and each row's outcome with one COPY.
 * Never a query per row. An update records what it changes and what it overwrote in its outcome;
 * a row that changes nothing is UNCHANGED and writes no record.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from '../db/database.js';
import { csvCell } from '../codecs/copyCsv.js';
import { copyIntoStaging } from '../db/stagingTable.js';
import { holdLock, LockIds } from '../db/lockIds.js';
import { insertRowOutcomes, type FieldChange } from '../jobs/rowOutcomes.js';
import { getKind } from '../kinds/index.js';
import type { ErrorSink, ImportKind, KnownRecord, RecordLookup, RowError, UpsertJob, UpsertRow } from '../kinds/types.js';
import { shown } from '../kinds/values.js';
import { isUuid } from '../jobs/jobStore.js';

export interface UpsertContext extends UpsertJob {
  tenantId: string;
  jobId: string;
  dryRun: boolean;
  /**
   * A dry run writes nothing, so a later batch would not find what an earlier one "created" (a
   * parent earlier in the file): the job's run keeps those records here, from batch to batch.
   */
  dryRunRecords?: RecordIndex;
}

export interface UpsertResult {
  created: number;
  updated: number;
  /** Rows whose values equal the stored record's: nothing written. */
  unchanged: number;
  /** Rows that named records which do not exist, or took a key another record holds. */
  errors: (RowError & { rawRow: string })[];
  rowsFailed: number;
}

/** Advisory lock namespace: one writer per tenant and roster table at a time, so decisions read what they write over. */

/** A kind's records by id and by key: loaded from the table, then kept current as rows are decided. */
export class RecordIndex implements RecordLookup {
  private readonly ids = new Map<string, KnownRecord>();
  private readonly keys = new Map<string, KnownRecord>();
  byId(id: string | null) { return id === null ? undefined : this.ids.get(id.toLowerCase()); }
  byKey(key: string | null) { return key === null ? undefined : this.keys.get(key); }
  get size() { return this.ids.size; }
  put(record: KnownRecord): void {
    const before = this.ids.get(record.id);
    // A renamed record gives up its old key, unless another record has taken that key since.
    if (before?.key != null && before.key !== record.key && this.keys.get(before.key)?.id === record.id) this.keys.delete(before.key);
    this.ids.set(record.id, record);
    if (record.key !== null) this.keys.set(record.key, record);
  }
}

/** How many records a dry run (of an import or a revert) remembers from batch to batch; past that, later batches see only the database. */
export const DRY_RUN_MEMORY = 1_000_000;

async function loadIndexes(tx: Transaction, kind: ImportKind, rows: readonly UpsertRow[], tenantId: string, dryRunRecords?: RecordIndex): Promise<Map<string, RecordIndex>> {
  const indexes = new Map<string, RecordIndex>();
  for (const lookup of kind.upsert!.lookups) {
    const target = getKind(lookup.kind);
    const rules = target.upsert!;
    const ids = new Set<string>();
    const keys = new Set<string>();
    for (const { values } of rows) {
      for (const c of lookup.idColumns) if (values[c] !== null && isUuid(values[c]!)) ids.add(values[c]!.toLowerCase());
      for (const c of lookup.keyColumns) if (values[c] !== null) keys.add(values[c]!);
    }
    const index = indexes.get(lookup.kind) ?? new RecordIndex();
    indexes.set(lookup.kind, index);
    if (ids.size === 0 && keys.size === 0) continue;
    // The kind's own records come with their values and last writer: what an update compares
    // with (UNCHANGED, its changes) and keeps for revertJob.
    const own = lookup.kind === kind.name;
    // (One column per value: the drivers' parsers of a text[] do not agree on NULL elements.)
    const found = await tx.query<{ id: string; key: string | null; type: string | null; job_id?: string; line?: number } & Record<`v${number}`, string | null>>(
      `select id::text as id, "${rules.keyColumn}" as key, ${rules.typeColumn ? `"${rules.typeColumn}"` : 'null'}::text as type
         ${own ? `, job_id::text as job_id, line::float8 as line, ${rules.columns.map((c, i) => `"${c}"::text as v${i}`).join(', ')}` : ''}
       from "${target.table}" where tenant_id = $1 and (id = any($2::uuid[]) or "${rules.keyColumn}" = any($3::text[]))`,
      [tenantId, [...ids], [...keys]],
    );
    for (const r of found) {
      index.put(own
        ? { id: r.id, key: r.key, type: r.type, values: rules.columns.map((_, i) => r[`v${i}`]), jobId: r.job_id, line: r.line }
        : r);
    }
    // A dry run's earlier batches "wrote" over the table: what they decided wins over what it holds.
    if (dryRunRecords && lookup.kind === kind.name) {
      for (const record of found) overlay(index, dryRunRecords.byId(record.id));
      for (const id of ids) overlay(index, dryRunRecords.byId(id));
      for (const key of keys) overlay(index, dryRunRecords.byKey(key));
    }
  }
  // The kind's own index exists even when no row names an existing record: created rows go there.
  if (!indexes.has(kind.name)) indexes.set(kind.name, new RecordIndex());
  return indexes;
}

function overlay(index: RecordIndex, record: KnownRecord | undefined): void {
  if (record) index.put(record);
}

/** A record as the batch finally writes it, and the key it had in the table before (undefined: a new record). */
interface FinalRecord { id: string; line: number; values: (string | null)[]; keyBefore?: string | null }

export async function upsertRows(tx: Transaction, kind: ImportKind, rows: readonly UpsertRow[], ctx: UpsertContext): Promise<UpsertResult> {
  await holdLock(tx, LockIds.ROSTER, `${ctx.tenantId}:${kind.table}`);
  const indexes = await loadIndexes(tx, kind, rows, ctx.tenantId, ctx.dryRunRecords);
  const own = indexes.get(kind.name)!;
  const { result, records, outcomes } = decideRows(kind, rows, indexes, ctx);
  if (ctx.dryRun) {
    const memory = ctx.dryRunRecords;
    for (const id of records.keys()) if (memory && memory.size < DRY_RUN_MEMORY) memory.put(own.byId(id)!);
  } else if (records.size > 0) {
    await writeRecords(tx, kind, ctx, records, own);
  }
  // A dry run keeps its outcomes too: the preview of what the real run would create and change.
  if (outcomes !== '') await insertRowOutcomes(tx, outcomes);
  return result;
}

/**
 * Decides each row in line order against the indexes, which it keeps current: the records the
 * batch finally writes (one per id, later rows' values over earlier ones'), and each row's outcome
 * as job_outcomes COPY text.
 */
function decideRows(kind: ImportKind, rows: readonly UpsertRow[], indexes: Map<string, RecordIndex>, ctx: UpsertContext) {
  const rules = kind.upsert!;
  const find = (name: string): RecordLookup => {
    const index = indexes.get(name);
    if (!index) throw new Error(`${kind.name} looks up ${name} records without declaring it in its lookups`);
    return index;
  };
  const own = indexes.get(kind.name)!;
  const result: UpsertResult = { created: 0, updated: 0, unchanged: 0, errors: [], rowsFailed: 0 };
  let current: UpsertRow;
  let failed = false;
  const fail: ErrorSink = (column, value, message) => {
    failed = true;
    result.errors.push({ line: current.line, column, value: shown(value), message, rawRow: current.raw });
  };
  const records = new Map<string, FinalRecord>();
  let outcomes = '';
  for (const row of rows) {
    current = row;
    failed = false;
    const decision = rules.decide(row, find, ctx, fail);
    if (!failed && decision && decision.key !== null) {
      const holder = own.byKey(decision.key);
      if (holder && holder.id !== decision.id) {
        const taken = rules.keyTaken(decision.key);
        fail(taken.column, decision.key, taken.message);
      }
    }
    if (failed || !decision) { result.rowsFailed++; continue; }
    const id = decision.id ?? randomUUID();
    const before = own.byId(id);
    const changes = decision.id === null ? null : changesOf(rules.columns, before?.values, decision.values);
    if (changes?.length === 0) {
      result.unchanged++;
      outcomes += `${ctx.jobId},${row.line},unchanged,${id},,,\n`;
      continue;
    }
    const earlier = records.get(id);
    // Null leaves a value as it was, in the table or as an earlier row of the batch set it.
    const values = earlier ? decision.values.map((v, i) => v ?? earlier.values[i]) : decision.values;
    records.set(id, { id, line: row.line, values, keyBefore: earlier ? earlier.keyBefore : decision.id === null ? undefined : before?.key ?? null });
    own.put({
      id, key: decision.key ?? before?.key ?? null, type: decision.type ?? before?.type ?? null,
      values: decision.values.map((v, i) => v ?? before?.values?.[i] ?? null), jobId: ctx.jobId, line: row.line,
    });
    if (changes === null) {
      result.created++;
      outcomes += `${ctx.jobId},${row.line},created,${id},,,\n`;
    } else {
      result.updated++;
      outcomes += `${ctx.jobId},${row.line},updated,${id},${csvCell(JSON.stringify(changes))},${before?.jobId ?? ''},${before?.line ?? ''}\n`;
    }
  }
  return { result, records, outcomes };
}

/**
 * What an update changes: each value it gives (null gives none) that differs from the record's as
 * it stands (stored, or as an earlier row of the job left it), with the value it replaces. Values
 * are compared as the text Postgres reads and prints, which the kinds' checks produce.
 */
export function changesOf(columns: readonly string[], current: readonly (string | null)[] | undefined, next: readonly (string | null)[]): FieldChange[] {
  const changes: FieldChange[] = [];
  for (let i = 0; i < columns.length; i++) {
    const from = current?.[i] ?? null;
    if (next[i] !== null && next[i] !== from) changes.push({ column: columns[i], from, to: next[i] });
  }
  return changes;
}

/** One COPY into the staging twin and one INSERT ... ON CONFLICT (id) for the records. */
async function writeRecords(tx: Transaction, kind: ImportKind, ctx: UpsertContext, records: Map<string, FinalRecord>, own: RecordIndex): Promise<void> {
  const rules = kind.upsert!;
  // Records that change their key give up the old one first: one INSERT checks uniqueness row by
  // row, so a new record taking a key that an updated one gives up (or two swapping keys) would
  // otherwise collide in the middle of the statement although the end state is consistent.
  const renamed = [...records.values()].filter((r) => r.keyBefore != null && own.byId(r.id)!.key !== r.keyBefore).map((r) => r.id);
  if (renamed.length > 0) {
    await tx.query(`update "${kind.table}" set "${rules.keyColumn}" = null where tenant_id = $1 and id = any($2::uuid[])`, [ctx.tenantId, renamed]);
  }
  const columns = ['id', 'tenant_id', 'job_id', 'line', ...rules.columns];
  const list = columns.map((c) => `"${c}"`).join(', ');
  let csv = '';
  for (const r of records.values()) csv += `${r.id},${ctx.tenantId},${ctx.jobId},${r.line},${r.values.map(csvCell).join(',')}\n`;
  const staging = await copyIntoStaging(tx, kind.table, columns, csv, 'csv', { partial: true });
  // A record's NULL leaves the stored value (an update's empty cell), filled in here rather than
  // in DO UPDATE: the row proposed for insertion must already meet the table's NOT NULLs.
  const select = columns.map((c) => (rules.columns.includes(c) ? `coalesce(s."${c}", t."${c}")` : `s."${c}"`)).join(', ');
  const updates = ['job_id', 'line', ...rules.columns].map((c) => `"${c}" = excluded."${c}"`).join(', ');
  await tx.query(
    `insert into "${kind.table}" (${list})
     select ${select} from "${staging}" s left join "${kind.table}" t on t.id = s.id and t.tenant_id = s.tenant_id
     order by s.line
     on conflict (id) do update set ${updates}, updated_at = now()`,
  );
}
