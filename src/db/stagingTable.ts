/**
 * COPY has no ON CONFLICT: rows that must be merged into a table (dedup, upserts) are COPYed into
 * a temporary twin of it first, then moved with INSERT ... SELECT ... ON CONFLICT. The twin is
 * created by the transaction that uses it and dropped at its end: behind a transaction-mode pooler
 * the next transaction may run on another server connection, where a session-lived twin would be
 * missing, or left over with an older shape.
 */
import type { CopyFormat, Transaction } from './database.js';

/**
 * COPYs `data` (rows in `columns` order) into the transaction's staging twin of `table`; returns the
 * twin's name. `partial`: a twin without the table's NOT NULL constraints, for upserts whose rows
 * leave some values to the stored record (NULL: keep), which the INSERT ... SELECT fills in.
 */
export async function copyIntoStaging(
  tx: Transaction, table: string, columns: readonly string[], data: string | Uint8Array, format?: CopyFormat, opts: { partial?: boolean } = {},
): Promise<string> {
  const staging = opts.partial ? `staging_${table}_partial` : `staging_${table}`;
  await tx.query(opts.partial
    ? `create temp table if not exists "${staging}" on commit drop as select * from "${table}" with no data`
    : `create temp table if not exists "${staging}" (like "${table}" including defaults) on commit drop`);
  await tx.copy(staging, columns, data, format);
  return staging;
}
