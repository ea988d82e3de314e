/** The job the job screen shows: its id and latest snapshot (jobDetail.js sets them, jobErrors.js reads them). */
export const shownJob = { id: null, job: null };
