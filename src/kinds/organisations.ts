/**
 * ORGANISATIONS: Sunbird's schools. A row with SCHOOL ID updates that organisation;
 * otherwise it is created, or updated when its EXTERNAL ID is already known (upsert on external
 * id). BLOCK CODE must name a location of type block.
 */
import { recordToUpdate, type ImportKind, type KindColumn, type UpsertRules } from './types.js';
import { absent, oneOf, requiredText, text } from './values.js';

const columns: KindColumn[] = [
  { name: 'SCHOOL NAME', dbColumn: 'name', required: true },
  { name: 'BLOCK CODE', dbColumn: 'location_id' },
  { name: 'SCHOOL ID', dbColumn: 'id' },
  { name: 'EXTERNAL ID', dbColumn: 'external_id' },
  { name: 'STATUS', dbColumn: 'status', required: true },
  { name: 'DESCRIPTION', dbColumn: 'description' },
];
const NAME = 0, BLOCK_CODE = 1, SCHOOL_ID = 2, EXTERNAL_ID = 3, STATUS = 4, DESCRIPTION = 5;

const upsert: UpsertRules = {
  columns: ['name', 'external_id', 'status', 'description', 'location_id'],
  keyColumn: 'external_id',
  references: [{ column: 'location_id', kind: 'LOCATIONS' }],
  keyTaken: (id) => ({ column: 'EXTERNAL ID', message: `EXTERNAL ID "${id}" already belongs to another organisation` }),
  lookups: [
    { kind: 'ORGANISATIONS', idColumns: [SCHOOL_ID], keyColumns: [EXTERNAL_ID] },
    { kind: 'LOCATIONS', idColumns: [], keyColumns: [BLOCK_CODE] },
  ],
  decide({ values }, find, _job, fail) {
    let locationId: string | null = null;
    const blockCode = values[BLOCK_CODE];
    if (blockCode !== null) {
      const block = find('LOCATIONS').byKey(blockCode);
      if (!block) fail('BLOCK CODE', blockCode, `BLOCK CODE "${blockCode}" does not name a location of this tenant`);
      else if (block.type !== 'block') fail('BLOCK CODE', blockCode, `BLOCK CODE "${blockCode}" is a ${block.type}, not a block`);
      else locationId = block.id;
    }
    const id = recordToUpdate(find('ORGANISATIONS'), { column: 'SCHOOL ID', id: values[SCHOOL_ID], noun: 'an organisation' }, values[EXTERNAL_ID], fail);
    return {
      id,
      key: values[EXTERNAL_ID],
      values: [values[NAME], values[EXTERNAL_ID], values[STATUS], values[DESCRIPTION], locationId],
    };
  },
};

export const organisations: ImportKind = {
  name: 'ORGANISATIONS',
  table: 'organisations',
  columns,
  facetColumn: 'STATUS',
  upsert,
  validate(values, fail) {
    if (absent(values[STATUS])) fail('STATUS', null, 'STATUS is required');
    const status = oneOf(values[STATUS], 'STATUS', ['active', 'inactive'], fail);
    return [
      requiredText(values[NAME], 'SCHOOL NAME', fail),
      text(values[BLOCK_CODE], 'BLOCK CODE', fail),
      text(values[SCHOOL_ID], 'SCHOOL ID', fail),
      text(values[EXTERNAL_ID], 'EXTERNAL ID', fail),
      status,
      text(values[DESCRIPTION], 'DESCRIPTION', fail),
    ];
  },
};
