/**
 * The import console: sign in with an API key, upload a file, follow jobs live, page through
 * jobs and row errors, download a job's row errors as CSV. Plain ES modules, no build step; the
 * page's markup is in index.html and every view here only fills it in.
 *
 * Routes (location.hash): "#/" the upload form and the jobs list; "#/jobs/<id>" one job.
 */
import {
  ApiError, TERMINAL, UnauthorizedError, apiKey, graphql, onSocketState, socket, uploadFile, watchJob,
} from './api.js';
import { errorsCsv } from './csv.js';
import {
  CANCEL_MUTATION, CHECK_KEY_QUERY, ERRORS_QUERY, JOBS_QUERY, JOB_QUERY, UPLOAD_MUTATION,
} from './queries.js';
import { announce, progressAnnouncer } from './announce.js';
import { $, h, setNotice } from './dom.js';
import {
  fmtBytes, fmtDateTime, fmtDuration, fmtInt, fmtPercent, kindLabel, statusBadge, timeElement,
} from './format.js';

const JOBS_PAGE_SIZE = 10;
const UPSERT_KINDS = new Set(['USERS', 'ORGANISATIONS', 'LOCATIONS']);
const ERRORS_PAGE_SIZE = 20;
const CSV_PAGE_SIZE = 1000;

const USER_ERROR_TITLES = {
  IMPORT_IN_PROGRESS: 'Another import is still running',
  FILE_TOO_LARGE: 'The file is too large',
  SCHEMA_MISMATCH: "Check the file's columns",
  INVALID_FILE: 'The file cannot be read',
  DUPLICATE_FILE: 'This file has been imported before',
  BATCH_TOO_LARGE: 'Too many records',
  INVALID_INPUT: 'Please check the form',
  NOT_FOUND: 'Not found',
};
const USER_ERROR_HINTS = {
  IMPORT_IN_PROGRESS: 'Wait for it to finish, or cancel it, then upload again.',
  DUPLICATE_FILE: 'To import it again anyway, open "More options" and tick "Import even if this exact file was imported before".',
};

const jobName = (job) => job.filename || `${kindLabel(job)} job`;

// ---------------------------------------------------------------------------------------------
// The API key and routing.

function showView(name) {
  for (const view of ['key-view', 'home-view', 'job-view']) $(view).hidden = view !== name;
  $('session').hidden = name === 'key-view';
}

function signOut(message) {
  apiKey.clear();
  socket.reset();
  stopJobView();
  stopRowWatches();
  stopFollowingUpload();
  clearResult();
  jobsState.loaded = false;
  setNotice($('key-error'), message);
  $('key-input').setAttribute('aria-invalid', message ? 'true' : 'false');
  route();
}

/** Every refused request ends here: back to the key form, saying why. */
function handleError(err, noticeEl) {
  if (err instanceof UnauthorizedError) { signOut('This API key was refused. Enter a valid key.'); return; }
  const message = err instanceof ApiError ? err.message : `Something went wrong: ${err?.message ?? err}`;
  if (noticeEl) setNotice(noticeEl, message);
  else announce(message);
}

function route() {
  const key = apiKey.get();
  if (!key) {
    showView('key-view');
    document.title = 'Sign in · Bulk import';
    $('key-input').focus();
    return;
  }
  $('key-hint').textContent = `…${key.slice(-4)}`;
  const match = /^#\/jobs\/([^/?#]+)$/.exec(location.hash);
  if (match) {
    showView('job-view');
    openJob(decodeURIComponent(match[1]));
  } else {
    const fromJob = !$('job-view').hidden;
    stopJobView();
    showView('home-view');
    document.title = 'Bulk import';
    // Back from a job: the same page again, fresh (jobs may have started or ended meanwhile).
    loadJobs(jobsState.loaded ? 'same' : 'first');
    if (fromJob) $('jobs-title').focus();
  }
}

$('key-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const key = $('key-input').value.trim();
  if (!key) {
    setNotice($('key-error'), 'Enter your API key.');
    $('key-input').setAttribute('aria-invalid', 'true');
    $('key-input').focus();
    return;
  }
  $('key-submit').disabled = true;
  apiKey.set(key);
  try {
    await graphql(CHECK_KEY_QUERY);
    $('key-input').value = '';
    setNotice($('key-error'), '');
    $('key-input').setAttribute('aria-invalid', 'false');
    announce('Signed in.');
    route();
    if (!location.hash.startsWith('#/jobs/')) $('upload-title').focus();
  } catch (err) {
    apiKey.clear();
    const message = err instanceof UnauthorizedError ? 'This API key was refused. Check it and try again.' : err.message;
    setNotice($('key-error'), message);
    $('key-input').setAttribute('aria-invalid', 'true');
    $('key-input').focus();
  } finally {
    $('key-submit').disabled = false;
  }
});

