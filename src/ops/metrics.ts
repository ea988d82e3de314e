/**
 * Prometheus metrics (prom-client), served at /metrics. Counters move where the work happens
 * (the runner after each commit, the upload service after spooling); the job gauges are read
 * from the database at scrape time, so they are right across instances and restarts.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SqlExecutor } from '../db/database.js';
import { countActiveJobsByStatus } from '../jobs/jobStore.js';

export class Metrics {
  readonly registry = new Registry();
  readonly rowsImported = new Counter({ name: 'bulk_import_rows_imported_total', help: 'Rows written to their table', labelNames: ['kind'], registers: [this.registry] });
  readonly rowsFailed = new Counter({ name: 'bulk_import_rows_failed_total', help: 'Rows that failed validation', labelNames: ['kind'], registers: [this.registry] });
  readonly bytesUploaded = new Counter({ name: 'bulk_import_bytes_uploaded_total', help: 'Bytes of accepted uploads', registers: [this.registry] });
  readonly stagedPartPuts = new Counter({
    name: 'bulk_import_staged_part_puts_total', help: 'Part PUTs of staged uploads received by the service (folder spool), by outcome',
    labelNames: ['outcome'], registers: [this.registry],
  });
  readonly stagedBytesRead = new Counter({
    name: 'bulk_import_staged_bytes_read_total',
    help: 'Bytes of staged files read back by importStagedUpload: to check them whole (size, SHA-256, UTF-8), or to decode them',
    labelNames: ['purpose'], registers: [this.registry],
  });
  readonly jobDuration = new Histogram({
    name: 'bulk_import_job_duration_seconds',
    help: 'From start to end of jobs that ended on this instance',
    labelNames: ['kind', 'status'],
    buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });

  constructor(db: SqlExecutor) {
    collectDefaultMetrics({ register: this.registry, prefix: 'bulk_import_' });
    const jobs = new Gauge({
      name: 'bulk_import_jobs',
      help: 'Jobs by status (QUEUED, RUNNING) across all instances',
      labelNames: ['status'],
      registers: [this.registry],
      async collect() {
        const counts = await countActiveJobsByStatus(db);
        jobs.reset();
        for (const [status, n] of counts) jobs.set({ status }, n);
      },
    });
  }
}
