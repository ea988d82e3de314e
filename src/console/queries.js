/**
 * Every GraphQL operation the console sends. No DOM here: the end-to-end test imports this
 * module to validate each operation against the server's schema.
 */

export const JOB_FIELDS = `
  id kind collection format status dryRun filename fileSize bytesProcessed
  rowsTotal rowsProcessed rowsImported rowsCreated rowsUpdated rowsUnchanged rowsDuplicate rowsFailed
  percentComplete insertRate queuePosition createdAt startedAt finishedAt elapsedSeconds failureReason errorReportUrl`;

export const JOBS_QUERY = `query ConsoleJobs($first: Int, $after: String, $last: Int, $before: String, $filter: JobFilter) {
  jobs(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount
    edges { cursor node { ${JOB_FIELDS} } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;
export const ERRORS_QUERY = `query ConsoleJobErrors($id: ID!, $first: Int, $after: String) {
  job(id: $id) {
    id
    errors(first: $first, after: $after) {
      totalCount
      edges { node { line column value message } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;
export const OUTCOMES_QUERY = `query ConsoleJobOutcomes($id: ID!, $first: Int, $after: String) {
  job(id: $id) {
    id
    outcomes(first: $first, after: $after) {
      totalCount
      edges { node { line outcome recordId changes { column from to } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;
export const UPLOAD_MUTATION = `mutation ConsoleUpload($input: UploadImportInput!) {
  uploadImport(input: $input) {
    job { ${JOB_FIELDS} }
    userErrors { code message field fileColumns }
  }
}`;
export const CANCEL_MUTATION = `mutation ConsoleCancel($id: ID!) {
  cancelJob(id: $id) { job { ${JOB_FIELDS} } userErrors { code message } }
}`;
export const JOB_QUERY = `query ConsoleJob($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`;
export const JOB_PROGRESS_SUBSCRIPTION = `subscription ConsoleJobProgress($id: ID!) { jobProgress(id: $id) { ${JOB_FIELDS} } }`;
export const CHECK_KEY_QUERY = 'query ConsoleCheckKey { jobs(first: 1) { totalCount } }';
const STAGED_FIELDS = 'id partSize expiresAt parts { number url received }';
export const CREATE_STAGED_MUTATION = `mutation ConsoleCreateStagedUpload($input: CreateStagedUploadInput!) {
  createStagedUpload(input: $input) { stagedUpload { ${STAGED_FIELDS} } userErrors { code message field } }
}`;
export const STAGED_QUERY = `query ConsoleStagedUpload($id: ID!) { stagedUpload(id: $id) { ${STAGED_FIELDS} } }`;
export const IMPORT_STAGED_MUTATION = `mutation ConsoleImportStagedUpload($input: ImportStagedUploadInput!) {
  importStagedUpload(input: $input) {
    job { ${JOB_FIELDS} }
    userErrors { code message field fileColumns }
  }
}`;
export const KIND_COLUMNS_QUERY = 'query ConsoleKindColumns($kind: ImportKind!) { kindColumns(kind: $kind) { name required } }';