$('forget-key').addEventListener('click', () => {
  signOut('');
  announce('Key forgotten.');
});

const LIVE_STATE_TEXT = {
  idle: 'Live updates idle',
  connecting: 'Connecting…',
  live: 'Live',
  retrying: 'Reconnecting…',
  unauthorized: 'Key refused',
};
onSocketState((state) => {
  $('live-state').dataset.state = state;
  $('live-state').hidden = state === 'idle';
  $('live-state-text').textContent = LIVE_STATE_TEXT[state] ?? state;
});

window.addEventListener('hashchange', route);

// ---------------------------------------------------------------------------------------------
// Upload.

const form = $('upload-form');
const fileInput = $('file-input');
const dropzone = $('dropzone');

function showChosenFile() {
  const file = fileInput.files?.[0];
  const title = $('file-name');
  if (file) {
    title.replaceChildren(h('strong', {}, file.name), ' ', h('span', { class: 'muted' }, `(${fmtBytes(file.size)})`));
    dropzone.classList.add('has-file');
    $('file-help').textContent = 'Drop or choose another file to replace it';
  } else {
    title.replaceChildren('Drop a file here or ', h('span', { class: 'link-like' }, 'choose a file'));
    dropzone.classList.remove('has-file');
    $('file-help').textContent = 'CSV or NDJSON, up to 1 GiB';
  }
}

fileInput.addEventListener('change', () => {
  showChosenFile();
  clearResult();
  const kind = guessKind(fileInput.files?.[0]?.name);
  if (kind) { $('kind').value = kind; syncKindFields(); }
});

/** A file named like a kind ("users.csv", "2024-events.ndjson") preselects it. */
function guessKind(name) {
  if (!name) return null;
  const n = name.toLowerCase();
  if (/user[_-]?events|interactions/.test(n)) return 'USER_EVENTS';
  if (/events?\b|events?[_.-]/.test(n)) return 'EVENTS';
  if (/organi[sz]ations?|schools?/.test(n)) return 'ORGANISATIONS';
  if (/locations?/.test(n)) return 'LOCATIONS';
  if (/users?\b|users?[_.-]/.test(n)) return 'USERS';
  return null;
}

for (const type of ['dragenter', 'dragover']) {
  dropzone.addEventListener(type, (event) => {
    if (!event.dataTransfer?.types.includes('Files')) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    dropzone.classList.add('dragging');
  });
}
for (const type of ['dragleave', 'dragend']) {
  dropzone.addEventListener(type, (event) => {
    if (event.type === 'dragleave' && dropzone.contains(event.relatedTarget)) return;
    dropzone.classList.remove('dragging');
  });
}
dropzone.addEventListener('drop', (event) => {
  event.preventDefault();
  dropzone.classList.remove('dragging');
  const files = event.dataTransfer?.files;
  if (!files?.length) return;
  if (files.length > 1) {
    showResult('error', 'One file at a time', ['Drop a single CSV or NDJSON file.']);
    return;
  }
  fileInput.files = files;
  fileInput.dispatchEvent(new Event('change'));
});
// A file dropped next to the drop zone must not replace the page.
window.addEventListener('dragover', (event) => event.preventDefault());
window.addEventListener('drop', (event) => event.preventDefault());

function syncKindFields() {
  const kind = $('kind').value;
  const collection = kind === 'COLLECTION';
  const location = kind === 'LOCATIONS';
  $('collection-field').hidden = !collection;
  $('collection').disabled = !collection;
  $('collection').required = collection;
  $('location-field').hidden = !location;
  $('location-type').disabled = !location;
}
$('kind').addEventListener('change', syncKindFields);

function clearResult() {
  const result = $('upload-result');
  result.hidden = true;
  result.replaceChildren();
  result.className = 'result';
}

/** The outcome of an upload, under the form: `kind` is error or success. */
function showResult(kind, title, lines = [], ...extra) {
  const result = $('upload-result');
  result.className = `result notice notice-${kind}`;
  result.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  result.replaceChildren(...[
    h('p', { class: 'result-title' }, title),
    lines.length ? h('ul', { class: 'result-lines' }, lines.map((line) => h('li', {}, line))) : null,
    ...extra,
  ].filter(Boolean));
  result.hidden = false;
}

