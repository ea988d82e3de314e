/**
 * Matching a file's column names to a kind's columns. Names match case- and space-insensitively
 * (docs/files.md: `MOBILE PHONE` = `mobile_phone` = `mobilePhone`), so both sides are reduced to lower-case
 * letters and digits before they are compared.
 */
import { distance } from 'fastest-levenshtein';
import type { ImportKind } from './types.js';

export function normalizeColumnName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

export type HeaderCheck =
  | { ok: true; kindIndexOfFileColumn: number[] }
  | { ok: false; message: string; missing: string[]; unknown: string[] };

/**
 * Checks a CSV header (or an NDJSON record's keys) against a kind: no unknown, duplicate or
 * missing required column. A null name is a column a column mapping ignores (index -1).
 */
export function checkHeader(kind: ImportKind, names: readonly (string | null)[]): HeaderCheck {
  const byName = new Map(kind.columns.map((c, i) => [normalizeColumnName(c.name), i]));
  const seen = new Set<number>();
  const unknown: string[] = [];
  const duplicate: string[] = [];
  const kindIndexOfFileColumn = names.map((name) => {
    if (name === null) return -1;
    const index = byName.get(normalizeColumnName(name));
    if (index === undefined) { unknown.push(name); return -1; }
    if (seen.has(index)) duplicate.push(name);
    seen.add(index);
    return index;
  });
  const missing = kind.columns.filter((c, i) => c.required && !seen.has(i)).map((c) => c.name);
  if (unknown.length === 0 && missing.length === 0 && duplicate.length === 0) return { ok: true, kindIndexOfFileColumn };
  const parts: string[] = [];
  if (missing.length) parts.push(`missing required column${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
  if (unknown.length) parts.push(`unknown column${unknown.length > 1 ? 's' : ''}: ${namesShown(unknown)}`);
  if (duplicate.length) parts.push(`duplicate column${duplicate.length > 1 ? 's' : ''}: ${namesShown(duplicate)}`);
  const hints = unknown.slice(0, HINTS_SHOWN).flatMap((name) => {
    const close = closestColumns(kind, name);
    return close.length ? [`${shownName(name)}: did you mean ${close.join(' or ')}?`] : [];
  });
  const expected = kind.columns.map((c) => (c.required ? `${c.name} (required)` : c.name)).join(', ');
  const message = [`The file's columns do not match ${kind.name}: ${parts.join('; ')}.`, ...hints, `${kind.name} expects: ${expected}.`].join(' ');
  return { ok: false, message, missing, unknown };
}

/** Names at most this many unknown columns' closest kind columns in a mismatch's message. */
const HINTS_SHOWN = 10;
/**
 * A mismatch's message names at most NAMES_SHOWN of the file's columns of each sort, each cut to
 * NAME_CHARS_SHOWN characters: the header comes from the file (up to 4 MiB of it), and the
 * message must not echo all of it back.
 */
const NAMES_SHOWN = 20;
const NAME_CHARS_SHOWN = 100;

const shownName = (name: string) => (name.length > NAME_CHARS_SHOWN ? `${name.slice(0, NAME_CHARS_SHOWN)}…` : name);

export function namesShown(names: readonly string[]): string {
  const shown = names.slice(0, NAMES_SHOWN).map(shownName).join(', ');
  return names.length > NAMES_SHOWN ? `${shown} and ${names.length - NAMES_SHOWN} more` : shown;
}

/** Words of a name: `mobilePhone`, `MOBILE_PHONE` and `Mobile phone` all give mobile, phone. */
function wordsOf(name: string): string[] {
  return name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length >= 2);
}

/**
 * The kind's columns closest to an unknown name, best first (at most two): one name inside the
 * other (`Phone` in MOBILE PHONE, SCHOOL in SCHOOL ID), a word in common, or a few typing slips
 * (`EMial`). Edit distance alone would not do: `Phone` is further from MOBILE PHONE than from EMAIL.
 */
export function closestColumns(kind: ImportKind, name: string): string[] {
  const a = normalizeColumnName(name);
  if (a === '') return [];
  const words = new Set(wordsOf(name));
  const scored: { name: string; score: number }[] = [];
  for (const column of kind.columns) {
    const b = normalizeColumnName(column.name);
    const slips = distance(a, b);
    let score: number;
    if (a.length >= 3 && (b.includes(a) || a.includes(b))) score = Math.abs(a.length - b.length) / 100; // below 1: first
    else if (wordsOf(column.name).some((w) => w.length >= 3 && words.has(w))) score = 1 + slips / 100;
    else if (slips <= Math.max(1, Math.ceil(Math.max(a.length, b.length) / 3))) score = 2 + slips;
    else continue;
    scored.push({ name: column.name, score });
  }
  return scored.sort((x, y) => x.score - y.score).slice(0, 2).map((s) => s.name);
}

/** Maps NDJSON keys to kind column indexes, remembering each key it has seen (files repeat the same keys). */
export function createKeyMatcher(kind: ImportKind): (key: string) => number {
  const byName = new Map(kind.columns.map((c, i) => [normalizeColumnName(c.name), i]));
  const cache = new Map<string, number>();
  return (key) => {
    let index = cache.get(key);
    if (index === undefined) {
      index = byName.get(normalizeColumnName(key)) ?? -1;
      if (cache.size < 10_000) cache.set(key, index);
    }
    return index;
  };
}
