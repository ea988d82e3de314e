/** Which screen shows: the key form without a key, else by location.hash ("#/" home, "#/jobs/<id>" one job). */
import { apiKey } from './api.js';
import { $ } from './dom.js';
import { openJob, stopJobView } from './screens/jobDetail.js';
import { showJobsAgain } from './screens/jobList.js';

function showView(name) {
  for (const view of ['key-view', 'home-view', 'job-view']) $(view).hidden = view !== name;
  $('session').hidden = name === 'key-view';
}

export function route() {
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
    showJobsAgain();
    if (fromJob) $('jobs-title').focus();
  }
}
