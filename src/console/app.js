/** Entry point of the import console: loads every screen, then wires what they share (sign-out, routing). */
// The console: sign in with an API key, upload a file, follow jobs live, page through jobs and row
// errors, download a job's error report (CSV). Plain browser ES modules, no build step: the markup
// is index.html, and each screen (screens/) only fills it in, wiring its own controls as it loads.
import './screens/header.js';
import './screens/upload.js';
import { route } from './router.js';
import { stopJobView } from './screens/jobDetail.js';
import { forgetJobs } from './screens/jobList.js';
import { showKeyProblem } from './screens/signIn.js';
import { clearResult, stopFollowingUpload } from './screens/uploadResult.js';
import { onSignOut } from './session.js';

onSignOut(() => {
  stopJobView();
  forgetJobs();
  stopFollowingUpload();
  clearResult();
});
onSignOut((message) => {
  showKeyProblem(message);
  route();
});

window.addEventListener('hashchange', route);
route();
