/** The expected ways an import can be refused before a job exists; the API turns them into `userErrors`. */
export type UserErrorCode =
  | 'IMPORT_IN_PROGRESS' | 'FILE_TOO_LARGE' | 'SCHEMA_MISMATCH' | 'INVALID_FILE' | 'DUPLICATE_FILE'
  | 'BATCH_TOO_LARGE' | 'INVALID_INPUT' | 'NOT_FOUND';

export interface UserError {
  code: UserErrorCode;
  message: string;
  field?: string[];
  /** A refusal for the file's columns: the names the file gives them, as the server read them. */
  fileColumns?: string[];
}
