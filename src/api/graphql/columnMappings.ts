/** Column mappings: the input an import takes, the type a job and a saved mapping show, and the columnMappings query. */
import type { ColumnMappingEntry } from '../../kinds/columnMapping.js';
import { listColumnMappings, type SavedMapping } from '../../intake/columnMappingStore.js';
import { builder } from './builder.js';
import { ImportKindEnum } from './enums.js';
import { KINDS } from '../../kinds/index.js';

export const ColumnMappingInput = builder.inputType('ColumnMappingInput', {
  description: "One of the file's columns and the kind's column it is (matched as header names are); to: null ignores it",
  fields: (t) => ({
    from: t.string({ required: true, description: "A name in the file's header (CSV, XLSX) or a key of its first record (NDJSON)" }),
    to: t.string({ required: false, description: "The kind's column; null: the column is ignored" }),
  }),
});

export type InputFields = Parameters<Parameters<typeof builder.inputType>[1]['fields']>[0];

/** How a file's columns are read: the fields every file import's input has (uploadImport, importFromUrl, importStagedUpload). */
export const csvReadingFields = (t: InputFields) => ({
  delimiter: t.string({ description: 'CSV: one character; default: detected from the header line among , ; tab | (a .tsv file: tab)' }),
  columnMapping: t.field({ type: [ColumnMappingInput], description: "CSV, XLSX and NDJSON: the kind's column for each of the file's that is named otherwise (to: null ignores one). Default: a saved mapping whose headers are the file's (an NDJSON file's: its first record's keys)" }),
  saveMappingAs: t.string({ description: 'Saves columnMapping under this name for later files with the same header (replacing a mapping of that name)' }),
});

export const ColumnMappingEntryRef = builder.objectRef<ColumnMappingEntry>('ColumnMappingEntry').implement({
  description: "One of a file's columns and the kind's column it is; to is null for a column that is ignored",
  fields: (t) => ({
    from: t.exposeString('from'),
    to: t.string({ nullable: true, resolve: (e) => e.to }),
  }),
});

const ColumnMappingRef = builder.objectRef<SavedMapping>('ColumnMapping').implement({
  description: "A tenant's saved column mapping (uploadImport's saveMappingAs). It applies unasked to a later file of its kind whose header has the same names as `headers`",
  fields: (t) => ({
    name: t.exposeString('name'),
    kind: t.field({ type: ImportKindEnum, resolve: (m) => m.kind as never }),
    mapping: t.field({ type: [ColumnMappingEntryRef], resolve: (m) => m.mapping }),
    headers: t.exposeStringList('headers', { description: 'The header of the file it was saved with' }),
    updatedAt: t.field({ type: 'DateTime', resolve: (m) => m.updatedAt }),
  }),
});

builder.queryFields((t) => ({
  columnMappings: t.field({
    type: [ColumnMappingRef],
    description: "The tenant's saved column mappings, newest first; of one kind when kind is given",
    args: { kind: t.arg({ type: ImportKindEnum, required: false }) },
    resolve: (_root, { kind }, ctx) => listColumnMappings(ctx.db, ctx.tenant.id, kind),
  }),
}));

const KindColumnRef = builder.objectRef<{ name: string; required: boolean }>('KindColumn').implement({
  description: "One of a kind's columns: the name a file's header (or a columnMapping's to) gives it",
  fields: (t) => ({ name: t.exposeString('name'), required: t.exposeBoolean('required') }),
});

builder.queryFields((t) => ({
  kindColumns: t.field({
    type: [KindColumnRef],
    description: "A kind's columns, in order: what a columnMapping maps a file's columns to",
    args: { kind: t.arg({ type: ImportKindEnum, required: true }) },
    resolve: (_root, { kind }) => (KINDS[kind]?.columns ?? []).map((c) => ({ name: c.name, required: c.required === true })),
  }),
}));
