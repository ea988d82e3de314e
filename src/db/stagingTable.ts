/**
 * COPY has no ON CONFLICT: rows that must be merged into a table (dedup, upserts) are COPYed into
 * a temporary twin of it first, then moved with INSERT ... SELECT ... ON CONFLICT. The twin lives
 * as long as the session and empties at each commit, so a batch pays only for its COPY.
 */
import type { CopyFormat, Transaction } from './database.js';

/**
 * COPYs `data` (rows in `columns` order) into the session's staging twin of `table`; returns the
 * twin's name. `partial`: a twin without the table's NOT NULL constraints, for upserts whose rows
 * leave some values to the stored record (NULL: keep), which the INSERT ... SELECT fills in.
 */
export async function copyIntoStaging(
  tx: Transaction, table: string, columns: readonly string[], data: string | Uint8Array, format?: CopyFormat, opts: { partial?: boolean } = {},
): Promise<string> {
  const staging = opts.partial ? `staging_${table}_partial` : `staging_${table}`;
  await tx.query(opts.partial
    ? `create temp table if not exists "${staging}" on commit delete rows as select * from "${table}" with no data`
    : `create temp table if not exists "${staging}" (like "${table}" including defaults) on commit delete rows`);
  await tx.copy(staging, columns, data, format);
  return staging;
}