function readUploadInput() {
  const problems = [];
  const file = fileInput.files?.[0];
  if (!file) problems.push('Choose a file to import.');
  const input = { kind: $('kind').value };
  if (input.kind === 'COLLECTION') {
    const name = $('collection').value.trim();
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) problems.push('Give the collection a name: letters, digits, - and _, up to 64.');
    input.collection = name;
  }
  if (input.kind === 'LOCATIONS') input.locationType = $('location-type').value;
  if ($('format').value) input.format = $('format').value;
  if ($('dry-run').checked) input.dryRun = true;
  if ($('allow-duplicate').checked) input.allowDuplicateFile = true;
  const maxErrors = $('max-errors').value.trim();
  if (maxErrors !== '') {
    const n = Number(maxErrors);
    if (!Number.isInteger(n) || n < 0) problems.push('"Stop after this many failed rows" must be a whole number, 0 or more.');
    else input.maxErrors = n;
  }
  return { file, input, problems };
}

let uploading = false;

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (uploading) return;
  clearResult();
  const { file, input, problems } = readUploadInput();
  if (problems.length) {
    showResult('error', 'The import cannot start yet', problems);
    (file ? $('kind') : fileInput).focus();
    return;
  }

  uploading = true;
  const button = $('upload-button');
  button.disabled = true;
  button.textContent = 'Uploading…';
  const progress = $('upload-progress');
  const bar = $('upload-bar');
  const text = $('upload-progress-text');
  progress.hidden = false;
  bar.value = 0;
  text.textContent = `Uploading ${file.name}…`;
  announce(`Uploading ${file.name}.`);
  let lastQuarter = 0;

  const upload = uploadFile(UPLOAD_MUTATION, { input }, file, (sent, total) => {
    const percent = total ? (sent / total) * 100 : 0;
    bar.value = percent;
    if (sent >= total) {
      bar.removeAttribute('value'); // the server is still checking the file: indeterminate
      text.textContent = `Uploaded ${fmtBytes(total)}; checking the file…`;
    } else {
      text.textContent = `Uploading ${file.name}: ${fmtBytes(sent)} of ${fmtBytes(total)} (${fmtPercent(Math.floor(percent))})`;
    }
    const quarter = Math.floor(percent / 25);
    if (quarter > lastQuarter && quarter < 4) { lastQuarter = quarter; announce(`Upload ${quarter * 25}% done.`); }
  });

  try {
    const { uploadImport } = await upload.promise;
    if (uploadImport.userErrors.length || !uploadImport.job) {
      const errors = uploadImport.userErrors;
      const title = USER_ERROR_TITLES[errors[0]?.code] ?? 'The file was not accepted';
      const lines = errors.map((e) => e.message);
      for (const e of errors) if (USER_ERROR_HINTS[e.code]) lines.push(USER_ERROR_HINTS[e.code]);
      showResult('error', title, lines);
      $('upload-result').focus();
      return;
    }
    const job = uploadImport.job;
    const link = h('a', { href: `#/jobs/${encodeURIComponent(job.id)}` }, 'Open the job');
    const bar = h('progress', { max: '100', 'aria-label': `Import of ${jobName(job)}` });
    const status = h('span', { class: 'result-status' });
    showResult('success', uploadedTitle(job), [],
      h('div', { class: 'result-live' }, bar, status),
      h('p', {}, link, ' to see its progress and row errors.'));
    const title = $('upload-result').querySelector('.result-title');
    form.reset();
    syncKindFields();
    showChosenFile();
    followUploadedJob(job, (j) => {
      title.textContent = uploadedTitle(j);
      if (j.status === 'QUEUED') bar.removeAttribute('value'); else bar.value = j.percentComplete;
      bar.dataset.status = j.status.toLowerCase();
      status.replaceChildren(statusBadge(j.status), ' ', shortProgress(j));
    });
    await loadJobs('first');
  } catch (err) {
    if (err instanceof UnauthorizedError) { handleError(err); return; }
    showResult('error', 'The upload did not finish', [err.message]);
    $('upload-result').focus();
  } finally {
    uploading = false;
    button.disabled = false;
    button.textContent = 'Upload and import';
    progress.hidden = true;
    bar.value = 0;
  }
});

