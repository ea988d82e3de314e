/**
 * USERS: Sunbird's users. A row with USER ID updates that user; otherwise the user is
 * created, or updated when its External ID is already known (upsert on external id). SCHOOL ID
 * names the user's organisation, by its id or its external id.
 *
 * Empty cells, one rule for every column: a cell that is empty or only spaces (in NDJSON also
 * null or a missing field) gives no value. Creating a user, the column stays empty (NULL). In an
 * update it leaves the stored value as it is: an import replaces a value with another valid one
 * and never clears it. So the rules on what a user must have (NAME; MOBILE PHONE or EMAIL; SCHOOL
 * ID or External ID) apply to rows that create a user; an update keeps what the user has.
 */
import { recordToUpdate, type ErrorSink, type ImportKind, type KindColumn, type UpsertRules } from './types.js';
import { oneOf, text } from './values.js';

const columns: KindColumn[] = [
  { name: 'NAME', dbColumn: 'name', required: true },
  { name: 'MOBILE PHONE', dbColumn: 'phone' },
  { name: 'EMAIL', dbColumn: 'email' },
  { name: 'SCHOOL ID', dbColumn: 'organisation_id' },
  { name: 'USER_TYPE', dbColumn: 'user_type' },
  { name: 'ROLES', dbColumn: 'roles' },
  { name: 'USER ID', dbColumn: 'id' },
  { name: 'External ID', dbColumn: 'external_id' },
];
const NAME = 0, PHONE = 1, EMAIL = 2, SCHOOL_ID = 3, USER_TYPE = 4, ROLES = 5, USER_ID = 6, EXTERNAL_ID = 7;

/** Sunbird's organisation roles: the names a ROLES cell may list. */
export const KNOWN_ROLES = [
  'PUBLIC', 'ORG_ADMIN', 'ORG_MODERATOR', 'CONTENT_CREATOR', 'CONTENT_REVIEWER', 'BOOK_CREATOR', 'BOOK_REVIEWER',
  'COURSE_CREATOR', 'COURSE_MENTOR', 'COURSE_ADMIN', 'REPORT_VIEWER', 'FLAG_REVIEWER', 'ANNOUNCEMENT_SENDER',
  'TEACHER_BADGE_ISSUER', 'PROGRAM_MANAGER', 'PROGRAM_DESIGNER', 'MEMBERSHIP_MANAGEMENT',
] as const;
const KNOWN = new Set<string>(KNOWN_ROLES);

// A phone number: 7 to 15 digits (E.164's limit), optionally after a +; spaces and dashes between are allowed.
const PHONE_RE = /^\+?\d{7,15}$/;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** The rule above: a cell of only spaces gives no value, like an empty one. */
const given = (value: unknown): unknown => (typeof value === 'string' && value.trim() === '' ? null : value);

function checkPhone(value: unknown, fail: ErrorSink): string | null {
  const s = text(value, 'MOBILE PHONE', fail);
  if (s === null) return null;
  const compact = s.replace(/[\s-]/g, '');
  if (PHONE_RE.test(compact)) return compact;
  fail('MOBILE PHONE', s, 'MOBILE PHONE must be a phone number: 7 to 15 digits, optionally after a +');
  return null;
}

function checkEmail(value: unknown, fail: ErrorSink): string | null {
  const s = text(value, 'EMAIL', fail);
  if (s === null) return null;
  if (EMAIL_RE.test(s.trim())) return s.trim();
  fail('EMAIL', s, 'EMAIL must be an email address such as name@example.org');
  return null;
}

/** ROLES: a comma-separated list of known role names in capitals; written as a Postgres text[] literal. */
function checkRoles(value: unknown, fail: ErrorSink): string | null {
  const s = text(value, 'ROLES', fail);
  if (s === null) return null;
  const roles = s.split(',').map((r) => r.trim()).filter((r) => r !== '');
  // Separators alone list no role: an empty cell, which leaves a user's roles as they are.
  if (roles.length === 0) return null;
  for (const role of roles) {
    if (KNOWN.has(role)) continue;
    if (KNOWN.has(role.toUpperCase())) fail('ROLES', s, `ROLES must be in capital letters: "${role}" should be ${role.toUpperCase()}`);
    else fail('ROLES', s, `ROLES has an unknown role "${role}"; known roles: ${KNOWN_ROLES.join(', ')}`);
    return null;
  }
  return `{${[...new Set(roles)].join(',')}}`;
}

/** What a new user must have; an update keeps what the stored user has (see the rule above). */
function requireOfNewUser(values: readonly (string | null)[], fail: ErrorSink): void {
  if (values[NAME] === null) fail('NAME', null, 'NAME is required');
  if (values[PHONE] === null && values[EMAIL] === null) fail('MOBILE PHONE', null, 'MOBILE PHONE or EMAIL is required');
  if (values[SCHOOL_ID] === null && values[EXTERNAL_ID] === null) fail('SCHOOL ID', null, 'SCHOOL ID or External ID is required');
}

const upsert: UpsertRules = {
  columns: ['name', 'phone', 'email', 'organisation_id', 'user_type', 'roles', 'external_id'],
  keyColumn: 'external_id',
  references: [{ column: 'organisation_id', kind: 'ORGANISATIONS' }],
  keyTaken: (id) => ({ column: 'External ID', message: `External ID "${id}" already belongs to another user` }),
  lookups: [
    { kind: 'USERS', idColumns: [USER_ID], keyColumns: [EXTERNAL_ID] },
    { kind: 'ORGANISATIONS', idColumns: [SCHOOL_ID], keyColumns: [SCHOOL_ID] },
  ],
  decide({ values }, find, _job, fail) {
    let organisationId: string | null = null;
    const schoolId = values[SCHOOL_ID];
    if (schoolId !== null) {
      const organisations = find('ORGANISATIONS');
      const school = organisations.byId(schoolId) ?? organisations.byKey(schoolId);
      if (!school) fail('SCHOOL ID', schoolId, `SCHOOL ID "${schoolId}" does not name an organisation of this tenant`);
      else organisationId = school.id;
    }
    const id = recordToUpdate(find('USERS'), { column: 'USER ID', id: values[USER_ID], noun: 'a user' }, values[EXTERNAL_ID], fail);
    if (id === null && values[USER_ID] === null) requireOfNewUser(values, fail);
    return {
      id,
      key: values[EXTERNAL_ID],
      values: [values[NAME], values[PHONE], values[EMAIL], organisationId, values[USER_TYPE], values[ROLES], values[EXTERNAL_ID]],
    };
  },
};

export const users: ImportKind = {
  name: 'USERS',
  table: 'users',
  columns,
  facetColumn: 'USER_TYPE',
  upsert,
  validate(raw, fail) {
    const values = raw.map(given);
    return [
      text(values[NAME], 'NAME', fail),
      checkPhone(values[PHONE], fail),
      checkEmail(values[EMAIL], fail),
      text(values[SCHOOL_ID], 'SCHOOL ID', fail),
      oneOf(values[USER_TYPE], 'USER_TYPE', ['teacher', 'other'], fail),
      checkRoles(values[ROLES], fail),
      text(values[USER_ID], 'USER ID', fail),
      text(values[EXTERNAL_ID], 'External ID', fail),
    ];
  },
};
