/**
 * LOCATIONS: the Sunbird location hierarchy, state > district > block > cluster,
 * upserted on `code`. The type is given for the whole upload (`locationType`), as in the seed; a
 * file may instead carry a `type` column, which is what lets a parent appear earlier in the same
 * file. Every type but state needs a parent of the type one level up, found by parentCode or
 * parentId in the database or among the file's earlier rows.
 */
import type { ErrorSink, ImportKind, KindColumn, RecordLookup, UpsertRules } from './types.js';
import { oneOf, requiredText, text } from './values.js';
import { normalizeColumnName } from './columns.js';

export const LOCATION_TYPES = ['state', 'district', 'block', 'cluster'] as const;
const PARENT_TYPE: Record<string, string | undefined> = { district: 'state', block: 'district', cluster: 'block' };

const columns: KindColumn[] = [
  { name: 'code', dbColumn: 'code', required: true },
  { name: 'name', dbColumn: 'name', required: true },
  { name: 'parentCode', dbColumn: 'parent_code' },
  { name: 'parentId', dbColumn: 'parent_id' },
  { name: 'type', dbColumn: 'type' },
];
const CODE = 0, NAME = 1, PARENT_CODE = 2, PARENT_ID = 3, TYPE = 4;

/** The parent a row names, checked: it exists, parentCode and parentId agree, and it is one level up. */
function findParent(values: (string | null)[], type: string, locations: RecordLookup, fail: ErrorSink): string | null {
  const [parentCode, parentId] = [values[PARENT_CODE], values[PARENT_ID]];
  const wanted = PARENT_TYPE[type];
  if (!wanted) {
    if (parentCode !== null || parentId !== null) fail(parentCode !== null ? 'parentCode' : 'parentId', parentCode ?? parentId, 'a state is the top of the hierarchy and has no parent');
    return null;
  }
  if (parentCode === null && parentId === null) {
    fail('parentCode', null, `a ${type} needs a parent ${wanted}: give parentCode or parentId`);
    return null;
  }
  const byCode = parentCode !== null ? locations.byKey(parentCode) : undefined;
  const byId = parentId !== null ? locations.byId(parentId) : undefined;
  const missing = (column: string, value: string) =>
    fail(column, value, `${column} "${value}" does not name a location of this tenant (in the database or earlier in the file)`);
  if (parentCode !== null && !byCode) { missing('parentCode', parentCode); return null; }
  if (parentId !== null && !byId) { missing('parentId', parentId); return null; }
  if (byCode && byId && byCode.id !== byId.id) {
    fail('parentId', parentId, `parentId and parentCode name different locations ("${parentCode}" is ${byCode.id})`);
    return null;
  }
  const parent = (byCode ?? byId)!;
  if (parent.type !== wanted) {
    const [column, value] = byCode ? ['parentCode', parentCode] : ['parentId', parentId];
    fail(column, value, `the parent of a ${type} must be a ${wanted}, but "${value}" is a ${parent.type}`);
    return null;
  }
  return parent.id;
}

const upsert: UpsertRules = {
  columns: ['code', 'name', 'type', 'parent_id'],
  keyColumn: 'code',
  references: [{ column: 'parent_id', kind: 'LOCATIONS' }],
  typeColumn: 'type',
  keyTaken: (code) => ({ column: 'code', message: `code "${code}" already belongs to another location` }),
  lookups: [{ kind: 'LOCATIONS', idColumns: [PARENT_ID], keyColumns: [CODE, PARENT_CODE] }],
  decide(row, find, job, fail) {
    const { values } = row;
    const type = values[TYPE] ?? job.locationType;
    if (type === null) {
      fail('type', null, 'type is required: give locationType for the upload or a type column');
      return null;
    }
    if (job.locationType !== null && type !== job.locationType) {
      fail('type', type, `type ${type} differs from the upload's locationType ${job.locationType.toUpperCase()}`);
      return null;
    }
    const locations = find('LOCATIONS');
    const parentId = findParent(values, type, locations, fail);
    const existing = locations.byKey(values[CODE]);
    if (existing && existing.type !== type) {
      fail('code', values[CODE], `location "${values[CODE]}" is already a ${existing.type}, not a ${type}`);
      return null;
    }
    if (parentId === null && type !== 'state') return null;
    return { id: existing?.id ?? null, key: values[CODE], type, values: [values[CODE], values[NAME], type, parentId] };
  },
};

export const locations: ImportKind = {
  name: 'LOCATIONS',
  table: 'locations',
  columns,
  facetColumn: 'type',
  upsert,
  options: [{
    name: 'locationType',
    // GraphQL's LocationType enum has already checked the value.
    refuse: () => null,
    refuseWithout: (columns) => (columns.some((name) => normalizeColumnName(name) === 'type')
      ? null : 'LOCATIONS needs locationType (STATE, DISTRICT, BLOCK or CLUSTER), or a type column in the file'),
    stored: (value) => value.toLowerCase(),
  }],
  validate(values, fail) {
    return [
      requiredText(values[CODE], 'code', fail),
      requiredText(values[NAME], 'name', fail),
      text(values[PARENT_CODE], 'parentCode', fail),
      text(values[PARENT_ID], 'parentId', fail),
      oneOf(values[TYPE], 'type', LOCATION_TYPES, fail),
    ];
  },
};
