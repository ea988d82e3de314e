/**
 * Which binary COPY types a table's columns have, read from the Drizzle schema. Apart from the
 * writer (copyBinary.ts) because the parse thread loads the writer and needs none of this:
 * loading drizzle-orm was most of each parse thread's start, once per import (docs/performance.md).
 */
import { getTableConfig, type PgTable } from 'drizzle-orm/pg-core';
import type { BinaryType } from '../codecs/copyBinary.js';
import { schema } from './schema.js';

/**
 * The binary types of `columns` of `table`, from the Drizzle schema the migrations are generated
 * from; null when one of them has a type the writer cannot encode (the caller then uses CSV).
 */
export function binaryTypesOf(table: string, columns: readonly string[]): BinaryType[] | null {
  const pgTable = Object.values(schema).find((t) => getTableConfig(t as PgTable).name === table) as PgTable | undefined;
  if (!pgTable) return null;
  const byName = new Map(getTableConfig(pgTable).columns.map((c) => [c.name, c]));
  const types: BinaryType[] = [];
  for (const name of columns) {
    const column = byName.get(name);
    const type = column ? binaryTypeOf(column.getSQLType()) : null;
    if (!type) return null;
    types.push(type);
  }
  return types;
}

function binaryTypeOf(sqlType: string): BinaryType | null {
  switch (sqlType) {
    case 'text': return 'text';
    case 'integer': return 'int4';
    case 'bigint': case 'bigserial': return 'int8';
    case 'boolean': return 'bool';
    case 'uuid': return 'uuid';
    case 'timestamp with time zone': return 'timestamptz';
    case 'jsonb': return 'jsonb';
    default: return null;
  }
}
