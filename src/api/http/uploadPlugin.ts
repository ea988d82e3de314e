/**
 * Streams multipart uploads (GraphQL multipart request spec): multipartRequest.ts reads the Node
 * request itself. Yoga's own multipart support buffers whole files (request.formData()), so it is
 * turned off (`multipart: false`, `maxRequestBodySize: false`) and this parser is set instead. The
 * parser has no file size limit: the spool counts the file's bytes itself (spool/spool.ts), and
 * the upload service refuses a declared length over the limit before reading the file.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { MultipartError, readMultipartRequest } from './multipartRequest.js';

export interface NodeServerContext { req: IncomingMessage; res: ServerResponse }

/** Room for the operations and map parts; an uploadImport's take a few hundred bytes. */
const MAX_FIELD_BYTES = 1024 * 1024;

/** `idleMs`: a request body that sends nothing for this long is given up (UPLOAD_IDLE_TIMEOUT_MS). */
export function uploadPlugin(idleMs: number): Plugin<Record<string, unknown>, NodeServerContext> {
  return {
    onRequestParse({ request, serverContext, setRequestParser }) {
      const type = request.headers.get('content-type') ?? '';
      if (!type.toLowerCase().startsWith('multipart/form-data')) return;
      setRequestParser(async () => {
        try {
          return await readMultipartRequest(serverContext.req, serverContext.res, { maxFieldBytes: MAX_FIELD_BYTES, idleMs }) as never;
        } catch (err) {
          if (!(err instanceof MultipartError)) throw err;
          throw new GraphQLError(`Invalid multipart request: ${err.message}`, { extensions: { code: 'BAD_REQUEST', http: { status: err.status } } });
        }
      });
    },
  };
}
