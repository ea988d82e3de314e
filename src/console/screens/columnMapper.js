/**
 * Mapping the columns of an upload refused for its header: the file's header (a CSV's first
 * record, an NDJSON file's first record's keys) is read here, in the browser, and each of its columns gets a menu of the kind's columns (or "ignore"). Sending
 * uploads the file again with that columnMapping, and saves it under a name when one is given,
 * so later files with the same header import as they are.
 */
import { graphql } from '../api.js';
import { h } from '../dom.js';
import { KIND_COLUMNS_QUERY } from '../queries.js';

const KEEP = '';
const IGNORE = '\u0000ignore';
/** Enough of the file for any sensible header line. */
const HEAD_BYTES = 256 * 1024;

/** As the server matches names: case, spaces and punctuation aside. */
const same = (a, b) => a.toLowerCase().replace(/[^a-z0-9]/g, '') === b.toLowerCase().replace(/[^a-z0-9]/g, '');

/** The first record of a CSV text, split as the server splits it (RFC 4180), with the delimiter it would detect. */
export function csvHeader(text) {
  text = text.replace(/^\uFEFF/, '');
  let inQuotes = false;
  let end = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') inQuotes = !inQuotes;
    else if (!inQuotes && (c === '\n' || c === '\r')) { end = i; break; }
  }
  const line = text.slice(0, end);
  const counts = { ',': 0, ';': 0, '\t': 0, '|': 0 };
  inQuotes = false;
  for (const c of line) {
    if (c === '"') inQuotes = !inQuotes;
    else if (!inQuotes && c in counts) counts[c]++;
  }
  const delimiter = Object.keys(counts).reduce((best, d) => (counts[d] > counts[best] ? d : best), ',');
  const fields = [];
  let field = '';
  inQuotes = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (inQuotes) {
      if (c === '"' && line[i + 1] === '"') { field += '"'; i++; } else if (c === '"') inQuotes = false; else field += c;
    } else if (c === '"') inQuotes = true;
    else if (c === delimiter) { fields.push(field); field = ''; } else field += c;
  }
  fields.push(field);
  return fields;
}

/** An NDJSON file's "header", as the server takes it: its first record's keys. */
export function ndjsonKeys(text) {
  const line = text.replace(/^\uFEFF/, '').split('\n').find((l) => l.trim() !== '');
  try {
    const first = JSON.parse(line ?? '');
    return first && typeof first === 'object' && !Array.isArray(first) ? Object.keys(first) : [];
  } catch {
    return []; // a first line longer than what was read, or not JSON: no form
  }
}

/** Zip (an XLSX workbook) or gzip bytes: their header is read by the server only (API or CLI `--map`). */
const packed = (bytes) => (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) || (bytes[0] === 0x1f && bytes[1] === 0x8b);

/**
 * The mapping form for `file` refused as `kind`, or null when its header cannot be read here.
 * `send({ columnMapping, saveMappingAs })` uploads it again.
 */
export async function columnMapper(file, kind, send) {
  const head = new Uint8Array(await file.slice(0, HEAD_BYTES).arrayBuffer());
  if (packed(head)) return null;
  const text = new TextDecoder().decode(head);
  const header = /\.(nd)?jsonl?$/i.test(file.name) || /^\uFEFF?\s*\{/.test(text) ? ndjsonKeys(text) : csvHeader(text);
  const { kindColumns } = await graphql(KIND_COLUMNS_QUERY, { kind });
  if (!header.length || !kindColumns.length) return null;
  const menus = header.map((name, i) => {
    const own = kindColumns.find((c) => same(c.name, name));
    const select = h('select', { id: `map-column-${i}` },
      h('option', { value: KEEP }, own ? `${own.name} (as named)` : 'Choose a column…'),
      h('option', { value: IGNORE }, 'Ignore this column'),
      kindColumns.filter((c) => c !== own).map((c) => h('option', { value: c.name }, c.required ? `${c.name} (required)` : c.name)));
    return { name, select, row: h('div', { class: 'mapper-row' }, h('label', { for: `map-column-${i}` }, name), select) };
  });
  const saveAs = h('input', { id: 'map-save-as', type: 'text', maxlength: '100', autocomplete: 'off' });
  const problem = h('p', { class: 'mapper-problem', role: 'alert', hidden: true });
  const form = h('form', { class: 'column-mapper', 'aria-labelledby': 'mapper-title', novalidate: true },
    h('p', { class: 'result-title', id: 'mapper-title' }, `Map the file's columns to ${kind}`),
    h('p', { class: 'muted' }, 'Pick the column each of yours is, or ignore it, and import again.'),
    menus.map((m) => m.row),
    h('div', { class: 'mapper-row' }, h('label', { for: 'map-save-as' }, 'Save this mapping as (optional)'), saveAs),
    problem,
    h('button', { type: 'submit', class: 'button button-primary' }, 'Import with these columns'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const columnMapping = [];
    for (const { name, select } of menus) {
      if (select.value === IGNORE) columnMapping.push({ from: name, to: null });
      else if (select.value !== KEEP) columnMapping.push({ from: name, to: select.value });
    }
    if (!columnMapping.length) {
      problem.textContent = 'Choose a column (or "Ignore") for at least one of the file\'s columns.';
      problem.hidden = false;
      return;
    }
    const name = saveAs.value.trim();
    send(name ? { columnMapping, saveMappingAs: name } : { columnMapping });
  });
  return form;
}
