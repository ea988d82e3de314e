/** The job screen: one job's live progress, its numbers and details, and Cancel. */
import { TERMINAL, graphql, watchJob } from '../api.js';
import { progressAnnouncer } from '../announce.js';
import { $, h, setNotice } from '../dom.js';
import {
  fmtBytes, fmtDateTime, fmtDuration, fmtInt, fmtPercent, fmtProcessed, jobName, kindLabel, showJobBar, statusBadge,
} from '../format.js';
import { CANCEL_MUTATION, JOB_QUERY } from '../queries.js';
import { handleError } from '../session.js';
import { followErrors, loadErrors, resetErrors, stopErrors } from './jobErrors.js';
import { shownJob } from './shownJob.js';

const UPSERT_KINDS = new Set(['USERS', 'ORGANISATIONS', 'LOCATIONS']);

let stopWatch = () => {};
let speak = () => {};

export function stopJobView() {
  stopWatch();
  stopWatch = () => {};
  stopErrors();
  shownJob.id = null;
  shownJob.job = null;
}

export async function openJob(id) {
  if (shownJob.id === id) return;
  stopJobView();
  shownJob.id = id;
  resetErrors();
  setNotice($('job-error'), '');
  $('job-title').textContent = 'Loading job…';
  $('job-sub').textContent = '';
  $('job-status').replaceChildren();
  $('job-stats').replaceChildren();
  $('job-facts').replaceChildren();
  $('job-title').focus();
  try {
    const { job } = await graphql(JOB_QUERY, { id });
    if (shownJob.id !== id) return;
    if (!job) {
      $('job-title').textContent = 'Job not found';
      setNotice($('job-error'), 'There is no job with this id for your key. It may belong to another tenant, or the link may be incomplete.');
      document.title = 'Job not found · Bulk import';
      return;
    }
    speak = progressAnnouncer(jobName(job));
    renderJob(job, true);
    loadErrors();
    if (!TERMINAL.has(job.status)) {
      stopWatch = watchJob(id, (update) => { if (shownJob.id === id) renderJob(update, false); }, (err) => {
        if (shownJob.id === id) handleError(err, $('job-error'));
      });
    }
  } catch (err) {
    if (shownJob.id === id) {
      $('job-title').textContent = 'Job';
      handleError(err, $('job-error'));
    }
  }
}

function renderJob(job, first) {
  const previous = shownJob.job;
  shownJob.job = job;
  const name = jobName(job);
  document.title = `${name} · Bulk import`;
  $('job-title').textContent = name;
  const when = job.startedAt ? `started ${fmtDateTime(job.startedAt)}` : `created ${fmtDateTime(job.createdAt)}`;
  $('job-sub').textContent = `${kindLabel(job)} · ${job.format}${job.dryRun ? ' · dry run' : ''} · ${when}`;
  $('job-status').replaceChildren(statusBadge(job));
  $('cancel-job').hidden = TERMINAL.has(job.status);

  showJobBar($('job-bar'), job);
  $('job-progress-text').replaceChildren(...progressText(job));

  setNotice($('job-failure'), job.failureReason ? `Why it failed: ${job.failureReason}` : '');

  // Created / updated only mean something for the kinds that upsert records.
  const upserts = UPSERT_KINDS.has(job.kind) || job.rowsCreated > 0 || job.rowsUpdated > 0;
  const stats = [
    ['Processed', fmtProcessed(job, ' of ')],
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

  speak(job);
  if (!first) followErrors(job, previous);
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

$('cancel-job').addEventListener('click', async () => {
  const { id, job } = shownJob;
  if (!id || !job) return;
  if (!window.confirm(`Cancel the import of ${jobName(job)}? Rows already imported stay imported.`)) return;
  const button = $('cancel-job');
  button.disabled = true;
  try {
    const { cancelJob } = await graphql(CANCEL_MUTATION, { id });
    if (cancelJob.userErrors.length) setNotice($('job-error'), cancelJob.userErrors.map((e) => e.message).join(' '));
    else if (cancelJob.job && shownJob.id === id) renderJob(cancelJob.job, false);
  } catch (err) {
    handleError(err, $('job-error'));
  } finally {
    button.disabled = false;
  }
});
