/** A job's row errors on the job screen: pages of them, kept fresh while it runs, and all of them as CSV. */
import { ApiError, TERMINAL, graphql } from '../api.js';
import { announce } from '../announce.js';
import { errorsCsv } from '../csv.js';
import { $, h, setNotice } from '../dom.js';
import { fmtInt, fmtRange } from '../format.js';
import { ERRORS_QUERY } from '../queries.js';
import { handleError } from '../session.js';
import { shownJob } from './shownJob.js';

const ERRORS_PAGE_SIZE = 20;
const CSV_PAGE_SIZE = 1000;

const freshErrors = () => ({ cursors: [null], index: 0, hasNext: false, total: 0, loading: false, rowsFailedShown: -1, reloadTimer: 0 });
let errors = freshErrors();

/** Stops the reload that was waiting (the job screen closes). */
export function stopErrors() {
  clearTimeout(errors.reloadTimer);
}

/** Another job opens: no errors shown until its first page loads. */
export function resetErrors() {
  errors = freshErrors();
  setNotice($('errors-error'), '');
  $('errors-body').replaceChildren();
  $('errors-range').textContent = '';
}

/** Reloads the first page as failures arrive (at most every 2 s) and when the job ends. */
export function followErrors(job, previous) {
  const e = errors;
  const ended = TERMINAL.has(job.status) && previous && !TERMINAL.has(previous.status);
  if (e.index === 0 && (ended || job.rowsFailed !== e.rowsFailedShown)) {
    clearTimeout(e.reloadTimer);
    e.reloadTimer = setTimeout(() => loadErrors(), ended ? 0 : 2000);
  }
}

export async function loadErrors() {
  const id = shownJob.id;
  const e = errors;
  if (!id || e.loading) return;
  e.loading = true;
  const table = $('errors-table');
  table.setAttribute('aria-busy', 'true');
  try {
    const { job } = await graphql(ERRORS_QUERY, { id, first: ERRORS_PAGE_SIZE, after: e.cursors[e.index] });
    if (shownJob.id !== id || !job) return;
    const { edges, pageInfo, totalCount } = job.errors;
    e.total = totalCount;
    e.hasNext = pageInfo.hasNextPage;
    e.cursors[e.index + 1] = pageInfo.endCursor;
    e.cursors.length = e.index + 2;
    if (e.index === 0) e.rowsFailedShown = shownJob.job?.rowsFailed ?? -1;
    renderErrors(edges.map((edge) => edge.node));
    setNotice($('errors-error'), '');
  } catch (err) {
    if (shownJob.id === id) handleError(err, $('errors-error'));
  } finally {
    e.loading = false;
    table.removeAttribute('aria-busy');
  }
}

function renderErrors(rowErrors) {
  const e = errors;
  $('errors-body').replaceChildren(...rowErrors.map((err) => h('tr', {},
    h('td', { class: 'num' }, fmtInt(err.line)),
    h('td', {}, err.column ? h('code', {}, err.column) : '–'),
    h('td', { class: 'value-cell' }, err.value === null || err.value === undefined ? h('span', { class: 'muted' }, '–')
      : err.value === '' ? h('span', { class: 'muted' }, '(empty)') : h('code', {}, err.value)),
    h('td', {}, err.message),
  )));
  $('errors-title').textContent = e.total ? `Row errors (${fmtInt(e.total)})` : 'Row errors';
  $('errors-empty').hidden = rowErrors.length > 0;
  $('errors-table').hidden = rowErrors.length === 0;
  const ended = shownJob.job && TERMINAL.has(shownJob.job.status);
  $('errors-empty').textContent = ended ? 'No row errors: every row was accepted.' : 'No row errors so far.';
  $('errors-range').textContent = fmtRange('Errors', e.index * ERRORS_PAGE_SIZE, rowErrors.length, e.total);
  $('errors-prev').disabled = e.index === 0;
  $('errors-next').disabled = !e.hasNext;
  $('download-errors').disabled = e.total === 0;
}

$('errors-next').addEventListener('click', () => { const e = errors; if (e.hasNext && !e.loading) { e.index++; loadErrors(); } });
$('errors-prev').addEventListener('click', () => { const e = errors; if (e.index > 0 && !e.loading) { e.index--; loadErrors(); } });

$('download-errors').addEventListener('click', async () => {
  const { id, job } = shownJob;
  if (!id || !job) return;
  const button = $('download-errors');
  button.disabled = true;
  button.textContent = 'Preparing CSV…';
  try {
    const all = [];
    let after = null;
    for (;;) {
      const { job: page } = await graphql(ERRORS_QUERY, { id, first: CSV_PAGE_SIZE, after });
      if (!page) throw new ApiError('Job not found.');
      all.push(...page.errors.edges.map((edge) => edge.node));
      if (!page.errors.pageInfo.hasNextPage) break;
      after = page.errors.pageInfo.endCursor;
      button.textContent = `Preparing CSV… ${fmtInt(all.length)} rows`;
    }
    const blob = new Blob([errorsCsv(all)], { type: 'text/csv;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const base = (job.filename ?? 'job').replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_.-]+/g, '_') || 'job';
    const a = h('a', { href: url, download: `${base}-errors.csv`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    announce(`Downloaded ${fmtInt(all.length)} row errors as CSV.`);
  } catch (err) {
    handleError(err, $('errors-error'));
  } finally {
    button.textContent = 'Download errors (CSV)';
    button.disabled = errors.total === 0;
  }
});
