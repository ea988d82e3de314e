/**
 * USER_EVENTS: learning interactions in the standard shape of knowledge-tracing logs. Appended;
 * an event_id the tenant already has makes the row a duplicate. A finished job's facets give its
 * course_ids, and rowsImported is its number of user events.
 */
import type { ImportKind, KindColumn } from './types.js';
import { absent, checkTimestamp, text } from './values.js';

const columns: KindColumn[] = [
  { name: 'user_id', dbColumn: 'user_id', required: true },
  { name: 'course_id', dbColumn: 'course_id', required: true },
  { name: 'question_id', dbColumn: 'question_id', required: true },
  { name: 'skill_id', dbColumn: 'skill_id' },
  { name: 'correct', dbColumn: 'correct', required: true },
  { name: 'timestamp', dbColumn: 'timestamp', required: true },
  { name: 'response_time_ms', dbColumn: 'response_time_ms' },
  { name: 'attempt', dbColumn: 'attempt' },
  { name: 'event_id', dbColumn: 'event_id' },
];

const col = Object.fromEntries(columns.map((c, i) => [c.name, i])) as Record<string, number>;
const REQUIRED_TEXT = [col.user_id, col.course_id, col.question_id];
const CORRECT: Record<string, string> = { 0: 'false', 1: 'true', false: 'false', true: 'true' };

/** An integer at least `min`, as text; absent stays null. */
function intAtLeast(value: unknown, column: string, min: number, fail: Parameters<ImportKind['validate']>[1]): string | null {
  if (value === undefined || value === null || value === '') return null;
  const s = typeof value === 'number' ? String(value) : value;
  if (typeof s !== 'string' || !/^\d{1,10}$/.test(s) || Number(s) < min || Number(s) > 2_147_483_647) {
    fail(column, value, `${column} must be an integer of at least ${min}`);
    return null;
  }
  return s;
}

export const userEvents: ImportKind = {
  name: 'USER_EVENTS',
  table: 'user_events',
  columns,
  dedupColumn: 'event_id',
  facetColumn: 'course_id',
  validate(values, fail) {
    const out: (string | null)[] = new Array(columns.length);
    for (const i of REQUIRED_TEXT) {
      out[i] = text(values[i], columns[i].name, fail);
      if (absent(values[i])) fail(columns[i].name, null, `${columns[i].name} is required`);
    }
    out[col.skill_id] = text(values[col.skill_id], 'skill_id', fail);
    out[col.event_id] = text(values[col.event_id], 'event_id', fail);

    const correct = values[col.correct];
    const key = typeof correct === 'string' ? correct.trim().toLowerCase() : typeof correct === 'boolean' || typeof correct === 'number' ? String(correct) : undefined;
    out[col.correct] = key === undefined ? null : CORRECT[key] ?? null;
    if (out[col.correct] === null) {
      if (correct === undefined || correct === null || correct === '') fail('correct', null, 'correct is required');
      else fail('correct', correct, 'correct must be 0, 1, true or false');
    }
    out[col.timestamp] = checkTimestamp(values[col.timestamp], 'timestamp', fail, true);
    out[col.response_time_ms] = intAtLeast(values[col.response_time_ms], 'response_time_ms', 0, fail);
    out[col.attempt] = intAtLeast(values[col.attempt], 'attempt', 1, fail);
    return out;
  },
};
