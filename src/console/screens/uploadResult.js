/** The outcome of an upload, under its form: why it was refused, or the new job followed live. */
import { TERMINAL, watchJob } from '../api.js';
import { progressAnnouncer } from '../announce.js';
import { $, h } from '../dom.js';
import { fmtDateTime, fmtInt, fmtPercent, jobName, showJobBar, statusBadge } from '../format.js';
import { signOutIfRefused } from '../session.js';
import { dryRunPreview } from './preview.js';

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

export function clearResult() {
  const result = $('upload-result');
  result.hidden = true;
  result.replaceChildren();
  result.className = 'result';
}

/** The outcome of an upload, under the form: `kind` is error or success. */
export function showResult(kind, title, lines = [], ...extra) {
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

/** The server's userErrors for an upload, each with its hint where there is one. */
export function showRefusal(userErrors, resumableUntil) {
  const title = USER_ERROR_TITLES[userErrors[0]?.code] ?? 'The file was not accepted';
  const lines = userErrors.map((e) => e.message);
  for (const e of userErrors) if (USER_ERROR_HINTS[e.code]) lines.push(USER_ERROR_HINTS[e.code]);
  if (resumableUntil) lines.push(`The file stays on the server until ${fmtDateTime(resumableUntil)}: choose it again, with the settings corrected, and none of it is sent twice.`);
  showResult('error', title, lines);
}

/**
 * The job just created, with a link to it and its progress until it ends; a dry run that ends
 * COMPLETED then shows its preview, whose button calls `confirm` (the real import of the file).
 */
export function showUploaded(job, confirm) {
  const link = h('a', { href: `#/jobs/${encodeURIComponent(job.id)}` }, 'Open the job');
  const bar = h('progress', { max: '100', 'aria-label': `Import of ${jobName(job)}` });
  const status = h('span', { class: 'result-status' });
  showResult('success', uploadedTitle(job), [],
    h('div', { class: 'result-live' }, bar, status),
    h('p', {}, link, ' to see its progress and row errors.'));
  const title = $('upload-result').querySelector('.result-title');
  let previewed = false;
  followUploadedJob(job, (j) => {
    title.textContent = uploadedTitle(j);
    showJobBar(bar, j);
    status.replaceChildren(statusBadge(j), ' ', shortProgress(j));
    if (j.dryRun && j.status === 'COMPLETED' && confirm && !previewed) {
      previewed = true;
      $('upload-result').append(dryRunPreview(j, confirm));
    }
  });
}

/** Announces the progress of the job just uploaded, wherever the user goes meanwhile. */
let stopFollowing = () => {};
export function stopFollowingUpload() {
  stopFollowing();
}

function followUploadedJob(job, show) {
  stopFollowing();
  const speak = progressAnnouncer(jobName(job));
  const update = (j) => { show(j); speak(j); };
  update(job);
  if (TERMINAL.has(job.status)) return;
  stopFollowing = watchJob(job.id, update, signOutIfRefused);
}

function uploadedTitle(job) {
  const name = jobName(job);
  switch (job.status) {
    case 'COMPLETED': return job.dryRun ? `${name} has been checked (dry run): this is what the import would do.` : `${name} has been imported.`;
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
