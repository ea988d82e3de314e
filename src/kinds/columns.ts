/**
 * Matching a file's column names to a kind's columns. Names match case- and space-insensitively
 * (docs/files.md: `MOBILE PHONE` = `mobile_phone` = `mobilePhone`), so both sides are reduced to lower-case
 * letters and digits before they are compared.
 */
import type { ImportKind } from './types.js';

export function normalizeColumnName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

export type HeaderCheck =
  | { ok: true; kindIndexOfFileColumn: number[] }
  | { ok: false; message: string; missing: string[]; unknown: string[] };

/** Checks a CSV header (or an NDJSON record's keys) against a kind: no unknown, duplicate or missing required column. */
export function checkHeader(kind: ImportKind, names: readonly string[]): HeaderCheck {
  const byName = new Map(kind.columns.map((c, i) => [normalizeColumnName(c.name), i]));
  const seen = new Set<number>();
  const unknown: string[] = [];
  const duplicate: string[] = [];
  const kindIndexOfFileColumn = names.map((name) => {
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
  if (unknown.length) parts.push(`unknown column${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
  if (duplicate.length) parts.push(`duplicate column${duplicate.length > 1 ? 's' : ''}: ${duplicate.join(', ')}`);
  return { ok: false, message: `The file's columns do not match ${kind.name}: ${parts.join('; ')}`, missing, unknown };
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
