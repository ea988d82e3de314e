/**
 * COLLECTION: any JSON object per NDJSON line (or CSV row), into a named collection (Connect's
 * event import). A record whose `id` the collection already holds, or that came earlier
 * in the file, is a duplicate: skipped and counted. The collection is named by the upload.
 */
import type { ImportKind, KindColumn } from './types.js';
import { checkJsonObject, text } from './values.js';

const columns: KindColumn[] = [
  { name: 'id', dbColumn: 'record_id' },
  { name: 'data', dbColumn: 'data' },
];

export const COLLECTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export const collection: ImportKind = {
  name: 'COLLECTION',
  table: 'collection_records',
  columns,
  dedupColumn: 'id',
  dedupScope: ['tenant_id', 'collection', 'record_id'],
  jobColumns: ['collection'],
  options: [{
    name: 'collection',
    refuse: (value) => (COLLECTION_NAME.test(value ?? '') ? null : 'collection is required for COLLECTION: 1 to 64 letters, digits, _ or -'),
  }],
  fromRecord: (record, _fail, text) => [record.id, text ?? record],
  validate(values, fail) {
    return [
      text(values[0], 'id', fail),
      checkJsonObject(values[1], 'data', fail),
    ];
  },
};