/** Announces the progress of the job just uploaded, wherever the user goes meanwhile. */
let stopFollowingUpload = () => {};
function followUploadedJob(job, show) {
  stopFollowingUpload();
  const speak = progressAnnouncer(jobName(job));
  const update = (j) => { show(j); speak(j); };
  update(job);
  if (TERMINAL.has(job.status)) return;
  stopFollowingUpload = watchJob(job.id, update, (err) => { if (err instanceof UnauthorizedError) handleError(err); });
}

function uploadedTitle(job) {
  const name = jobName(job);
  switch (job.status) {
    case 'COMPLETED': return job.dryRun ? `${name} has been checked (dry run): nothing was written.` : `${name} has been imported.`;
    case 'FAILED': return `The import of ${name} failed.`;
    case 'CANCELLED': return `The import of ${name} was cancelled.`;
    default: return `${name} was uploaded and its import has started${job.dryRun ? ' (dry run)' : ''}.`;
  }
}

/** "45% · 1,200 rows", "2,999 imported · 1 failed": one line under a progress bar. */
function shortProgress(job) {
  switch (job.status) {
    case 'QUEUED': return 'Waiting to start';
    case 'RUNNING': return `${fmtPercent(job.percentComplete)} · ${fmtInt(job.rowsProcessed)} rows`;
    case 'COMPLETED': return `${fmtInt(job.rowsImported)} ${job.dryRun ? 'valid' : 'imported'} · ${fmtInt(job.rowsFailed)} failed`;
    case 'FAILED': return job.failureReason ?? 'The import failed';
    default: return `after ${fmtInt(job.rowsProcessed)} rows`;
  }
}

// ---------------------------------------------------------------------------------------------
// The jobs list: newest first, keyset pages, live rows.

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

