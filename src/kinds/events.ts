/** EVENTS: analytics events in the Userpilot import shape. Appended; the rules are in docs/kinds/events.md. */
import type { ImportKind, KindColumn, RowBytes } from './types.js';
import { absent, checkJsonObject, checkNonNegativeInt, checkTimestamp, text } from './values.js';

const EVENT_TYPE_LIST = ['identify_user', 'identify_company', 'page_view', 'track'] as const;
const EVENT_TYPES = new Set<string>(EVENT_TYPE_LIST);
const EVENT_TYPE_BYTES = EVENT_TYPE_LIST.map((t) => Buffer.from(t));
const IDENTIFY_COMPANY = EVENT_TYPE_LIST.indexOf('identify_company');
const TRACK = EVENT_TYPE_LIST.indexOf('track');
const EVENT_TYPES_MESSAGE = `event_type must be one of ${[...EVENT_TYPES].join(', ')}`;

const columns: KindColumn[] = [
  { name: 'event_type', dbColumn: 'event_type', required: true },
  { name: 'event_name', dbColumn: 'event_name' },
  { name: 'source', dbColumn: 'source' },
  { name: 'user_id', dbColumn: 'user_id' },
  { name: 'company_id', dbColumn: 'company_id' },
  { name: 'hostname', dbColumn: 'hostname' },
  { name: 'pathname', dbColumn: 'pathname' },
  { name: 'country_code', dbColumn: 'country_code' },
  { name: 'screen_width', dbColumn: 'screen_width' },
  { name: 'screen_height', dbColumn: 'screen_height' },
  { name: 'operating_system', dbColumn: 'operating_system' },
  { name: 'browser', dbColumn: 'browser' },
  { name: 'browser_language', dbColumn: 'browser_language' },
  { name: 'user_agent', dbColumn: 'user_agent' },
  { name: 'device_type', dbColumn: 'device_type' },
  { name: 'inserted_at', dbColumn: 'inserted_at', required: true },
  { name: 'metadata', dbColumn: 'metadata' },
  { name: 'event_id', dbColumn: 'event_id' },
];

const col = Object.fromEntries(columns.map((c, i) => [c.name, i])) as Record<string, number>;
const TEXT_COLUMNS = columns.map((c, i) => i).filter((i) =>
  ![col.screen_width, col.screen_height, col.inserted_at, col.metadata].includes(i));

export const events: ImportKind = {
  name: 'EVENTS',
  table: 'events',
  columns,
  dedupColumn: 'event_id',
  facetColumn: 'event_type',
  validate(values, fail) {
    const out: (string | null)[] = new Array(columns.length);
    for (const i of TEXT_COLUMNS) out[i] = text(values[i], columns[i].name, fail);

    const type = out[col.event_type];
    if (type === null) {
      if (absent(values[col.event_type])) fail('event_type', null, 'event_type is required');
    } else if (!EVENT_TYPES.has(type)) {
      fail('event_type', type, EVENT_TYPES_MESSAGE);
    } else if (type === 'identify_company') {
      if (absent(values[col.company_id])) fail('company_id', null, 'company_id is required for event_type identify_company');
    } else {
      if (absent(values[col.user_id])) fail('user_id', null, `user_id is required for event_type ${type}`);
      if (type === 'track' && absent(values[col.event_name])) fail('event_name', null, 'event_name is required for event_type track');
    }

    out[col.inserted_at] = checkTimestamp(values[col.inserted_at], 'inserted_at', fail, true);
    out[col.screen_width] = checkNonNegativeInt(values[col.screen_width], 'screen_width', fail);
    out[col.screen_height] = checkNonNegativeInt(values[col.screen_height], 'screen_height', fail);
    out[col.metadata] = checkJsonObject(values[col.metadata], 'metadata', fail) ?? '{}';
    return out;
  },
  // `validate`'s rules above, for rows that pass them with every value as written (an empty
  // metadata becomes '{}', so it is left to validate).
  passesAsWritten(row: RowBytes) {
    const type = row.oneOf(col.event_type, EVENT_TYPE_BYTES);
    if (type < 0) return false;
    if (type === IDENTIFY_COMPANY ? row.absent(col.company_id) : row.absent(col.user_id) || (type === TRACK && row.absent(col.event_name))) return false;
    return row.timestamp(col.inserted_at)
      && (row.absent(col.screen_width) || row.nonNegativeInt(col.screen_width))
      && (row.absent(col.screen_height) || row.nonNegativeInt(col.screen_height))
      && row.jsonObject(col.metadata);
  },
};
