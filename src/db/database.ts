/**
 * One small interface over the two drivers the service runs on: postgres.js against a real
 * Postgres, or an embedded PGlite when no DATABASE_URL is set. Drizzle gives typed queries on
 * both; the raw `query` and `copy` exist for the bulk path, where COPY is the point.
 */
import path from 'node:path';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { schema } from './schema.js';

export type Orm = PgDatabase<PgQueryResultHKT, typeof schema>;

/** COPY's data formats the service writes: CSV text, or binary (codecs/copyBinary.ts). */
export type CopyFormat = 'csv' | 'binary';

export interface SqlExecutor {
  /** Runs one parameterised statement ($1, $2, ...) and returns its rows. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

export interface Transaction extends SqlExecutor {
  /** COPY ... FROM STDIN of `data` (rows in `columns` order, as CSV text unless `format` says binary) into `table`. */
  copy(table: string, columns: readonly string[], data: string | Uint8Array, format?: CopyFormat): Promise<void>;
}

export interface Database extends SqlExecutor {
  readonly driver: 'postgres' | 'pglite';
  readonly orm: Orm;
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  notify(channel: string, payload: string): Promise<void>;
  /** Subscribes to a NOTIFY channel; resolves to a function that unsubscribes. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export function copyStatement(table: string, columns: readonly string[], source: string, format: CopyFormat = 'csv'): string {
  const list = columns.map((c) => `"${c}"`).join(', ');
  return `COPY "${table}" (${list}) FROM ${source} WITH (FORMAT ${format})`;
}

/** Where the embedded database lives inside the data folder. */
export const pgliteFolder = (dataDir: string) => path.join(dataDir, 'pglite');
