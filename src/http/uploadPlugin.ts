/**
 * Streams multipart uploads (GraphQL multipart request spec) with graphql-upload-minimal reading
 * the Node request itself. Yoga's own multipart support buffers whole files (request.formData()),
 * so it is turned off (`multipart: false`, `maxRequestBodySize: false`) and this parser is set
 * instead. It gets no file size limit: at its limit it truncates silently and unpipes the file
 * stream, which leaves our spooling waiting forever. The spool counts bytes itself instead.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError } from 'graphql';
import { processRequest } from 'graphql-upload-minimal';
import type { Plugin } from 'graphql-yoga';

export interface NodeServerContext { req: IncomingMessage; res: ServerResponse }

export function uploadPlugin(): Plugin<Record<string, unknown>, NodeServerContext> {
  return {
    onRequestParse({ request, serverContext, setRequestParser }) {
      const type = request.headers.get('content-type') ?? '';
      if (!type.startsWith('multipart/form-data')) return;
      setRequestParser(async () => {
        try {
          const operations = await processRequest(serverContext.req, serverContext.res, { maxFiles: 1 });
          if (Array.isArray(operations)) throw new GraphQLError('Batched operations are not supported', { extensions: { http: { status: 400 } } });
          return operations as never;
        } catch (err) {
          if (err instanceof GraphQLError) throw err;
          const status = (err as { status?: number }).status ?? 400;
          throw new GraphQLError(`Invalid multipart request: ${(err as Error).message}`, { extensions: { http: { status } } });
        }
      });
    },
  };
}
