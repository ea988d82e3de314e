/**
 * Deterministic Userpilot-shaped EVENTS files (docs/kinds/events.md) for the benchmark, written as CSV
 * and NDJSON in one pass over the same rows. Rows are produced in chunks and written with
 * backpressure, so a 1M-row run never holds a file in memory. The same seed and row count always
 * give byte-identical files; a smaller count gives a prefix of a larger one.
 */
import fs from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';

export const EVENT_COLUMNS = [
  'event_type', 'event_name', 'source', 'user_id', 'company_id', 'hostname', 'pathname', 'country_code',
  'screen_width', 'screen_height', 'operating_system', 'browser', 'browser_language', 'user_agent',
  'device_type', 'inserted_at', 'metadata',
] as const;

type Column = (typeof EVENT_COLUMNS)[number];
type EventRow = Record<Column, string>;

export interface GeneratedFiles {
  rows: number;
  csvPath?: string;
  csvBytes?: number;
  ndjsonPath?: string;
  ndjsonBytes?: number;
  seconds: number;
}

/** mulberry32: tiny, fast and good enough for test data; Math.random cannot be seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EVENT_NAMES = ['created_project', 'invited_teammate', 'exported_report', 'completed_onboarding', 'upgraded_plan', 'viewed_dashboard'];
const PATHNAMES = ['/home/', '/profile/settings/', '/projects/', '/reports/weekly/', '/billing/invoices/', '/onboarding/step-2/'];
const COUNTRIES = ['DE', 'US', 'FR', 'GB', 'PS', 'BR', 'IN', 'JP', 'ES', 'NL'];
const SYSTEMS = ['Mac', 'Windows', 'iOS', 'Android', 'Linux'];
const BROWSERS = ['Chrome', 'Safari', 'Edge', 'Firefox'];
const LANGUAGES = ['en-US', 'de-DE', 'fr-FR', 'es-ES', 'pt-BR'];
const DEVICES = ['Desktop', 'Mobile', 'Tablet'];
const PEOPLE = ['User-Alice', 'User-Bob', 'User-Carol', 'User-Dave', 'User-Erin'];
const INDUSTRIES = ['Software', 'Retail', 'Education', 'Healthcare', 'Finance'];
const SIZES = ['1-10', '11-50', '51-200', '200-500', '500+'];

/** 2023-06-01T00:00:00Z; rows spread over the following year, as a migrated history would be. */
const FIRST_EVENT_MS = Date.UTC(2023, 5, 1);
const YEAR_MS = 365 * 24 * 3600 * 1000;

/** Makes rows one after another; `next(i)` must be called with i = 0, 1, 2... */
function rowFactory(seed: number): (i: number) => EventRow {
  const random = prng(seed);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const seq = (i: number) => String(i % 1000).padStart(3, '0');

  const props = (n: number) => {
    let out = '';
    for (let p = 0; p < n; p++) out += `, "prop_${p}": "value_${int(0, 999)}"`;
    return out;
  };

  return (i) => {
    // Mix of the four event types, with the kind's rules: identify_company needs company_id,
    // track needs event_name, the others need user_id.
    const r = random();
    const type = r < 0.45 ? 'page_view' : r < 0.8 ? 'track' : r < 0.92 ? 'identify_user' : 'identify_company';
    const os = pick(SYSTEMS);
    const browser = pick(BROWSERS);
    const at = new Date(FIRST_EVENT_MS + Math.floor(random() * YEAR_MS)).toISOString();
    const micros = String(int(0, 999_999)).padStart(6, '0');
    const createdAt = String(1_690_000_000 + int(0, 40_000_000));

    let metadata: string;
    if (type === 'identify_user') metadata = `{"created_at": "${createdAt}", "name": "${pick(PEOPLE)}"${props(int(1, 3))}}`;
    else if (type === 'identify_company') metadata = `{"name": "Acme Labs ${int(1, 999)}, Inc.", "industry": "${pick(INDUSTRIES)}", "size": "${pick(SIZES)}"}`;
    else if (type === 'track') metadata = `{"created_at": "${createdAt}", "name": "${pick(PEOPLE)}"${props(int(0, 2))}}`;
    else metadata = random() < 0.5 ? '{}' : `{"referrer": "https://www.google.com/search", "title": "Weekly report ${int(1, 99)}"}`;

    return {
      event_type: type,
      event_name: type === 'track' ? pick(EVENT_NAMES) : '',
      source: 'web-client',
      // Companies are identified on their own half of the time: no user_id, still valid.
      user_id: type === 'identify_company' && random() < 0.5 ? '' : `User-${int(1, 9999)}-${seq(i)}`,
      company_id: `Company-${int(1, 999)}-${seq(i)}`,
      hostname: 'campfire-example.userpilot.io',
      pathname: pick(PATHNAMES),
      country_code: pick(COUNTRIES),
      screen_width: String(int(800, 1920)),
      screen_height: String(int(600, 1080)),
      operating_system: os,
      browser,
      browser_language: pick(LANGUAGES),
      user_agent: `${browser} - Mozilla/5.0 (${os}) AppleWebKit/537.36`,
      device_type: pick(DEVICES),
      inserted_at: `${at.slice(0, 10)} ${at.slice(11, 19)}.${micros}`,
      metadata,
    };
  };
}

