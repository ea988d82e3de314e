/**
 * Bulk work yields the CPU to the work people wait on. A parse thread runs as long as its job
 * does and can always use a core; beside it run the event loop that answers the API, the uploads
 * in progress, and Postgres' backends committing the thread's own batches, which the import waits
 * on. Where cores are short (two imports on a small machine), the scheduler then runs those first
 * and the parse threads in what is left, instead of slicing the cores evenly between all of them.
 *
 * Linux gives each thread its own nice value, set through the thread's id; elsewhere priority is
 * per process, and the thread keeps the process's.
 */
import fs from 'node:fs';
import os from 'node:os';

/** Lowers the calling thread's priority; does nothing where threads have none of their own. */
export function runAsBulkWork(): void {
  if (process.platform !== 'linux') return;
  try {
    // /proc/thread-self links to "<pid>/task/<tid>".
    const threadId = Number(fs.readlinkSync('/proc/thread-self').split('/').at(-1));
    if (Number.isInteger(threadId) && threadId > 0) os.setPriority(threadId, os.constants.priority.PRIORITY_BELOW_NORMAL);
  } catch {
    // No /proc (a sandbox), or not allowed: the thread runs at the process's priority, as before.
  }
}
