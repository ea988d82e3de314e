/**
 * JSON request bodies, read from the Node request with a size limit. Yoga's own limit had to be
 * turned off for streaming uploads (see uploadPlugin.ts), so without this a client could make us
 * buffer a body of any size. importBatch's 5,000 records fit well within the default.
 */
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { NodeServerContext } from './uploadPlugin.js';

export function jsonBodyPlugin(maxBytes: number): Plugin<Record<string, unknown>, NodeServerContext> {
  return {
    onRequestParse({ request, serverContext, setRequestParser }) {
      if (request.method !== 'POST' || !(request.headers.get('content-type') ?? '').includes('json')) return;
      setRequestParser(async () => {
        const tooLarge = () => new GraphQLError(`The request body is larger than ${maxBytes} bytes`, { extensions: { http: { status: 413 } } });
        if (Number(request.headers.get('content-length') ?? 0) > maxBytes) {
          serverContext.req.resume(); // let the body drain; the answer comes first
          throw tooLarge();
        }
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of serverContext.req as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > maxBytes) throw tooLarge();
          chunks.push(chunk);
        }
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          throw new GraphQLError('The request body is not valid JSON', { extensions: { http: { status: 400 } } });
        }
        if (Array.isArray(body)) throw new GraphQLError('Batched operations are not supported', { extensions: { http: { status: 400 } } });
        if (typeof body !== 'object' || body === null) throw new GraphQLError('The request body must be a JSON object', { extensions: { http: { status: 400 } } });
        return body as never;
      });
    },
  };
}