// Only metadata can hold quotes or commas; it is always quoted, as in the seed's sample.
const csvLine = (row: EventRow) =>
  EVENT_COLUMNS.map((c) => (c === 'metadata' ? `"${row.metadata.replace(/"/g, '""')}"` : row[c])).join(',');

/** NDJSON as the seed shows it: empty fields left out, numbers as numbers, metadata as an object. */
function ndjsonLine(row: EventRow): string {
  const out: Record<string, unknown> = {};
  for (const c of EVENT_COLUMNS) {
    const v = row[c];
    if (v === '') continue;
    out[c] = c === 'metadata' ? JSON.parse(v) : c === 'screen_width' || c === 'screen_height' ? Number(v) : v;
  }
  return JSON.stringify(out);
}

/** Rows per write: big enough that write() calls are cheap, small enough to stay a few hundred KB. */
const CHUNK_ROWS = 1000;

async function write(stream: fs.WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

export async function generateEvents(opts: { rows: number; seed: number; csvPath?: string; ndjsonPath?: string }): Promise<GeneratedFiles> {
  const started = performance.now();
  const next = rowFactory(opts.seed);
  // Flushed to disk as they close (fsync): left dirty in the page cache, the kernel writes ~800 MB
  // back 30 s later (vm.dirty_expire_centisecs), in the middle of the first round's measurements.
  const csv = opts.csvPath ? fs.createWriteStream(opts.csvPath, { flush: true }) : null;
  const ndjson = opts.ndjsonPath ? fs.createWriteStream(opts.ndjsonPath, { flush: true }) : null;
  try {
    if (csv) await write(csv, `${EVENT_COLUMNS.join(',')}\n`);
    for (let start = 0; start < opts.rows; start += CHUNK_ROWS) {
      let csvChunk = '';
      let ndjsonChunk = '';
      const end = Math.min(start + CHUNK_ROWS, opts.rows);
      for (let i = start; i < end; i++) {
        const row = next(i);
        if (csv) csvChunk += `${csvLine(row)}\n`;
        if (ndjson) ndjsonChunk += `${ndjsonLine(row)}\n`;
      }
      if (csv) await write(csv, csvChunk);
      if (ndjson) await write(ndjson, ndjsonChunk);
    }
    csv?.end();
    ndjson?.end();
    await Promise.all([csv && finished(csv), ndjson && finished(ndjson)]);
  } finally {
    csv?.destroy();
    ndjson?.destroy();
  }
  const size = (p?: string) => (p ? fs.statSync(p).size : undefined);
  return {
    rows: opts.rows,
    csvPath: opts.csvPath,
    csvBytes: size(opts.csvPath),
    ndjsonPath: opts.ndjsonPath,
    ndjsonBytes: size(opts.ndjsonPath),
    seconds: (performance.now() - started) / 1000,
  };
}