/** `direction`: 'first' (page 1), 'next', 'prev', or 'same' (reload the page shown). */
async function loadJobs(direction) {
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
  $('jobs-range').textContent = jobs.length
    ? `Jobs ${fmtInt(s.offset + 1)}–${fmtInt(s.offset + jobs.length)} of ${fmtInt(s.total)}`
    : '';
  $('jobs-prev').disabled = !s.hasPrev;
  $('jobs-next').disabled = !s.hasNext;
  for (const job of jobs) {
    if (TERMINAL.has(job.status)) continue;
    jobsState.watches.push(watchJob(job.id, (update) => jobsState.rows.get(job.id)?.(update), (err) => {
      if (err instanceof UnauthorizedError) handleError(err);
    }));
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
    cells.status.replaceChildren(statusBadge(j.status));
    if (j.status === 'QUEUED') bar.removeAttribute('value'); else bar.value = j.percentComplete;
    bar.dataset.status = j.status.toLowerCase();
    percent.textContent = j.status === 'QUEUED' ? '–' : fmtPercent(j.percentComplete);
    cells.rows.textContent = j.rowsTotal != null && j.status !== 'COMPLETED' ? `${fmtInt(j.rowsProcessed)} / ${fmtInt(j.rowsTotal)}` : fmtInt(j.rowsProcessed);
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

// ---------------------------------------------------------------------------------------------
// One job: live progress, numbers, row errors, CSV download, cancel.

const jobView = {
  id: null,
  job: null,
  stopWatch: () => {},
  speak: () => {},
  errors: { cursors: [null], index: 0, hasNext: false, total: 0, loading: false, rowsFailedShown: -1, reloadTimer: 0 },
};

function stopJobView() {
  jobView.stopWatch();
  jobView.stopWatch = () => {};
  clearTimeout(jobView.errors.reloadTimer);
  jobView.id = null;
  jobView.job = null;
}

async function openJob(id) {
  if (jobView.id === id) return;
  stopJobView();
  jobView.id = id;
  jobView.errors = { cursors: [null], index: 0, hasNext: false, total: 0, loading: false, rowsFailedShown: -1, reloadTimer: 0 };
  setNotice($('job-error'), '');
  setNotice($('errors-error'), '');
  $('job-title').textContent = 'Loading job…';
  $('job-sub').textContent = '';
  $('job-status').replaceChildren();
  $('job-stats').replaceChildren();
  $('job-facts').replaceChildren();
  $('errors-body').replaceChildren();
  $('errors-range').textContent = '';
  $('job-title').focus();
  try {
    const { job } = await graphql(JOB_QUERY, { id });
    if (jobView.id !== id) return;
    if (!job) {
      $('job-title').textContent = 'Job not found';
      setNotice($('job-error'), 'There is no job with this id for your key. It may belong to another tenant, or the link may be incomplete.');
      document.title = 'Job not found · Bulk import';
      return;
    }
    jobView.speak = progressAnnouncer(jobName(job));
    renderJob(job, true);
    loadErrors();
    if (!TERMINAL.has(job.status)) {
      jobView.stopWatch = watchJob(id, (update) => { if (jobView.id === id) renderJob(update, false); }, (err) => {
        if (jobView.id === id) handleError(err, $('job-error'));
      });
    }
  } catch (err) {
    if (jobView.id === id) {
      $('job-title').textContent = 'Job';
      handleError(err, $('job-error'));
    }
  }
}

function renderJob(job, first) {
  const previous = jobView.job;
  jobView.job = job;
  const name = jobName(job);
  document.title = `${name} · Bulk import`;
  $('job-title').textContent = name;
  const when = job.startedAt ? `started ${fmtDateTime(job.startedAt)}` : `created ${fmtDateTime(job.createdAt)}`;
  $('job-sub').textContent = `${kindLabel(job)} · ${job.format}${job.dryRun ? ' · dry run' : ''} · ${when}`;
  $('job-status').replaceChildren(statusBadge(job.status));
  $('cancel-job').hidden = TERMINAL.has(job.status);

  const bar = $('job-bar');
  if (job.status === 'QUEUED') bar.removeAttribute('value'); else bar.value = job.percentComplete;
  bar.dataset.status = job.status.toLowerCase();
  $('job-progress-text').replaceChildren(...progressText(job));

  setNotice($('job-failure'), job.failureReason ? `Why it failed: ${job.failureReason}` : '');

  // Created / updated only mean something for the kinds that upsert records.
  const upserts = UPSERT_KINDS.has(job.kind) || job.rowsCreated > 0 || job.rowsUpdated > 0;
  const stats = [
    ['Processed', job.rowsTotal != null && job.status !== 'COMPLETED' ? `${fmtInt(job.rowsProcessed)} of ${fmtInt(job.rowsTotal)}` : fmtInt(job.rowsProcessed)],
    [job.dryRun ? 'Valid (dry run)' : 'Imported', fmtInt(job.rowsImported)],
    upserts && ['Created', fmtInt(job.rowsCreated)],
    upserts && ['Updated', fmtInt(job.rowsUpdated)],
    ['Duplicates', fmtInt(job.rowsDuplicate)],
    ['Failed', fmtInt(job.rowsFailed), job.rowsFailed > 0 ? 'stat-bad' : ''],
  ].filter(Boolean);
  $('job-stats').replaceChildren(...stats.map(([label, value, cls]) => h('div', { class: `stat ${cls ?? ''}`.trim() }, h('dt', {}, label), h('dd', {}, value))));

  const facts = [
    ['Job ID', h('code', {}, job.id)],
    ['Kind', kindLabel(job)],
    ['Format', job.format],
    ['File', job.filename ?? '–'],
    ['File size', fmtBytes(job.fileSize)],
    ['Bytes processed', fmtBytes(job.bytesProcessed)],
    ['Dry run', job.dryRun ? 'Yes: nothing is written' : 'No'],
    ['Created', fmtDateTime(job.createdAt)],
    ['Started', fmtDateTime(job.startedAt)],
    ['Finished', fmtDateTime(job.finishedAt)],
    ['Elapsed', fmtDuration(job.elapsedSeconds)],
    ['Rate', job.insertRate != null ? `${fmtInt(job.insertRate)} rows/s` : '–'],
  ];
  $('job-facts').replaceChildren(...facts.map(([label, value]) => h('div', {}, h('dt', {}, label), h('dd', {}, value))));

  jobView.speak(job);

  // Row errors: reload the first page as failures arrive (at most every 2 s) and at the end.
  const e = jobView.errors;
  const ended = TERMINAL.has(job.status) && previous && !TERMINAL.has(previous.status);
  if (!first && e.index === 0 && (ended || job.rowsFailed !== e.rowsFailedShown)) {
    clearTimeout(e.reloadTimer);
    e.reloadTimer = setTimeout(() => loadErrors(), ended ? 0 : 2000);
  }
}

function progressText(job) {
  const parts = [];
  switch (job.status) {
    case 'QUEUED':
      parts.push('Queued: waiting for a worker.');
      break;
    case 'RUNNING':
      parts.push(h('strong', {}, fmtPercent(job.percentComplete)), ` · ${fmtInt(job.rowsProcessed)} rows processed`);
      if (job.insertRate) parts.push(` · ${fmtInt(job.insertRate)} rows/s`);
      break;
    case 'COMPLETED':
      parts.push(h('strong', {}, 'Completed'), ` in ${fmtDuration(job.elapsedSeconds)} · ${fmtInt(job.rowsProcessed)} rows`);
      if (job.insertRate) parts.push(` · ${fmtInt(job.insertRate)} rows/s`);
      break;
    case 'FAILED':
      parts.push(h('strong', {}, 'Failed'), ` after ${fmtInt(job.rowsProcessed)} rows (${fmtPercent(job.percentComplete)} of the file)`);
      break;
    case 'CANCELLED':
      parts.push(h('strong', {}, 'Cancelled'), ` after ${fmtInt(job.rowsProcessed)} rows`);
      break;
    default:
      parts.push(job.status);
  }
  return parts;
}

async function loadErrors() {
  const id = jobView.id;
  const e = jobView.errors;
  if (!id || e.loading) return;
  e.loading = true;
  const table = $('errors-table');
  table.setAttribute('aria-busy', 'true');
  try {
    const { job } = await graphql(ERRORS_QUERY, { id, first: ERRORS_PAGE_SIZE, after: e.cursors[e.index] });
    if (jobView.id !== id || !job) return;
    const { edges, pageInfo, totalCount } = job.errors;
    e.total = totalCount;
    e.hasNext = pageInfo.hasNextPage;
    e.cursors[e.index + 1] = pageInfo.endCursor;
    e.cursors.length = e.index + 2;
    if (e.index === 0) e.rowsFailedShown = jobView.job?.rowsFailed ?? -1;
    renderErrors(edges.map((edge) => edge.node));
    setNotice($('errors-error'), '');
  } catch (err) {
    if (jobView.id === id) handleError(err, $('errors-error'));
  } finally {
    e.loading = false;
    table.removeAttribute('aria-busy');
  }
}

function renderErrors(errors) {
  const e = jobView.errors;
  $('errors-body').replaceChildren(...errors.map((err) => h('tr', {},
    h('td', { class: 'num' }, fmtInt(err.line)),
    h('td', {}, err.column ? h('code', {}, err.column) : '–'),
    h('td', { class: 'value-cell' }, err.value === null || err.value === undefined ? h('span', { class: 'muted' }, '–')
      : err.value === '' ? h('span', { class: 'muted' }, '(empty)') : h('code', {}, err.value)),
    h('td', {}, err.message),
  )));
  $('errors-title').textContent = e.total ? `Row errors (${fmtInt(e.total)})` : 'Row errors';
  $('errors-empty').hidden = errors.length > 0;
  $('errors-table').hidden = errors.length === 0;
  const ended = jobView.job && TERMINAL.has(jobView.job.status);
  $('errors-empty').textContent = ended ? 'No row errors: every row was accepted.' : 'No row errors so far.';
  const from = e.index * ERRORS_PAGE_SIZE;
  $('errors-range').textContent = errors.length ? `Errors ${fmtInt(from + 1)}–${fmtInt(from + errors.length)} of ${fmtInt(e.total)}` : '';
  $('errors-prev').disabled = e.index === 0;
  $('errors-next').disabled = !e.hasNext;
  $('download-errors').disabled = e.total === 0;
}

$('errors-next').addEventListener('click', () => { const e = jobView.errors; if (e.hasNext && !e.loading) { e.index++; loadErrors(); } });
$('errors-prev').addEventListener('click', () => { const e = jobView.errors; if (e.index > 0 && !e.loading) { e.index--; loadErrors(); } });

$('download-errors').addEventListener('click', async () => {
  const id = jobView.id;
  const job = jobView.job;
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
    button.disabled = jobView.errors.total === 0;
  }
});

$('cancel-job').addEventListener('click', async () => {
  const id = jobView.id;
  const job = jobView.job;
  if (!id || !job) return;
  if (!window.confirm(`Cancel the import of ${jobName(job)}? Rows already imported stay imported.`)) return;
  const button = $('cancel-job');
  button.disabled = true;
  try {
    const { cancelJob } = await graphql(CANCEL_MUTATION, { id });
    if (cancelJob.userErrors.length) setNotice($('job-error'), cancelJob.userErrors.map((e) => e.message).join(' '));
    else if (cancelJob.job && jobView.id === id) renderJob(cancelJob.job, false);
  } catch (err) {
    handleError(err, $('job-error'));
  } finally {
    button.disabled = false;
  }
});

// ---------------------------------------------------------------------------------------------

syncKindFields();
showChosenFile();
route();
