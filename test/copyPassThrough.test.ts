/**
 * Large COPY data goes to the Postgres socket as a stand-in that the socket swaps back for the data
 * (db/copyPassThrough.ts). What must hold: every byte arrives, in order, in the COPY it was written
 * to, also when two transactions COPY at once; and a COPY that Postgres refuses leaves nothing
 * behind.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.js';
import { openDatabase } from '../src/db/openDatabase.js';
import { PASS_THROUGH_MIN_BYTES, standInsWaiting } from '../src/db/copyPassThrough.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './support/database.js';

const run = requirePostgres('COPY data passed through to the Postgres socket (postgres.js only)');

/**
 * `rows` CSV rows (id from `firstId`, text) whose texts hold quotes, commas, newlines, non-ASCII
 * and bytes like a CopyData header ('d').
 */
function csvRows(rows: number, salt: string, firstId = 0): { csv: Buffer; digest: string } {
  const texts: string[] = [];
  let csv = '';
  for (let i = 0; i < rows; i++) {
    const text = `${salt}-${i} d\u0001\u0002\u0003\u0014 "q", ünï\n${'x'.repeat(i % 97)}`;
    texts.push(text);
    csv += `${firstId + i},"${text.replace(/"/g, '""')}"\n`;
  }
  return { csv: Buffer.from(csv), digest: createHash('md5').update(texts.join('|')).digest('hex') };
}

describe.runIf(run)('COPY data passed through to the socket', () => {
  let testDb: TestDatabase;
  let db: Database;
  let dir: string;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'copy-pass-through-'));
    db = await openDatabase({ databaseUrl: testDb.url, databaseDirectUrl: testDb.directUrl, dataDir: dir });
    await db.query('create table copied (id int primary key, body text not null check (body not like \'refuse%\'))');
    await db.query('create table copied_too (id int primary key, body text not null)');
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const digestOf = async (table: string) => {
    const rows = await db.query<{ body: string }>(`select body from ${table} order by id`);
    return createHash('md5').update(rows.map((r) => r.body).join('|')).digest('hex');
  };

  it('delivers every byte of MBs of data, into the COPY each was written to, with two transactions at once', async () => {
    const one = csvRows(20_000, 'one');
    const two = csvRows(15_000, 'two');
    expect(one.csv.length).toBeGreaterThan(PASS_THROUGH_MIN_BYTES * 10);
    await Promise.all([
      db.transaction((tx) => tx.copy('copied', ['id', 'body'], one.csv)),
      db.transaction((tx) => tx.copy('copied_too', ['id', 'body'], two.csv)),
    ]);
    expect(await digestOf('copied')).toBe(one.digest);
    expect(await digestOf('copied_too')).toBe(two.digest);
    expect(standInsWaiting()).toBe(0);
  });

  it('reports a COPY that Postgres refuses, keeps none of its rows, and holds on to none of its data', async () => {
    const before = await db.query<{ n: number }>('select count(*)::int as n from copied');
    const bad = Buffer.concat([csvRows(5_000, 'late', 100_000).csv, Buffer.from('999999,refuse me\n')]);
    await expect(db.transaction((tx) => tx.copy('copied', ['id', 'body'], bad))).rejects.toThrow(/check constraint/);
    expect(await db.query<{ n: number }>('select count(*)::int as n from copied')).toEqual(before);
    expect(standInsWaiting()).toBe(0);
    // The connection is fine afterwards: the next COPY goes through.
    const next = csvRows(3_000, 'next', 200_000);
    await db.transaction((tx) => tx.copy('copied_too', ['id', 'body'], next.csv));
    expect((await db.query<{ n: number }>('select count(*)::int as n from copied_too where id >= 200000'))[0].n).toBe(3_000);
  });
});
