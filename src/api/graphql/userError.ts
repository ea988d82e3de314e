import type { UserError as UserErrorValue } from '../../intake/importService.js';
import { builder } from './builder.js';
import { UserErrorCodeEnum } from './enums.js';

/** Expected failures (Shopify style): a payload carries either its object or these. */
export const UserErrorRef = builder.objectRef<UserErrorValue>('UserError').implement({
  fields: (t) => ({
    code: t.field({ type: UserErrorCodeEnum, resolve: (e) => e.code }),
    message: t.exposeString('message'),
    field: t.stringList({ nullable: true, resolve: (e) => e.field ?? null }),
    fileColumns: t.stringList({
      nullable: true,
      description: "On a refusal for the file's columns (SCHEMA_MISMATCH, or a columnMapping that does not fit): the names the file gives its columns, as the server read them (a CSV's or an XLSX sheet's header, an NDJSON file's first record's keys; after gzip and any encoding), which a columnMapping maps `from`. Null on other errors.",
      resolve: (e) => e.fileColumns ?? null,
    }),
  }),
});
