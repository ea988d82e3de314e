/** Display helpers: numbers, sizes, times, labels, and the small pieces every job is shown with. */

import { h } from './dom.js';

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayAndTime = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export const fmtInt = (n) => (n === null || n === undefined ? '–' : integer.format(n));

export function fmtBytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return unit === 0 ? `${integer.format(value)} ${units[0]}` : `${oneDecimal.format(value)} ${units[unit]}`;
}

export function fmtPercent(p) {
  if (p === null || p === undefined) return '–';
  return `${p >= 100 || p === 0 ? integer.format(p) : oneDecimal.format(p)}%`;
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 60) return `${oneDecimal.format(seconds)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 60) return `${m} min ${s} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Today: the time of day; before: the date as well. Full date and time in the title. */
export function timeElement(iso) {
  if (!iso) return document.createTextNode('–');
  const date = new Date(iso);
  const sameDay = date.toDateString() === new Date().toDateString();
  return h('time', { datetime: iso, title: full.format(date) }, sameDay ? timeOfDay.format(date) : dayAndTime.format(date));
}

export const fmtDateTime = (iso) => (iso ? full.format(new Date(iso)) : '–');

export const KIND_LABELS = {
  EVENTS: 'Events',
  USER_EVENTS: 'User events',
  USERS: 'Users',
  ORGANISATIONS: 'Organisations',
  LOCATIONS: 'Locations',
  COLLECTION: 'Collection',
};

export const STATUS_LABELS = {
  QUEUED: 'Queued',
  RUNNING: 'Running',
  COMPLETED: 'Completed',
  FAILED: 'Failed',
  CANCELLED: 'Cancelled',
};

export const kindLabel = (job) => (job.kind === 'COLLECTION' && job.collection ? `Collection ${job.collection}` : KIND_LABELS[job.kind] ?? job.kind);

/** How many jobs are ahead of a queued one: "2 ahead", "next"; null when it is not queued or its place is unknown. */
export function queuePlace(job) {
  if (job.status !== 'QUEUED' || job.queuePosition == null) return null;
  return job.queuePosition <= 1 ? 'next' : `${fmtInt(job.queuePosition - 1)} ahead`;
}

/** The job's status as a badge; a queued job's says its place: "Queued, 2 ahead". */
export function statusBadge(job) {
  const place = queuePlace(job);
  const label = STATUS_LABELS[job.status] ?? job.status;
  return h('span', { class: `badge badge-${job.status.toLowerCase()}` }, place ? `${label}, ${place}` : label);
}

export const jobName = (job) => job.filename || `${kindLabel(job)} job`;

/** Rows processed so far: "1,200 of 3,000" (`separator` " of " or " / ") while the total is known and the job runs. */
export function fmtProcessed(job, separator) {
  return job.rowsTotal != null && job.status !== 'COMPLETED' ? `${fmtInt(job.rowsProcessed)}${separator}${fmtInt(job.rowsTotal)}` : fmtInt(job.rowsProcessed);
}

/** "Jobs 11–20 of 26" for a page of `count` rows from the 0-based `from`; nothing for an empty page. */
export function fmtRange(noun, from, count, total) {
  return count ? `${noun} ${fmtInt(from + 1)}–${fmtInt(from + count)} of ${fmtInt(total)}` : '';
}

/** A job's progress bar: indeterminate while queued, coloured by status. */
export function showJobBar(bar, job) {
  if (job.status === 'QUEUED') bar.removeAttribute('value'); else bar.value = job.percentComplete;
  bar.dataset.status = job.status.toLowerCase();
}
