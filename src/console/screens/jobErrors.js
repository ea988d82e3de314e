/** A job's row errors on the job screen: pages of them, kept fresh while it runs, and the server's error report as a download. */
import { ApiError, TERMINAL, getWithKey, graphql } from '../api.js';
import { announce } from '../announce.js';
import { $, h, saveBlob, setNotice } from '../dom.js';
import { fmtInt, fmtRange } from '../format.js';
import { ERRORS_QUERY } from '../queries.js';
import { handleError } from '../session.js';
import { shownJob } from './shownJob.js';

const ERRORS_PAGE_SIZE = 20;

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
  button.textContent = 'Downloading CSV…';
  try {
    const { blob, filename } = await fetchErrorReport(id, job.errorReportUrl);
    saveBlob(blob, filename);
    setNotice($('errors-error'), '');
    announce(`Downloaded ${filename}.`);
  } catch (err) {
    handleError(err, $('errors-error'));
  } finally {
    button.textContent = 'Download errors (CSV)';
    button.disabled = errors.total === 0;
  }
});

/**
 * The job's error report (Job.errorReportUrl) exactly as the server writes it: the same file as
 * the CLI's `errors --csv`, so the project has one CSV writer and one formula rule.
 */
async function fetchErrorReport(id, url) {
  if (!url) throw new ApiError('This job has no error report yet.');
  const res = await getWithKey(url);
  if (res.status === 404) throw new ApiError('The error report was not found: this job does not exist for this API key.');
  if (!res.ok) throw new ApiError(`The error report could not be downloaded: the server answered ${res.status}.`);
  let blob;
  try {
    blob = await res.blob();
  } catch {
    throw new ApiError('The error report download was interrupted. Check your connection and try again.');
  }
  return { blob, filename: safeFilename(attachmentName(res) ?? `job-${id}-errors.csv`) };
}

/** The file name the server gives in Content-Disposition (job-<id>-errors.csv), if any. */
function attachmentName(res) {
  return /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1];
}

const safeFilename = (name) => name.replace(/[^A-Za-z0-9_.-]+/g, '_');
