/**
 * Bulk work yields the CPU to the work people wait on. A parse thread of a long job runs as long
 * as its job does and can always use a core; beside it run the event loop that answers the API,
 * the uploads in progress, and small jobs that someone is waiting for. Below normal priority (from
 * its second batch on, parseThread.ts), the parse threads of long jobs take what those leave where
 * cores are short (several imports on a small machine), rather than an even share with them.
 *
 * Linux gives each thread its own nice value, set through the thread's id; elsewhere priority is
 * per process, and the thread keeps the process's.
 */
import fs from 'node:fs';
import os from 'node:os';

const BULK_WORK = os.constants.priority.PRIORITY_BELOW_NORMAL;

/** Lowers the calling thread's priority to below normal (never raises it); does nothing where threads have none of their own. */
export function runAsBulkWork(): void {
  if (process.platform !== 'linux') return;
  try {
    // /proc/thread-self links to "<pid>/task/<tid>".
    const threadId = Number(fs.readlinkSync('/proc/thread-self').split('/').at(-1));
    // A process started lower already (nice 15) stays there: raising it would need privilege, and is not the point.
    if (Number.isInteger(threadId) && threadId > 0 && os.getPriority(threadId) < BULK_WORK) os.setPriority(threadId, BULK_WORK);
  } catch {
    // No /proc (a sandbox), or not allowed: the thread runs at the process's priority, as before.
  }
}
