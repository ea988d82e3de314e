/** Sending the upload form: the file's bytes with their progress, then the outcome and a fresh jobs list. */
import { UnauthorizedError, uploadFile } from '../api.js';
import { announce } from '../announce.js';
import { $ } from '../dom.js';
import { fmtBytes, fmtPercent } from '../format.js';
import { UPLOAD_MUTATION } from '../queries.js';
import { handleError } from '../session.js';
import { loadJobs } from './jobList.js';
import { hasUnfinishedUpload, STAGED_THRESHOLD_BYTES, uploadStaged } from '../stagedUpload.js';
import { readUploadInput, resetUploadForm } from './uploadForm.js';
import { clearResult, showRefusal, showResult, showUploaded } from './uploadResult.js';
import { columnMapper } from './columnMapper.js';

let uploading = false;

$('upload-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (uploading) return;
  clearResult();
  const { file, input, problems } = readUploadInput();
  if (problems.length) {
    showResult('error', 'The import cannot start yet', problems);
    (file ? $('kind') : $('file-input')).focus();
    return;
  }

  await send(file, input);
});

/** Uploads `file` with `input`, shows its progress, then its job (and, for a dry run, the preview and its confirmation); a refusal for its columns offers to map them and send it again. */
async function send(file, input) {
  if (uploading) return;
  clearResult();
  uploading = true;
  const button = $('upload-button');
  button.disabled = true;
  button.textContent = 'Uploading…';
  const progress = $('upload-progress');
  const bar = $('upload-bar');
  const text = $('upload-progress-text');
  progress.hidden = false;
  bar.value = 0;
  // Large files go in parts, and continue after a reload; small ones in one request.
  const staged = file.size > STAGED_THRESHOLD_BYTES || hasUnfinishedUpload(file);
  text.textContent = `Uploading ${file.name}…`;
  announce(`Uploading ${file.name}.`);
  let lastQuarter = 0;

  const onProgress = (sent, total, resumed) => {
    const percent = total ? (sent / total) * 100 : 0;
    bar.value = percent;
    if (sent >= total) {
      bar.removeAttribute('value'); // the server is still checking the file: indeterminate
      text.textContent = `Uploaded ${fmtBytes(total)}; checking the file…`;
    } else {
      text.textContent = `${resumed ? 'Continuing' : 'Uploading'} ${file.name}: ${fmtBytes(sent)} of ${fmtBytes(total)} (${fmtPercent(Math.floor(percent))})`;
    }
    const quarter = Math.floor(percent / 25);
    if (quarter > lastQuarter && quarter < 4) { lastQuarter = quarter; announce(`Upload ${quarter * 25}% done.`); }
  };
  const upload = staged
    ? (({ promise, abort }) => ({ promise: promise.then((uploadImport) => ({ uploadImport })), abort }))(uploadStaged(file, input, onProgress))
    : uploadFile(UPLOAD_MUTATION, { input }, file, onProgress);

  try {
    const { uploadImport } = await upload.promise;
    if (uploadImport.userErrors.length || !uploadImport.job) {
      showRefusal(uploadImport.userErrors, uploadImport.resumableUntil);
      // A refusal for the file's columns names them as the server read them, whatever the file's packing (gzip, XLSX, UTF-16).
      const fileColumns = uploadImport.userErrors.find((e) => e.fileColumns?.length)?.fileColumns;
      const mapper = fileColumns ? await columnMapper(fileColumns, input.kind, (mapping) => send(file, { ...input, ...mapping })) : null;
      if (mapper) $('upload-result').append(mapper);
      $('upload-result').focus();
      return;
    }
    resetUploadForm();
    // Confirming a dry run's preview imports the same file, with the same options, for real.
    showUploaded(uploadImport.job, input.dryRun ? () => send(file, { ...input, dryRun: undefined }) : undefined);
    await loadJobs('first');
  } catch (err) {
    if (err instanceof UnauthorizedError) { handleError(err); return; }
    showResult('error', 'The upload did not finish', [err.message]);
    $('upload-result').focus();
  } finally {
    uploading = false;
    button.disabled = false;
    button.textContent = 'Upload and import';
    progress.hidden = true;
    bar.value = 0;
  }
}
