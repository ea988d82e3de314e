/** The jobs list on the home screen: newest first, keyset pages, a status filter, live rows. */
import { TERMINAL, graphql, watchJob } from '../api.js';
import { $, h, setNotice } from '../dom.js';
import {
  fmtInt, fmtPercent, fmtProcessed, fmtRange, jobName, kindLabel, showJobBar, statusBadge, timeElement,
} from '../format.js';
import { JOBS_QUERY } from '../queries.js';
import { handleError, signOutIfRefused } from '../session.js';

const JOBS_PAGE_SIZE = 10;

const jobsState = {
  loaded: false,
  loading: false,
  /** 0-based position of the first row shown, for "11–20 of 25". */
  offset: 0,
  /** How many rows the page shows, and the variables that loaded it (for Refresh). */
  shown: 0,
  current: null,
  /** A load asked for while another ran. */
  pending: null,
  startCursor: null,
  endCursor: null,
  hasNext: false,
  hasPrev: false,
  total: 0,
  rows: new Map(), // job id -> update(job)
  watches: [],
};

function stopRowWatches() {
  for (const stop of jobsState.watches) stop();
  jobsState.watches = [];
  jobsState.rows.clear();
}

/** Signed out: no live rows, and page 1 when the list shows again. */
export function forgetJobs() {
  stopRowWatches();
  jobsState.loaded = false;
}

/** The list shown again (back from a job): the same page, fresh, as jobs may have started or ended meanwhile. */
export function showJobsAgain() {
  loadJobs(jobsState.loaded ? 'same' : 'first');
}

/** `direction`: 'first' (page 1), 'next', 'prev', or 'same' (reload the page shown). */
export async function loadJobs(direction) {
  if (jobsState.loading) {
    // One load at a time; the last request made meanwhile runs next (page 1 wins over the rest).
    if (jobsState.pending !== 'first') jobsState.pending = direction;
    return;
  }
  jobsState.loading = true;
  const s = jobsState;
  const status = $('status-filter').value;
  const filter = status ? { status: [status] } : null;
  let variables;
  if (direction === 'next') variables = { first: JOBS_PAGE_SIZE, after: s.endCursor };
  else if (direction === 'prev') variables = { last: JOBS_PAGE_SIZE, before: s.startCursor };
  else if (direction === 'same' && s.current) variables = s.current;
  else variables = { first: JOBS_PAGE_SIZE };
  const table = $('jobs-table');
  table.setAttribute('aria-busy', 'true');
  let again = false;
  try {
    const { jobs } = await graphql(JOBS_QUERY, { ...variables, filter });
    const { edges } = jobs;
    // The jobs around this page are gone (another filter, cancelled elsewhere): page 1 instead.
    if (edges.length === 0 && (variables.after || variables.before)) again = true;
    else showJobsPage(direction, variables, jobs);
  } catch (err) {
    handleError(err, $('jobs-error'));
  } finally {
    jobsState.loading = false;
    table.removeAttribute('aria-busy');
  }
  const pending = again ? 'first' : jobsState.pending;
  jobsState.pending = null;
  if (pending) await loadJobs(pending);
}

/** Shows a page of jobs and works out where it sits: "Jobs 11–20 of 26", Previous, Next. */
function showJobsPage(direction, variables, jobs) {
  const s = jobsState;
  const { edges, pageInfo } = jobs;
  const backward = variables.last !== undefined;
  if (direction === 'next') s.offset += s.shown;
  else if (direction === 'prev') s.offset = pageInfo.hasPreviousPage ? Math.max(0, s.offset - edges.length) : 0;
  else if (direction !== 'same') s.offset = 0;
  s.hasPrev = backward ? pageInfo.hasPreviousPage : Boolean(variables.after) || pageInfo.hasPreviousPage;
  s.hasNext = backward ? Boolean(variables.before) || pageInfo.hasNextPage : pageInfo.hasNextPage;
  s.current = variables;
  s.startCursor = pageInfo.startCursor ?? edges[0]?.cursor ?? null;
  s.endCursor = pageInfo.endCursor ?? edges.at(-1)?.cursor ?? null;
  s.total = jobs.totalCount;
  s.shown = edges.length;
  s.loaded = true;
  renderJobs(edges.map((e) => e.node));
  setNotice($('jobs-error'), '');
}

function renderJobs(jobs) {
  stopRowWatches();
  const body = $('jobs-body');
  body.replaceChildren(...jobs.map((job) => jobRow(job)));
  $('jobs-empty').hidden = jobs.length > 0;
  $('jobs-table').hidden = jobs.length === 0;
  $('jobs-empty').textContent = $('status-filter').value ? 'No jobs with this status.' : 'No jobs yet. Upload a file to start one.';
  const s = jobsState;
  $('jobs-range').textContent = fmtRange('Jobs', s.offset, jobs.length, s.total);
  $('jobs-prev').disabled = !s.hasPrev;
  $('jobs-next').disabled = !s.hasNext;
  for (const job of jobs) {
    if (TERMINAL.has(job.status)) continue;
    jobsState.watches.push(watchJob(job.id, (update) => jobsState.rows.get(job.id)?.(update), signOutIfRefused));
  }
}

function jobRow(job) {
  const name = jobName(job);
  const link = h('a', { href: `#/jobs/${encodeURIComponent(job.id)}`, class: 'job-link' }, name);
  const dry = h('span', { class: 'tag', hidden: !job.dryRun }, 'dry run');
  const bar = h('progress', { max: '100', 'aria-label': `Progress of ${name}` });
  const percent = h('span', { class: 'percent' });
  const cells = {
    kind: h('td', {}),
    status: h('td', {}),
    progress: h('td', { class: 'col-progress' }, h('div', { class: 'bar-cell' }, bar, percent)),
    rows: h('td', { class: 'num' }),
    imported: h('td', { class: 'num' }),
    failed: h('td', { class: 'num' }),
    created: h('td', { class: 'nowrap' }),
  };
  const tr = h('tr', { 'data-job-id': job.id },
    h('td', { class: 'file-cell' }, link, ' ', dry),
    cells.kind, cells.status, cells.progress, cells.rows, cells.imported, cells.failed, cells.created);
  const update = (j) => {
    cells.kind.textContent = kindLabel(j);
    cells.status.replaceChildren(statusBadge(j));
    showJobBar(bar, j);
    percent.textContent = j.status === 'QUEUED' ? '–' : fmtPercent(j.percentComplete);
    cells.rows.textContent = fmtProcessed(j, ' / ');
    cells.imported.textContent = fmtInt(j.rowsImported);
    cells.failed.textContent = fmtInt(j.rowsFailed);
    cells.failed.classList.toggle('has-failed', j.rowsFailed > 0);
    cells.created.replaceChildren(timeElement(j.createdAt));
  };
  update(job);
  jobsState.rows.set(job.id, update);
  return tr;
}

$('jobs-next').addEventListener('click', () => loadJobs('next'));
$('jobs-prev').addEventListener('click', () => loadJobs('prev'));
$('refresh-jobs').addEventListener('click', () => loadJobs('same'));
$('status-filter').addEventListener('change', () => loadJobs('first'));
