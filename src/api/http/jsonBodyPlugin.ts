/**
 * The JSON in requests: bodies read from the Node request with a size limit, and the JSON
 * parameters (variables, extensions) of a GET or a form-encoded POST. Yoga's own body limit had
 * to be turned off for streaming uploads (see uploadPlugin.ts), so without this a client could
 * make us buffer a body of any size; and Yoga parses those parameters with a bare JSON.parse,
 * whose SyntaxError would reach the client as an unexpected error (500). importBatch's 5,000
 * records fit well within the default.
 */
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { NodeServerContext } from './uploadPlugin.js';
import { closeIfBodyPauses } from './answeredBodies.js';

const badRequest = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });

async function readBody(request: Request, { req, res }: NodeServerContext, maxBytes: number, idleMs: number): Promise<string> {
  const tooLarge = () => new GraphQLError(`The request body is larger than ${maxBytes} bytes`, { extensions: { http: { status: 413 } } });
  if (Number(request.headers.get('content-length') ?? 0) > maxBytes) {
    req.resume(); // let the body drain; the answer comes first
    throw tooLarge();
  }
  const read = (async () => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw tooLarge();
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  })();
  closeIfBodyPauses(req, res, idleMs, read);
  return read;
}

function jsonBody(text: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest('The request body is not valid JSON');
  }
  if (Array.isArray(body)) throw badRequest('Batched operations are not supported');
  if (typeof body !== 'object' || body === null) throw badRequest('The request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** The GraphQL parameters of a query string or form body, as Yoga reads them, with JSON errors named. */
function paramsRequest(params: URLSearchParams): Record<string, unknown> {
  const json = (name: string) => {
    const text = params.get(name);
    if (!text) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw badRequest(`The ${name} parameter is not valid JSON`);
    }
  };
  return {
    operationName: params.get('operationName') || undefined,
    query: params.get('query') || undefined,
    variables: json('variables'),
    extensions: json('extensions'),
  };
}

/** `idleMs`: a body that sends nothing for this long is given up (UPLOAD_IDLE_TIMEOUT_MS). */
export function jsonBodyPlugin(maxBytes: number, idleMs: number): Plugin<Record<string, unknown>, NodeServerContext> {
  return {
    onRequestParse({ request, serverContext, setRequestParser }) {
      const contentType = request.headers.get('content-type') ?? '';
      if (request.method === 'GET') {
        setRequestParser(async () => paramsRequest(new URL(request.url).searchParams) as never);
      } else if (request.method === 'POST' && contentType.startsWith('application/x-www-form-urlencoded')) {
        setRequestParser(async () => paramsRequest(new URLSearchParams(await readBody(request, serverContext, maxBytes, idleMs))) as never);
      } else if (request.method === 'POST' && contentType.includes('json')) {
        setRequestParser(async () => jsonBody(await readBody(request, serverContext, maxBytes, idleMs)) as never);
      }
    },
  };
}
