/**
 * The preview of a dry run, under the upload form once it has ended: what the real import would
 * do (created / updated with each change / unchanged / failed), the rows page by page, and the
 * button that confirms it, which imports the same file for real.
 */
import { graphql } from '../api.js';
import { h } from '../dom.js';
import { fmtInt } from '../format.js';
import { OUTCOMES_QUERY } from '../queries.js';
import { signOutIfRefused } from '../session.js';

const UPSERT_KINDS = new Set(['USERS', 'ORGANISATIONS', 'LOCATIONS']);
const PAGE = 100;
const OUTCOME_LABELS = { CREATED: 'Created', UPDATED: 'Updated', UNCHANGED: 'Unchanged' };

const shownValue = (v) => (v === null ? h('span', { class: 'muted' }, '(empty)') : h('code', {}, v));

/** "NAME: Ravi → Ravi Kumar; EMAIL: (empty) → ravi@example.org" */
function changesCell(changes) {
  if (!changes?.length) return '–';
  return h('ul', { class: 'changes' }, changes.map((c) => h('li', {}, h('strong', {}, c.column), ': ', shownValue(c.from), ' → ', shownValue(c.to))));
}

/** The preview of the finished dry run `job`; `confirm` starts the real import of the same file. */
export function dryRunPreview(job, confirm) {
  const upserts = UPSERT_KINDS.has(job.kind);
  const valid = job.rowsProcessed - job.rowsFailed;
  const counts = upserts
    ? [['Would create', job.rowsCreated], ['Would update', job.rowsUpdated], ['Unchanged', job.rowsUnchanged], ['Would fail', job.rowsFailed]]
    : [['Would import', valid], ['Would fail', job.rowsFailed]];
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'button', hidden: true }, 'Show more rows');
  const table = upserts ? h('table', { class: 'preview-table' },
    h('caption', { class: 'visually-hidden' }, 'What each row would do'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Line'), h('th', { scope: 'col' }, 'Outcome'), h('th', { scope: 'col' }, 'Changes'))),
    body) : null;
  let after = null;
  const loadPage = async () => {
    more.disabled = true;
    try {
      const { job: withOutcomes } = await graphql(OUTCOMES_QUERY, { id: job.id, first: PAGE, after });
      const page = withOutcomes?.outcomes;
      if (!page) return;
      body.append(...page.edges.map(({ node }) => h('tr', { 'data-outcome': node.outcome },
        h('td', {}, String(node.line)), h('td', {}, OUTCOME_LABELS[node.outcome] ?? node.outcome), h('td', {}, changesCell(node.changes)))));
      after = page.pageInfo.endCursor;
      more.hidden = !page.pageInfo.hasNextPage;
    } catch (err) {
      signOutIfRefused(err);
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', loadPage);
  if (table) loadPage();
  const button = h('button', { type: 'button', class: 'button button-primary' }, 'Import for real');
  button.addEventListener('click', () => { button.disabled = true; confirm(); });
  return h('div', { class: 'preview', 'aria-label': 'Preview of the import' },
    h('dl', { class: 'stats' }, counts.map(([label, n]) => h('div', { class: `stat${label === 'Would fail' && n > 0 ? ' stat-bad' : ''}` }, h('dt', {}, label), h('dd', {}, fmtInt(n))))),
    table, more,
    h('p', {}, valid > 0 ? 'Nothing has been written yet. ' : 'No row would be imported. ', valid > 0 ? button : null));
}
