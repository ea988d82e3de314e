/**
 * WebSocket limits, at the wire level (raw graphql-transport-ws): a client that never says
 * connection_init is closed (4408); a tenant's open subscriptions are capped, per tenant and not
 * per socket, and a slot comes back whichever way a subscription ends; subscriptions over HTTP are
 * refused, so the cap cannot be gone around; operations over the GraphQL limits don't run over
 * WebSocket either, and fail alone; sockets waiting for connection_init are capped and may send
 * only small messages, authenticated ones up to MAX_JSON_BODY_BYTES (the memory this bounds:
 * websocketMemory.test.ts); a client that stops reading doesn't stop the server, and still gets
 * the terminal state once it reads again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobDocument, SecJobProgressDocument, UploadImportDocument } from '../src/generated/gql/graphql.js';
import WebSocket from 'ws';
import type { GraphQLTestClient } from './support/client.js';
import { eventRow, eventsCsv, manyEvents } from './support/events.js';
import { jobUuid } from './support/jobs.js';
import { postGraphqlOnNewConnection, RawGraphqlSocket, type WsMessage } from './support/rawGraphql.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const MISSING_JOB_ID = Buffer.from('Job:00000000-0000-4000-8000-000000000000').toString('base64');
const TOO_MANY = /Too many open subscriptions/;

async function uploadJob(client: GraphQLTestClient, name: string, content: string): Promise<string> {
  const { status, body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name, content });
  expect(status).toBe(200);
  expect(body.data?.uploadImport.userErrors).toEqual([]);
  return body.data!.uploadImport.job!.id;
}

const nexts = (messages: WsMessage[]) => messages.filter((m) => m.type === 'next');

describe('connections and the subscription cap (3 per tenant; no workers, so jobs stay QUEUED)', () => {
  let t: TestApp;
  let a: GraphQLTestClient;
  let b: GraphQLTestClient;
  const aJobs: string[] = [];
  let bJob: string;
  const sockets: RawGraphqlSocket[] = [];
  const open = (key: string | null) => {
    const socket = new RawGraphqlSocket(t.wsUrl, key);
    sockets.push(socket);
    return socket;
  };

  /** Subscribes to jobProgress(id) as `id` says and resolves with the first message: a snapshot (next) or an error. */
  async function first(socket: RawGraphqlSocket, opId: string, jobId: string): Promise<WsMessage> {
    socket.subscribe(opId, SecJobProgressDocument, { id: jobId });
    await socket.until(`a first answer to ${opId}`, () => socket.of(opId).length > 0);
    return socket.of(opId)[0];
  }

  /** Retries a subscription while the cap refuses it (a slot is freed asynchronously); resolves with its first snapshot. */
  async function eventually(socket: RawGraphqlSocket, opId: string, jobId: string): Promise<WsMessage> {
    const deadline = Date.now() + 5000;
    for (let n = 0; ; n++) {
      const answer = await first(socket, `${opId}-${n}`, jobId);
      if (answer.type === 'next') return answer;
      expect(JSON.stringify(answer.payload)).toMatch(TOO_MANY);
      if (Date.now() > deadline) throw new Error(`${opId} still refused after 5 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    t = await startTestApp({ workerConcurrency: 0, maxSubscriptionsPerTenant: 3, maxActiveJobsPerTenant: 3 });
    a = await t.clientFor('acme');
    b = await t.clientFor('globex');
    for (let i = 0; i < 3; i++) aJobs.push(await uploadJob(a, `a${i}.csv`, eventsCsv(manyEvents(3, i * 10))));
    bJob = await uploadJob(b, 'b.csv', eventsCsv(manyEvents(3)));
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await t?.close();
  });

  it('closes a client that never sends connection_init with 4408', async () => {
    const silent = open(null);
    await silent.opened;
    const { code } = await silent.closedWith(8000);
    expect(code).toBe(4408);
    expect(silent.messages).toEqual([]);
  });

  it('closes a client that subscribes before connection_init (4401), and runs nothing', async () => {
    const rude = open(null);
    await rude.opened;
    rude.subscribe('x', SecJobProgressDocument, { id: aJobs[0] });
    const { code } = await rude.closedWith();
    expect(code).toBe(4401);
    expect(nexts(rude.messages)).toEqual([]);
  });

  it('caps a tenant at 3 open subscriptions across its sockets; other tenants are unaffected; a slot comes back when one ends', async () => {
    const s1 = await open(a.key).ready();
    const s2 = await open(a.key).ready();
    expect((await first(s1, 'a1', aJobs[0])).type).toBe('next');
    expect((await first(s1, 'a2', aJobs[1])).type).toBe('next');
    expect((await first(s2, 'a3', aJobs[2])).type).toBe('next');

    // A 4th, on either socket or a new one: refused with a clear error; the socket stays open.
    const fourth = await first(s2, 'a4', aJobs[0]);
    expect(fourth.type).toBe('error');
    expect(JSON.stringify(fourth.payload)).toMatch(TOO_MANY);
    const s3 = await open(a.key).ready();
    const fifth = await first(s3, 'a5', aJobs[1]);
    expect(JSON.stringify(fifth.payload)).toMatch(TOO_MANY);
    expect(nexts(s3.of('a5'))).toEqual([]);
    expect(s2.closed).toBeNull();
    expect(s3.closed).toBeNull();

    // Another tenant, meanwhile: its own 3.
    const sb = await open(b.key).ready();
    for (const id of ['b1', 'b2', 'b3']) {
      const answer = await first(sb, id, bJob);
      expect(answer.type).toBe('next');
      expect(answer.payload.data.jobProgress).toMatchObject({ id: bJob, status: 'QUEUED' });
    }

    // The refused ones did not take a slot; the open ones keep streaming.
    const before = nexts(s2.of('a3')).length;
    await s2.until('more snapshots on a3', () => nexts(s2.of('a3')).length > before);

    // One completes: a new one fits.
    s1.complete('a1');
    const again = await eventually(s3, 'a6', aJobs[0]);
    expect(again.payload.data.jobProgress).toMatchObject({ id: aJobs[0], status: 'QUEUED' });
    expect(JSON.stringify((await first(s3, 'a7', aJobs[0])).payload)).toMatch(TOO_MANY);

    // A socket that closes gives back all of its subscriptions (s1 holds a2).
    s1.close();
    await eventually(s3, 'a8', aJobs[1]);
    for (const s of [s2, s3, sb]) s.close();
  });

  it('does not count subscriptions that ended at once (unknown job, invalid document) against the cap', async () => {
    const c = await t.clientFor('initech');
    const cJob = await uploadJob(c, 'c.csv', eventsCsv(manyEvents(3)));
    const s = await open(c.key).ready();
    for (let i = 0; i < 5; i++) {
      s.subscribe(`missing${i}`, SecJobProgressDocument, { id: MISSING_JOB_ID });
      expect(JSON.stringify(await s.settled(`missing${i}`))).toMatch(/not found/i);
      s.subscribe(`invalid${i}`, 'subscription { jobProgress(id: "x") { nope } }');
      expect(JSON.stringify(await s.settled(`invalid${i}`))).toMatch(/nope/);
    }
    for (const id of ['live1', 'live2', 'live3']) {
      const answer = await first(s, id, cJob);
      expect(answer.type, JSON.stringify(answer)).toBe('next');
    }
  });

  /** A new tenant with one QUEUED job, and a socket of its own. */
  async function freshTenant(name: string) {
    const client = await t.clientFor(name);
    const job = await uploadJob(client, `${name}.csv`, eventsCsv(manyEvents(3)));
    return { client, job, socket: await open(client.key).ready() };
  }

  it('does not run an over-limit mutation sent over WebSocket', async () => {
    const { client, job: target, socket: s } = await freshTenant('hooli');
    const aliases = Array.from({ length: 16 }, (_, i) => `c${i}: cancelJob(id: "${target}") { job { status } }`).join(' ');
    s.subscribe('m', `mutation { ${aliases} }`);
    await s.until('an answer or a close', () => s.closed !== null || s.of('m').some((m) => m.type === 'error' || m.type === 'complete'), 10_000, true);
    expect(nexts(s.of('m'))).toEqual([]);
    expect(JSON.stringify(s.messages)).not.toMatch(TOO_MANY); // refused for its aliases, not for the cap
    const { job } = await client.data(JobDocument, { id: target });
    expect(job?.status).toBe('QUEUED');
    const [row] = await t.app.db.query<{ cancel_requested: boolean }>('select cancel_requested from import_jobs where id = $1', [jobUuid(target)]);
    expect(row.cancel_requested).toBe(false);
  });

  // Regression (fixed) (src/api/http/websocket.ts, onSubscribe): `parse` and `validate` throw for a document over a
  // graphql-armor limit (depth, aliases, tokens, cost) or with a syntax error, and the throw is not
  // caught: graphql-ws treats it as an internal error, prints it with its stack to stderr
  // (console.error, outside the app's logger) and closes the whole connection with 4500, taking
  // every other subscription on that socket down with it. Over HTTP the same document gets a
  // GraphQL error. It should get an `error` message for that operation id, and the socket and its
  // other subscriptions should live on.
  it('answers an over-limit operation with an error for that operation, keeping the connection and its other subscriptions', async () => {
    const { job, socket: s } = await freshTenant('umbrella');
    await eventually(s, 'keep', job);
    s.subscribe('deep', `{ __type(name: "Job") { fields { type { ${'ofType { '.repeat(8)}name${' }'.repeat(8)} } } } }`);
    await s.until('an answer to the deep query', () => s.closed !== null || s.of('deep').length > 0, 10_000, true);
    expect(s.closed).toBeNull();
    expect(s.of('deep')[0]).toMatchObject({ type: 'error' });
    expect(JSON.stringify(s.of('deep')[0].payload)).toMatch(/depth limit/i);
    const before = nexts(s.of('keep-0')).length;
    await s.until('the other subscription to go on', () => nexts(s.of('keep-0')).length > before);
  });

  // Regression (fixed) (src/api/http/variableCostPlugin.ts): the cost rule throws its error instead of
  // reporting it; with page sizes given as variables the throw came at execution, where nothing
  // caught it, and graphql-ws closed the whole socket with 4500.
  it('answers an operation over the cost limit with an error for it alone, page sizes written out or given as variables', async () => {
    const { job, socket: s } = await freshTenant('soylent');
    await eventually(s, 'keep', job);
    const errorsOfJobs = (first: string) => `jobs(first: 100) { edges { node { errors(first: ${first}) { edges { node { line column value message } } } } } }`;
    s.subscribe('literal', `{ ${errorsOfJobs('1000')} }`);
    s.subscribe('variable', `query ($n: Int) { ${errorsOfJobs('$n')} }`, { n: 1000 });
    for (const id of ['literal', 'variable']) {
      const answer = await s.settled(id);
      expect(JSON.stringify(answer)).toMatch(/cost limit of 100000 exceeded/i);
      expect(answer.some((m) => m.payload?.data)).toBe(false);
    }
    expect(s.closed).toBeNull();
    const before = nexts(s.of('keep-0')).length;
    await s.until('the other subscription to go on', () => nexts(s.of('keep-0')).length > before);
    // The same query within the limit runs on the same socket.
    s.subscribe('cheap', `query ($n: Int) { ${errorsOfJobs('$n')} }`, { n: 1 });
    expect(nexts(await s.settled('cheap'))[0].payload).toMatchObject({ data: { jobs: { edges: [expect.anything()] } } });
  });

  // Regression (fixed): a subscribe whose operationName names no operation of its document was
  // refused by graphql-ws after onSubscribe had counted it, and nothing gave the slot back.
  it('gives a subscribe that names no operation of its document an error and no slot', async () => {
    const { job, socket: s } = await freshTenant('tyrell');
    const follow = 'subscription Follow($id: ID!) { jobProgress(id: $id) { id status } }';
    for (let i = 0; i < 5; i++) {
      s.send({ id: `named${i}`, type: 'subscribe', payload: { query: follow, variables: { id: job }, operationName: 'Nope' } });
      expect(JSON.stringify(await s.settled(`named${i}`))).toMatch(/Unknown operation named \\"Nope\\"/);
      s.send({ id: `unnamed${i}`, type: 'subscribe', payload: { query: `${follow} subscription Other($id: ID!) { jobProgress(id: $id) { id } }`, variables: { id: job } } });
      expect(JSON.stringify(await s.settled(`unnamed${i}`))).toMatch(/Must provide operation name/);
    }
    for (const id of ['live1', 'live2', 'live3']) {
      s.send({ id, type: 'subscribe', payload: { query: follow, variables: { id: job }, operationName: 'Follow' } });
      await s.until(`a first answer to ${id}`, () => s.of(id).length > 0);
      expect(s.of(id)[0].type, JSON.stringify(s.of(id))).toBe('next');
    }
    expect(JSON.stringify((await first(s, 'one-too-many', job)).payload)).toMatch(TOO_MANY);
  });

  it('refuses subscriptions over HTTP (server-sent events, multipart, JSON) with 400, pointing at WebSocket; they neither run nor take or free a slot', async () => {
    const { client, job, socket: s } = await freshTenant('cyberdyne');
    const query = 'subscription ($id: ID!) { jobProgress(id: $id) { id status } }';
    const overHttp = async () => {
      for (const accept of ['text/event-stream', 'multipart/mixed', 'application/json', 'application/graphql-response+json']) {
        const res = await fetch(t.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${client.key}` },
          body: JSON.stringify({ query, variables: { id: job } }),
          signal: AbortSignal.timeout(5000),
        });
        const text = await res.text();
        expect(res.status, `${accept}: ${text}`).toBe(400);
        expect(text).toMatch(/over WebSocket only/);
        expect(text).not.toMatch(/QUEUED|"jobProgress"/);
      }
      const get = await fetch(`${t.url}?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(JSON.stringify({ id: job }))}`, {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${client.key}` }, signal: AbortSignal.timeout(5000),
      });
      expect(get.status).toBe(400);
      expect(await get.text()).not.toMatch(/QUEUED/);
    };
    // With no subscription open, and with all three slots taken over WebSocket.
    await overHttp();
    for (const id of ['w1', 'w2', 'w3']) expect((await first(s, id, job)).type).toBe('next');
    for (let i = 0; i < 5; i++) await overHttp();
    expect(JSON.stringify((await first(s, 'w4', job)).payload)).toMatch(TOO_MANY);
    s.complete('w1');
    await eventually(s, 'w5', job);
    expect(JSON.stringify((await first(s, 'w6', job)).payload)).toMatch(TOO_MANY);
  });

  // Regression (fixed): same cause as above; a plain syntax error in one subscribe message closes the connection (4500).
  it('answers a syntax error with an error for that operation, keeping the connection', async () => {
    const { socket: s } = await freshTenant('vandelay');
    s.subscribe('broken', 'subscription { jobProgress(');
    await s.until('an answer to the broken document', () => s.closed !== null || s.of('broken').length > 0, 10_000, true);
    expect(s.closed).toBeNull();
    expect(s.of('broken')[0]).toMatchObject({ type: 'error' });
  });
});

describe('what a socket may send (at most 3 waiting for connection_init; messages up to 100,000 bytes once authenticated)', () => {
  let t: TestApp;
  let client: GraphQLTestClient;
  const sockets: RawGraphqlSocket[] = [];
  const open = (key: string | null) => {
    const socket = new RawGraphqlSocket(t.wsUrl, key);
    sockets.push(socket);
    return socket;
  };

  /** The HTTP status the upgrade request gets: 101 when it becomes a WebSocket (closed again at once). */
  const upgradeStatus = () => new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(t.wsUrl, 'graphql-transport-ws');
    ws.once('open', () => { ws.terminate(); resolve(101); });
    ws.once('unexpected-response', (_req, res) => { res.resume(); resolve(res.statusCode ?? 0); });
    ws.once('error', reject);
  });

  /** A query whose subscribe message is about `bytes` long: an unused variable pads it. */
  const paddedQuery = (socket: RawGraphqlSocket, id: string, bytes: number) =>
    socket.subscribe(id, '{ jobs(first: 1) { totalCount } }', { pad: 'x'.repeat(bytes - 100) });

  beforeAll(async () => {
    t = await startTestApp({ workerConcurrency: 0, maxPendingWebSockets: 3, maxJsonBodyBytes: 100_000 });
    client = await t.clientFor('acme');
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await t?.close();
  });

  it('refuses a 4th socket waiting for its connection_init with 503; authenticated sockets do not count, and a place frees when one goes', async () => {
    const authenticated: RawGraphqlSocket[] = [];
    for (let i = 0; i < 4; i++) authenticated.push(await open(client.key).ready());
    const silent = [open(null), open(null), open(null)];
    await Promise.all(silent.map((s) => s.opened));
    expect(await upgradeStatus()).toBe(503);
    silent[0].close();
    const deadline = Date.now() + 3000;
    while ((await upgradeStatus()) !== 101) {
      if (Date.now() > deadline) throw new Error('still 503 3 s after a waiting socket went');
      await new Promise((r) => setTimeout(r, 50));
    }
    // The authenticated ones were never in the way, and still work.
    authenticated[3].subscribe('q', '{ jobs(first: 1) { totalCount } }');
    expect(nexts(await authenticated[3].settled('q'))[0].payload).toEqual({ data: { jobs: { totalCount: 0 } } });
    for (const s of [...silent, ...authenticated]) s.close();
  });

  it('closes a socket whose connection_init is larger than 8 KiB with 1009, good key or not', async () => {
    for (const authorization of [`Bearer ${client.key}`, 'Bearer bik_wrong']) {
      const s = open(null);
      await s.opened;
      s.send({ type: 'connection_init', payload: { authorization, padding: 'x'.repeat(9 * 1024) } });
      expect((await s.closedWith()).code).toBe(1009);
      expect(s.messages).toEqual([]);
    }
    // Just under the bound is fine.
    const s = open(null);
    await s.opened;
    s.send({ type: 'connection_init', payload: { authorization: `Bearer ${client.key}`, padding: 'x'.repeat(7 * 1024) } });
    await s.until('connection_ack', () => s.messages.some((m) => m.type === 'connection_ack'));
  });

  it('takes messages up to MAX_JSON_BODY_BYTES once authenticated, and closes a socket that sends a larger one with 1009; other sockets go on', async () => {
    const big = await open(client.key).ready();
    const bystander = await open(client.key).ready();
    paddedQuery(big, 'under', 90_000);
    expect(nexts(await big.settled('under'))[0].payload).toEqual({ data: { jobs: { totalCount: 0 } } });
    paddedQuery(big, 'over', 110_000);
    expect((await big.closedWith()).code).toBe(1009);
    expect(big.of('over')).toEqual([]);
    paddedQuery(bystander, 'still', 1000);
    expect(nexts(await bystander.settled('still'))[0].payload).toEqual({ data: { jobs: { totalCount: 0 } } });
  });
});

describe('a client that stops reading (batchSize 100, progress every 50 ms)', () => {
  let t: TestApp;
  let client: GraphQLTestClient;

  beforeAll(async () => {
    t = await startTestApp({ batchSize: 100, progressIntervalMs: 50 });
    client = await t.clientFor('acme');
  });
  afterAll(() => t?.close());

  it('does not hold up the server, and gets the terminal state once it reads again', async () => {
    // 20,000 rows; the first 150 fail with 3 KB values, so every snapshot below carries ~300 KB of
    // row errors: a client that stops reading falls behind by megabytes within a few snapshots.
    const rows = Array.from({ length: 20_000 }, (_, i) => (i < 300 && i % 2 === 0 ? eventRow(i, { event_type: `bad-${i}-${'x'.repeat(3000)}` }) : eventRow(i)));
    const id = await uploadJob(client, 'big.csv', eventsCsv(rows));

    const socket = new RawGraphqlSocket(t.wsUrl, client.key);
    try {
      await socket.ready();
      socket.subscribe('p', `subscription ($id: ID!) {
        jobProgress(id: $id) { id status rowsProcessed rowsFailed errors(first: 100) { edges { node { line column value message } } } }
      }`, { id });
      const status = (m: WsMessage) => m.payload?.data?.jobProgress?.status as string | undefined;
      await socket.until('a RUNNING snapshot', () => socket.of('p').some((m) => status(m) === 'RUNNING'), 30_000);

      // Stop reading: the server's writes pile up in the kernel's buffers, then in the server's.
      const tcp = (socket.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      tcp.pause();
      const seenBeforePause = socket.messages.length;

      // Meanwhile the server serves HTTP as usual, and the job runs to its end.
      let terminal: { status: string; rowsProcessed: number; rowsFailed: number } | null = null;
      const deadline = Date.now() + 60_000;
      while (!terminal) {
        const res = await postGraphqlOnNewConnection<{ job: { status: string; rowsProcessed: number; rowsFailed: number } }>(t.url, client.key, `{ job(id: "${id}") { status rowsProcessed rowsFailed } jobs(first: 5) { totalCount } }`);
        expect(res.status).toBe(200);
        expect(res.json?.errors).toBeUndefined();
        const job = res.json!.data!.job;
        if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(job.status)) terminal = job;
        else if (Date.now() > deadline) throw new Error(`job still ${job.status} after 60 s`);
        else await new Promise((r) => setTimeout(r, 50));
      }
      expect(terminal).toMatchObject({ status: 'COMPLETED', rowsProcessed: 20_000, rowsFailed: 150 });
      // Nothing was read while paused: the end of the subscription is still to come.
      expect(socket.messages.length).toBe(seenBeforePause);
      expect(socket.of('p').some((m) => m.type === 'complete')).toBe(false);

      tcp.resume();
      await socket.until('the subscription to complete', () => socket.of('p').some((m) => m.type === 'complete'), 30_000);
      const messages = socket.of('p');
      expect(messages.at(-1)!.type).toBe('complete');
      expect(messages.filter((m) => m.type === 'error')).toEqual([]);
      const snapshots = nexts(messages).map((m) => m.payload.data.jobProgress as { status: string; rowsProcessed: number; rowsFailed: number; errors: { edges: unknown[] } });
      // The last snapshot is the terminal state, exactly as HTTP reports it; none before it is terminal.
      expect(snapshots.at(-1)).toMatchObject(terminal);
      expect(snapshots.at(-1)!.errors.edges).toHaveLength(100);
      expect(snapshots.slice(0, -1).every((s) => ['QUEUED', 'RUNNING'].includes(s.status))).toBe(true);
      for (let i = 1; i < snapshots.length; i++) expect(snapshots[i].rowsProcessed).toBeGreaterThanOrEqual(snapshots[i - 1].rowsProcessed);
      expect(socket.closed).toBeNull();
    } finally {
      socket.close();
    }
  });
});

// Regression (fixed): authenticated sockets were not bounded: one key opened 1,500 (and could go on
// to the process's file descriptor limit, where spool files and database connections fail too).
describe('WebSockets per tenant (3 here)', () => {
  let t: TestApp;
  const sockets: RawGraphqlSocket[] = [];
  const open = (key: string | null) => {
    const socket = new RawGraphqlSocket(t.wsUrl, key);
    sockets.push(socket);
    return socket;
  };

  beforeAll(async () => {
    t = await startTestApp({ workerConcurrency: 0, maxWebSocketsPerTenant: 3 });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await t?.close();
  });

  it('closes a tenant\'s 4th authenticated socket with 4429, not another tenant\'s, and takes one again once a socket goes', async () => {
    const acme = (await t.clientFor('acme')).key!;
    const other = (await t.clientFor('other')).key!;
    const three = [await open(acme).ready(), await open(acme).ready(), await open(acme).ready()];
    const fourth = open(acme);
    expect(await fourth.closedWith()).toEqual({ code: 4429, reason: 'Too many WebSockets for this tenant: at most 3' });
    await open(other).ready();
    three[0].close();
    await three[0].closedWith();
    const deadline = Date.now() + 3000;
    for (;;) {
      const again = open(acme);
      try {
        await again.ready();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    three[1].subscribe('q', '{ jobs(first: 1) { totalCount } }');
    expect(nexts(await three[1].settled('q'))[0].payload).toEqual({ data: { jobs: { totalCount: 0 } } });
  });
});
