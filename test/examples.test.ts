/**
 * The example files in examples/ import cleanly through the real upload path, in the order the
 * docs give (locations, then the organisations in them, then the users in those), and each kind's
 * page in docs/kinds/ lists exactly the columns the kind defines, so neither can drift from the code.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobErrorsDocument, UploadImportDocument, type UploadImportInput } from '../src/generated/gql/graphql.js';
import { KINDS } from '../src/kinds/index.js';
import type { GraphQLTestClient } from './support/client.js';
import { waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const ROOT = path.resolve(import.meta.dirname, '..');

type Options = Omit<UploadImportInput, 'file'>;

/** Every example file, in an order that imports them all: each file's references exist by its turn. */
const EXAMPLES: { file: string; options: Options }[] = [
  { file: 'events.csv', options: { kind: 'EVENTS' } },
  { file: 'events.ndjson', options: { kind: 'EVENTS' } },
  { file: 'user-events.csv', options: { kind: 'USER_EVENTS' } },
  { file: 'locations-state.csv', options: { kind: 'LOCATIONS', locationType: 'STATE' } },
  { file: 'locations-district.csv', options: { kind: 'LOCATIONS', locationType: 'DISTRICT' } },
  { file: 'locations-block.csv', options: { kind: 'LOCATIONS', locationType: 'BLOCK' } },
  { file: 'locations-hierarchy.csv', options: { kind: 'LOCATIONS' } },
  { file: 'organisations.csv', options: { kind: 'ORGANISATIONS' } },
  { file: 'users.csv', options: { kind: 'USERS' } },
  { file: 'collection.ndjson', options: { kind: 'COLLECTION', collection: 'purchases' } },
];

/** A kind's page: EVENTS -> docs/kinds/events.md, USER_EVENTS -> docs/kinds/user-events.md. */
const pageOf = (kind: string) => `docs/kinds/${kind.toLowerCase().replace(/_/g, '-')}.md`;

/** The data rows of an example (none of them has a line break inside a value). */
async function rowCount(file: string): Promise<number> {
  const lines = (await fs.readFile(path.join(ROOT, 'examples', file), 'utf8')).split('\n').filter((l) => l.trim() !== '');
  return file.endsWith('.csv') ? lines.length - 1 : lines.length;
}

let t: TestApp;
let client: GraphQLTestClient;

beforeAll(async () => {
  t = await startTestApp();
  client = await t.clientFor('examples');
});
afterAll(() => t?.close());

describe('examples/', () => {
  it('lists every data file of examples/ here, so none goes untested', async () => {
    const files = (await fs.readdir(path.join(ROOT, 'examples'))).filter((f) => /\.(csv|ndjson|jsonl|json)$/.test(f));
    expect(files.sort()).toEqual(EXAMPLES.map((e) => e.file).sort());
  });

  it('imports every example file over the multipart upload, in order, each row imported and none failed', async () => {
    for (const { file, options } of EXAMPLES) {
      const content = await fs.readFile(path.join(ROOT, 'examples', file));
      const { body } = await client.upload(UploadImportDocument, { input: options }, { name: file, content });
      expect(body.errors, file).toBeUndefined();
      expect(body.data!.uploadImport.userErrors, file).toEqual([]);
      const job = await waitForJob(client, body.data!.uploadImport.job!.id);
      const { job: withErrors } = await client.data(JobErrorsDocument, { id: job.id, first: 10 });
      expect(withErrors!.errors.edges.map((e) => e.node), file).toEqual([]);
      const rows = await rowCount(file);
      expect(rows, file).toBeGreaterThanOrEqual(2);
      const upserts = KINDS[options.kind].upsert ? { rowsCreated: rows, rowsUpdated: 0 } : {};
      expect(job, file).toMatchObject({ status: 'COMPLETED', rowsProcessed: rows, rowsImported: rows, rowsFailed: 0, rowsDuplicate: 0, ...upserts });
    }

    // The roster's references resolved: every user is in a school, every school in a block.
    const [linked] = await t.app.db.query<{ users: number; schools: number }>(
      `select (select count(*)::int from users where organisation_id is not null) as users,
              (select count(*)::int from organisations o join locations l on l.id = o.location_id and l.type = 'block') as schools`);
    expect(linked).toEqual({ users: await rowCount('users.csv'), schools: await rowCount('organisations.csv') });
  });
});

describe('docs/kinds/', () => {
  it('gives each example the upload options the test imports it with, the roster in the same order', async () => {
    const commands: { file: string; options: Options }[] = [];
    for (const kindName of Object.keys(KINDS)) {
      const text = await fs.readFile(path.join(ROOT, pageOf(kindName)), 'utf8');
      for (const [, file, flags] of text.matchAll(/^bulk-import upload examples\/(\S+) (.*)$/gm)) {
        const flag = (name: string) => new RegExp(`--${name} (\\S+)`).exec(flags)?.[1];
        const options: Options = { kind: flag('kind') as Options['kind'] };
        if (flag('location-type')) options.locationType = flag('location-type') as Options['locationType'];
        if (flag('collection')) options.collection = flag('collection');
        commands.push({ file, options });
      }
    }
    for (const command of commands) expect(EXAMPLES, command.file).toContainEqual(command);
    expect(new Set(commands.map((c) => c.file))).toEqual(new Set(EXAMPLES.map((e) => e.file)));
    // The locations page lists the whole roster in the order it imports.
    const roster = EXAMPLES.filter((e) => KINDS[e.options.kind].upsert).map((e) => e.file);
    const locations = await fs.readFile(path.join(ROOT, pageOf('LOCATIONS')), 'utf8');
    expect([...locations.matchAll(/^bulk-import upload examples\/(\S+)/gm)].map((m) => m[1])).toEqual(roster);
  });

  /** The rows of the table under a page's "## Columns" heading: name (in backticks) and the Required cell. */
  async function documentedColumns(page: string): Promise<{ name: string; required: string }[]> {
    const text = await fs.readFile(path.join(ROOT, page), 'utf8');
    const section = /^## Columns\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(text);
    if (!section) throw new Error(`${page} has no "## Columns" section`);
    const rows = section[1].split('\n').filter((l) => l.startsWith('|')).slice(2); // past the header and its rule
    return rows.map((row) => {
      const cells = row.split('|').slice(1, -1).map((c) => c.trim());
      const name = /^`([^`]+)`$/.exec(cells[0])?.[1];
      if (!name) throw new Error(`${page}: a column's name must be alone in backticks: ${row}`);
      return { name, required: cells[2] };
    });
  }

  for (const [kindName, kind] of Object.entries(KINDS)) {
    it(`${pageOf(kindName)} lists exactly ${kindName}'s columns, in order, with the required ones marked "yes"`, async () => {
      const documented = await documentedColumns(pageOf(kindName));
      expect(documented.map((c) => c.name)).toEqual(kind.columns.map((c) => c.name));
      for (const [i, column] of kind.columns.entries()) {
        expect(documented[i].required.startsWith('yes'), `${column.name}: Required says "${documented[i].required}"`).toBe(Boolean(column.required));
      }
    });

    it(`${pageOf(kindName)} links its example files, and the README links the page`, async () => {
      const page = await fs.readFile(path.join(ROOT, pageOf(kindName)), 'utf8');
      const files = EXAMPLES.filter((e) => e.options.kind === kindName).map((e) => e.file);
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) expect(page).toContain(`](../../examples/${file})`);
      expect(await fs.readFile(path.join(ROOT, 'README.md'), 'utf8')).toContain(`](${pageOf(kindName)})`);
    });
  }
});
