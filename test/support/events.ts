/** Small builders for EVENTS files, in Userpilot's import shape (docs/kinds/events.md). */
export const EVENT_COLUMNS = [
  'event_type', 'event_name', 'source', 'user_id', 'company_id', 'hostname', 'pathname', 'country_code',
  'screen_width', 'screen_height', 'operating_system', 'browser', 'browser_language', 'user_agent',
  'device_type', 'inserted_at', 'metadata',
] as const;

export type EventRow = Partial<Record<(typeof EVENT_COLUMNS)[number] | 'event_id', string>>;

export function eventRow(i: number, overrides: EventRow = {}): EventRow {
  return {
    event_type: 'page_view',
    event_name: '',
    source: 'web-client',
    user_id: `User-${i}`,
    company_id: `Company-${i % 7}`,
    hostname: 'campfire-example.userpilot.io',
    pathname: '/home/',
    country_code: 'DE',
    screen_width: '1086',
    screen_height: '696',
    operating_system: 'Mac',
    browser: 'Edge',
    browser_language: 'de-DE',
    user_agent: 'Edge - Mozilla/5.0 (Mac) AppleWebKit/537.36',
    device_type: 'Mobile',
    inserted_at: '2024-04-13 14:36:15.453788',
    metadata: `{"n": ${i}, "name": "User, \\"${i}\\""}`,
    ...overrides,
  };
}

const cell = (v: string | undefined) => (v === undefined ? '' : /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export function eventsCsv(rows: EventRow[], columns: readonly string[] = EVENT_COLUMNS): string {
  const lines = [columns.join(',')];
  for (const row of rows) lines.push(columns.map((c) => cell(row[c as keyof EventRow])).join(','));
  return `${lines.join('\n')}\n`;
}

export function eventsNdjson(rows: EventRow[]): string {
  return rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) {
      if (v === undefined || v === '') continue;
      if (k === 'metadata') out[k] = JSON.parse(v);
      else if (k === 'screen_width' || k === 'screen_height') out[k] = Number(v);
      else out[k] = v;
    }
    return JSON.stringify(out);
  }).join('\n') + '\n';
}

export function manyEvents(n: number, start = 0): EventRow[] {
  return Array.from({ length: n }, (_, i) => eventRow(start + i));
}
