/**
 * The README's examples (and the importFromUrl ones, which docs/graphql.md shows), run as written
 * against the real server, so that they cannot rot.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventRow, eventsCsv, manyEvents } from './support/events.js';
import { startTestApp, type TestApp } from './support/testApp.js';
import { schema } from '../src/api/graphql/index.js';

const run = promisify(execFile);
let t: TestApp;
let key: string;
const docs = new Map<string, string>();

beforeAll(async () => {
  t = await startTestApp();
  key = (await t.clientFor('readme')).key!;
  for (const file of ['README.md', 'docs/graphql.md']) docs.set(file, await fs.readFile(file, 'utf8'));
});
afterAll(() => t?.close());

/** The code block of `file` (README.md unless given) that contains `marker`. */
function block(marker: string, file = 'README.md'): string {
  const found = [...docs.get(file)!.matchAll(/```\w*\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes(marker));
  if (!found) throw new Error(`no code block with ${marker} in ${file}`);
  return found;
}

describe('README examples', () => {
  it('the JavaScript client example is the file the README shows, and it uploads and follows a job', async () => {
    const example = await fs.readFile('examples/upload-with-progress.ts', 'utf8');
    expect(block('new BulkImportClient')).toBe(example);
    const file = path.join(t.dataDir, 'events.csv');
    await fs.writeFile(file, eventsCsv([...manyEvents(40), eventRow(40, { event_type: 'oops' })]));
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/upload-with-progress.ts', file], {
      env: { ...process.env, BULK_IMPORT_URL: t.url, BULK_IMPORT_KEY: key }, timeout: 60_000,
    });
    expect(stdout).toContain('uploaded 100%');
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('done: COMPLETED, 40 rows imported, 1 failed');
  });

  it('the importFromUrl examples of docs/graphql.md are valid against the schema (their sources are not on this machine)', () => {
    // graphql's CommonJS build, the one the schema was built with (see schema.test.ts).
    const { parse, validate } = createRequire(import.meta.url)('graphql') as typeof import('graphql');
    for (const marker of ['importFromUrl(input: { url: "https://', 'url: "s3://']) {
      expect(validate(schema, parse(block(marker, 'docs/graphql.md'))), marker).toEqual([]);
    }
  });

  it('every GraphQL block of README.md and docs/graphql.md is valid against the schema', () => {
    const { parse, validate } = createRequire(import.meta.url)('graphql') as typeof import('graphql');
    let checked = 0;
    for (const [file, text] of docs) {
      for (const [, body] of text.matchAll(/```graphql\n([\s\S]*?)```/g)) {
        expect(validate(schema, parse(body)), `${file}: ${body}`).toEqual([]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(4);
  });

  it('the curl upload works as written', async () => {
    const curl = block('curl http://localhost:4000/graphql').replace('http://localhost:4000/graphql', t.url);
    await fs.writeFile(path.join(t.dataDir, 'events.csv'), eventsCsv(manyEvents(3)));
    const { stdout } = await run('bash', ['-c', curl], { cwd: t.dataDir, env: { ...process.env, KEY: key }, timeout: 30_000 });
    expect(JSON.parse(stdout)).toMatchObject({ data: { uploadImport: { job: { status: 'QUEUED' }, userErrors: [] } } });
  });

describe('README settings', () => {
  it('lists every setting the service reads, and no setting it does not read', async () => {
    const source = await fs.readFile('src/config.ts', 'utf8');
    const read = new Set([...source.matchAll(/env(?:\.|, ')([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]));
    expect(read.size).toBeGreaterThan(30);
    const readme = docs.get('README.md')!;
    const settings = readme.slice(readme.indexOf('## Settings'), readme.indexOf('\n## ', readme.indexOf('## Settings') + 3));
    const listed = new Set([...settings.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
    expect([...read].filter((name) => !listed.has(name)).sort()).toEqual([]);
    expect([...listed].filter((name) => !read.has(name) && name !== 'NODE_ENV').sort()).toEqual([]);
  });
});

});
