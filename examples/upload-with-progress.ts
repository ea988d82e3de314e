// Upload a file and follow its import live, with the client that ships in src/client.
// Run: BULK_IMPORT_KEY=... npx tsx examples/upload-with-progress.ts events.csv
import { BulkImportClient } from '../src/client/bulkImportClient.js';

const client = new BulkImportClient({
  url: process.env.BULK_IMPORT_URL ?? 'http://localhost:4000/graphql',
  key: process.env.BULK_IMPORT_KEY!,
});

const { job, userErrors } = await client.upload(process.argv[2], { kind: 'EVENTS' }, (sent, total) => {
  console.log(`uploaded ${Math.round((sent / total) * 100)}%`);
});
if (!job) throw new Error(userErrors.map((e) => `${e.code}: ${e.message}`).join('\n'));

const final = await client.follow(job.id, (progress) => {
  console.log(`${progress.status} ${progress.percentComplete}% ${progress.rowsImported} imported, ${progress.rowsFailed} failed`);
});
console.log(`done: ${final.status}, ${final.rowsImported} rows imported, ${final.rowsFailed} failed`);
