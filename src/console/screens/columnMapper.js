/**
 * Mapping the columns of an upload refused for its header: each of the file's columns, as the
 * server read them (the refusal's fileColumns: a CSV's or an XLSX sheet's header, an NDJSON file's
 * first record's keys, after gzip and any encoding), gets a menu of the kind's columns (or "ignore"). Sending
 * uploads the file again with that columnMapping, and saves it under a name when one is given,
 * so later files with the same header import as they are.
 */
import { graphql } from '../api.js';
import { h } from '../dom.js';
import { KIND_COLUMNS_QUERY } from '../queries.js';

const KEEP = '';
const IGNORE = '\u0000ignore';

/** As the server matches names: case, spaces and punctuation aside. */
const same = (a, b) => a.toLowerCase().replace(/[^a-z0-9]/g, '') === b.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * The mapping form for a file refused as `kind`, whose columns the server read as `header`, or
 * null when the kind has no columns to map to. `send({ columnMapping, saveMappingAs })` uploads it again.
 */
export async function columnMapper(header, kind, send) {
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
