/** Types for queries.js (the browser loads the .js as is; tests import it to validate the operations). */
export declare const JOB_FIELDS: string;
export declare const JOBS_QUERY: string;
export declare const ERRORS_QUERY: string;
export declare const OUTCOMES_QUERY: string;
export declare const UPLOAD_MUTATION: string;
export declare const CANCEL_MUTATION: string;
export declare const JOB_QUERY: string;
export declare const JOB_PROGRESS_SUBSCRIPTION: string;
export declare const CHECK_KEY_QUERY: string;
export declare const CREATE_STAGED_MUTATION: string;
export declare const STAGED_QUERY: string;
export declare const IMPORT_STAGED_MUTATION: string;
export declare const KIND_COLUMNS_QUERY: string;
