/**
 * Column mappings: a tenant's file names its columns its own way (`Phone`, `Full name`), and a
 * mapping says which of the kind's columns each one is, or that it is ignored (`to: null`).
 * A file column the mapping does not name keeps its own name, matched as always
 * (columns.ts). A CSV's header is mapped once, when the file is inspected and again when its job
 * is parsed, so CSV rows are never renamed one by one: the mapped header gives each file column
 * its kind column, and an ignored column is a file column that has none. NDJSON (and XLSX, which
 * is spooled as NDJSON) names its columns on every line, so each key goes through the same
 * columnNamer; the "header" a mapping is checked against, and saved with, is the first record's keys.
 */
import { normalizeColumnName, namesShown } from './columns.js';
import type { ImportKind } from './types.js';

export interface ColumnMappingEntry { from: string; to: string | null }

/** At most this many entries in one mapping, and this long a name or header. */
export const MAX_MAPPING_ENTRIES = 500;
export const MAX_MAPPING_NAME_LENGTH = 100;
export const MAX_HEADER_NAME_LENGTH = 1000;

/**
 * How a file's header names are compared with a mapping's `from`: case, spaces and punctuation
 * aside, but letters of every script kept (a Hindi or accented header is a name too, where the
 * kind columns' own matching keeps ASCII letters and digits only).
 */
export function headerKey(name: string): string {
  const key = name.normalize('NFC').toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
  return key === '' ? name.trim() : key;
}

/**
 * A file column's name as the kind reads it: renamed by the mapping, null where the mapping
 * ignores it, else its own. The one rule for every format: a CSV or XLSX header's names, an
 * NDJSON line's keys.
 */
export function columnNamer(mapping: readonly ColumnMappingEntry[] | null | undefined): (name: string) => string | null {
  if (!mapping?.length) return (name) => name;
  const byKey = new Map(mapping.map((m) => [headerKey(m.from), m.to]));
  return (name) => {
    const key = headerKey(name);
    return byKey.has(key) ? byKey.get(key)! : name;
  };
}

/** The header as the kind reads it: each column renamed by the mapping, null where the mapping ignores it. */
export function mapHeader(header: readonly string[], mapping: readonly ColumnMappingEntry[] | null | undefined): (string | null)[] {
  return header.map(columnNamer(mapping));
}

/** Why a mapping cannot be used for `kind`, before any file is read; null when it can. */
export function refuseMapping(kind: ImportKind, mapping: readonly ColumnMappingEntry[]): string | null {
  if (kind.fromRecord) return `${kind.name} takes any columns as they are; columnMapping is for kinds with fixed columns`;
  if (mapping.length === 0) return 'columnMapping is empty';
  if (mapping.length > MAX_MAPPING_ENTRIES) return `columnMapping has ${mapping.length} entries; at most ${MAX_MAPPING_ENTRIES}`;
  const columns = new Map(kind.columns.map((c) => [normalizeColumnName(c.name), c.name]));
  const froms = new Set<string>();
  const tos = new Set<string>();
  for (const { from, to } of mapping) {
    if (from.trim() === '' || from.length > MAX_HEADER_NAME_LENGTH) return `columnMapping: "${from.slice(0, 100)}" is not a header name`;
    const key = headerKey(from);
    if (froms.has(key)) return `columnMapping names the column "${from}" twice`;
    froms.add(key);
    if (to === null) continue;
    const column = columns.get(normalizeColumnName(to));
    if (!column) return `columnMapping: ${to} (for "${from}") is not a column of ${kind.name}; its columns are ${kind.columns.map((c) => c.name).join(', ')}`;
    if (tos.has(column)) return `columnMapping maps two columns to ${column}`;
    tos.add(column);
  }
  return null;
}

/** Why a mapping given with a file does not fit its header (a `from` the header lacks); null when it does. */
export function refuseMappingForHeader(header: readonly string[], mapping: readonly ColumnMappingEntry[], headerIs = "the file's header"): string | null {
  const keys = new Set(header.map(headerKey));
  const absent = mapping.filter((m) => !keys.has(headerKey(m.from))).map((m) => m.from);
  if (absent.length === 0) return null;
  return `columnMapping names ${absent.map((a) => `"${a}"`).join(', ')}, which ${headerIs} (${namesShown(header)}) does not have`;
}

/** A saved mapping applies to a file whose header has the same names as the file it was saved with, in any order. */
export function headersMatch(saved: readonly string[], header: readonly string[]): boolean {
  const a = new Set(saved.map(headerKey));
  const b = new Set(header.map(headerKey));
  if (a.size !== b.size) return false;
  for (const key of b) if (!a.has(key)) return false;
  return true;
}

/** The mapping with each `to` as the kind spells it (`mobile_phone` -> MOBILE PHONE), as a job and a saved mapping keep it. */
export function canonicalMapping(kind: ImportKind, mapping: readonly ColumnMappingEntry[]): ColumnMappingEntry[] {
  const columns = new Map(kind.columns.map((c) => [normalizeColumnName(c.name), c.name]));
  return mapping.map(({ from, to }) => ({ from, to: to === null ? null : (columns.get(normalizeColumnName(to)) ?? to) }));
}

/** The most a refusal's fileColumns may weigh, as JSON. */
const MAX_FILE_COLUMNS_JSON = 64 * 1024;

/**
 * A file's column names as a refusal shows them (UserError.fileColumns), when a mapping could name
 * each of them (at most MAX_MAPPING_ENTRIES names of at most MAX_HEADER_NAME_LENGTH characters) and
 * they weigh at most MAX_FILE_COLUMNS_JSON as JSON (escaped control characters count six times).
 * Past that, none: a refusal must not echo megabytes of header back.
 */
export function mappableColumns(names: readonly string[]): string[] | undefined {
  if (names.length > MAX_MAPPING_ENTRIES || names.some((n) => n.length > MAX_HEADER_NAME_LENGTH)) return undefined;
  return JSON.stringify(names).length <= MAX_FILE_COLUMNS_JSON ? [...names] : undefined;
}
