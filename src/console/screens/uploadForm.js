/** The upload form's fields: the file (chosen or dropped), the kind and its own fields, the options, read and checked. */
import { $, h } from '../dom.js';
import { fmtBytes } from '../format.js';
import { clearResult, showResult } from './uploadResult.js';

const fileInput = $('file-input');
const dropzone = $('dropzone');

export function showChosenFile() {
  const file = fileInput.files?.[0];
  const title = $('file-name');
  if (file) {
    title.replaceChildren(h('strong', {}, file.name), ' ', h('span', { class: 'muted' }, `(${fmtBytes(file.size)})`));
    dropzone.classList.add('has-file');
    $('file-help').textContent = 'Drop or choose another file to replace it';
  } else {
    title.replaceChildren('Drop a file here or ', h('span', { class: 'link-like' }, 'choose a file'));
    dropzone.classList.remove('has-file');
    $('file-help').textContent = 'CSV or NDJSON, up to 1 GiB';
  }
}

fileInput.addEventListener('change', () => {
  showChosenFile();
  clearResult();
  const kind = guessKind(fileInput.files?.[0]?.name);
  if (kind) { $('kind').value = kind; syncKindFields(); }
});

/** A file named like a kind ("users.csv", "2024-events.ndjson") preselects it. */
function guessKind(name) {
  if (!name) return null;
  const n = name.toLowerCase();
  if (/user[_-]?events|interactions/.test(n)) return 'USER_EVENTS';
  if (/events?\b|events?[_.-]/.test(n)) return 'EVENTS';
  if (/organi[sz]ations?|schools?/.test(n)) return 'ORGANISATIONS';
  if (/locations?/.test(n)) return 'LOCATIONS';
  if (/users?\b|users?[_.-]/.test(n)) return 'USERS';
  return null;
}

for (const type of ['dragenter', 'dragover']) {
  dropzone.addEventListener(type, (event) => {
    if (!event.dataTransfer?.types.includes('Files')) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    dropzone.classList.add('dragging');
  });
}
for (const type of ['dragleave', 'dragend']) {
  dropzone.addEventListener(type, (event) => {
    if (event.type === 'dragleave' && dropzone.contains(event.relatedTarget)) return;
    dropzone.classList.remove('dragging');
  });
}
dropzone.addEventListener('drop', (event) => {
  event.preventDefault();
  dropzone.classList.remove('dragging');
  const files = event.dataTransfer?.files;
  if (!files?.length) return;
  if (files.length > 1) {
    showResult('error', 'One file at a time', ['Drop a single CSV or NDJSON file.']);
    return;
  }
  fileInput.files = files;
  fileInput.dispatchEvent(new Event('change'));
});
// A file dropped next to the drop zone must not replace the page.
window.addEventListener('dragover', (event) => event.preventDefault());
window.addEventListener('drop', (event) => event.preventDefault());

function syncKindFields() {
  const kind = $('kind').value;
  const collection = kind === 'COLLECTION';
  const location = kind === 'LOCATIONS';
  $('collection-field').hidden = !collection;
  $('collection').disabled = !collection;
  $('collection').required = collection;
  $('location-field').hidden = !location;
  $('location-type').disabled = !location;
}
$('kind').addEventListener('change', syncKindFields);

/** The form as new: no file, the first kind, default options. */
export function resetUploadForm() {
  $('upload-form').reset();
  syncKindFields();
  showChosenFile();
}

/** The form's values as uploadImport's input, and what must change before it can be sent. */
export function readUploadInput() {
  const problems = [];
  const file = fileInput.files?.[0];
  if (!file) problems.push('Choose a file to import.');
  const input = { kind: $('kind').value };
  if (input.kind === 'COLLECTION') {
    const name = $('collection').value.trim();
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) problems.push('Give the collection a name: letters, digits, - and _, up to 64.');
    input.collection = name;
  }
  if (input.kind === 'LOCATIONS') input.locationType = $('location-type').value;
  if ($('format').value) input.format = $('format').value;
  if ($('dry-run').checked) input.dryRun = true;
  if ($('allow-duplicate').checked) input.allowDuplicateFile = true;
  const maxErrors = $('max-errors').value.trim();
  if (maxErrors !== '') {
    const n = Number(maxErrors);
    if (!Number.isInteger(n) || n < 0) problems.push('"Stop after this many failed rows" must be a whole number, 0 or more.');
    else input.maxErrors = n;
  }
  return { file, input, problems };
}

// The form as the page loads: the default kind's fields, no file.
syncKindFields();
showChosenFile();
