/** Announcements for screen readers: one polite live region, never faster than the eye. */
import { $ } from './dom.js';
import { fmtInt, fmtPercent, queuePlace } from './format.js';

let announceTimer = 0;
export function announce(text) {
  const region = $('announcer');
  clearTimeout(announceTimer);
  region.textContent = '';
  // A change of text after a tick is announced even when the text repeats.
  announceTimer = setTimeout(() => { region.textContent = text; }, 50);
}

/** Announces a job's status changes and every quarter of its progress. */
export function progressAnnouncer(name) {
  let lastStatus = null;
  let lastQuarter = -1;
  return (job) => {
    const quarter = Math.floor(job.percentComplete / 25);
    if (job.status !== lastStatus) {
      lastStatus = job.status;
      lastQuarter = quarter;
      announce(`${name}: ${statusSentence(job)}`);
    } else if (job.status === 'RUNNING' && quarter > lastQuarter && quarter < 4) {
      lastQuarter = quarter;
      announce(`${name}: ${fmtPercent(job.percentComplete)} done`);
    }
  };
}

function statusSentence(job) {
  switch (job.status) {
    case 'QUEUED': return queuePlace(job) ? `queued, ${queuePlace(job)}.` : 'queued, waiting to start.';
    case 'RUNNING': return `running, ${fmtPercent(job.percentComplete)} done.`;
    case 'COMPLETED': return `completed${job.dryRun ? ' (dry run)' : ''}: ${fmtInt(job.rowsImported)} rows imported, ${fmtInt(job.rowsFailed)} failed.`;
    case 'FAILED': return `failed. ${job.failureReason ?? ''}`.trim();
    case 'CANCELLED': return 'cancelled.';
    default: return job.status;
  }
}
