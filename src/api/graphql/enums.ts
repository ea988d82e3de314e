import { KINDS } from '../../kinds/index.js';
import { builder } from './builder.js';
import { TEXT_ENCODINGS } from '../../intake/textDecoding.js';

/** One value per kind in kinds/index.ts: adding a kind there adds it here. */
export const ImportKindEnum = builder.enumType('ImportKind', { values: Object.keys(KINDS) });
export const ImportFormatEnum = builder.enumType('ImportFormat', { values: ['CSV', 'NDJSON', 'XLSX'] as const });
export const TextEncodingEnum = builder.enumType('TextEncoding', {
  description: 'A text file\'s encoding; UTF-8 (with or without BOM) and UTF-16 with a BOM are recognised without being named',
  values: TEXT_ENCODINGS,
});
export const JobStatusEnum = builder.enumType('JobStatus', {
  values: ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const,
});
export const LocationTypeEnum = builder.enumType('LocationType', { values: ['STATE', 'DISTRICT', 'BLOCK', 'CLUSTER'] as const });
export const UserErrorCodeEnum = builder.enumType('UserErrorCode', {
  values: ['IMPORT_IN_PROGRESS', 'FILE_TOO_LARGE', 'SCHEMA_MISMATCH', 'INVALID_FILE', 'DUPLICATE_FILE',
    'BATCH_TOO_LARGE', 'INVALID_INPUT', 'NOT_FOUND'] as const,
});
