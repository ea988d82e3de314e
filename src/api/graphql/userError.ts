import type { UserError as UserErrorValue } from '../../intake/importService.js';
import { builder } from './builder.js';
import { UserErrorCodeEnum } from './enums.js';

/** Expected failures (Shopify style): a payload carries either its object or these. */
export const UserErrorRef = builder.objectRef<UserErrorValue>('UserError').implement({
  fields: (t) => ({
    code: t.field({ type: UserErrorCodeEnum, resolve: (e) => e.code }),
    message: t.exposeString('message'),
    field: t.stringList({ nullable: true, resolve: (e) => e.field ?? null }),
  }),
});
