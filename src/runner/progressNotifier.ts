/** Tells a job's subscribers it moved on, at most once per PROGRESS_INTERVAL_MS unless forced (a start or an end). */
import type { Logger } from '../logger.js';
import type { ProgressBus } from '../progress/progressBus.js';

export function progressNotifier(bus: ProgressBus, jobId: string, intervalMs: number, log: Logger): (force?: boolean) => void {
  let lastNotice = 0;
  return (force = false) => {
    const now = Date.now();
    if (!force && now - lastNotice < intervalMs) return;
    lastNotice = now;
    bus.publishProgress(jobId).catch((err) => log.warn({ err }, 'progress notice failed'));
  };
}
