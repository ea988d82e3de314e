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

/**
 * What the request looked like once it ended. The parser's one-file limit trips only when a
 * second file part starts, which can be after the first file was spooled; so the upload service
 * asks this, at the end of the request, before it creates the job.
 */
export interface MultipartShape { ended: Promise<void>; parts: () => number }
const shapes = new WeakMap<IncomingMessage, MultipartShape>();

export function multipartShapeOf(req: IncomingMessage | undefined): MultipartShape | undefined {
  return req ? shapes.get(req) : undefined;
}

/**
 * Counts the body's parts by their delimiters, which by definition never occur inside a part.
 * Each chunk is searched where it lies; only a delimiter split between two chunks is looked for in
 * a small seam of both: copying every chunk behind the last one's tail would copy the whole upload
 * once more and leave as much garbage (docs/performance.md).
 */
function watchParts(req: IncomingMessage, boundary: string): MultipartShape {
  const delimiter = Buffer.from(`--${boundary}\r\n`);
  const keep = delimiter.length - 1; // a split delimiter has at most this much on either side
  let count = 0;
  let tail = Buffer.alloc(0); // the body's last `keep` bytes before this chunk
  const countIn = (data: Buffer) => {
    for (let at = data.indexOf(delimiter); at !== -1; at = data.indexOf(delimiter, at + delimiter.length)) count++;
  };
  req.on('data', (chunk: Buffer) => {
    // A delimiter that starts before this chunk and ends in it lies whole in the seam; the seam
    // holds none that lies wholly on either side (each side is shorter than a delimiter).
    const seam = tail.length ? Buffer.concat([tail, chunk.subarray(0, keep)]) : null;
    if (seam) countIn(seam);
    countIn(chunk);
    tail = chunk.length >= keep ? Buffer.from(chunk.subarray(chunk.length - keep))
      : Buffer.from(Buffer.concat([tail, chunk]).subarray(-keep));
  });
  const ended = new Promise<void>((resolve) => { req.once('end', resolve); req.once('close', resolve); });
  return { ended, parts: () => count };
}

export function uploadPlugin(): Plugin<Record<string, unknown>, NodeServerContext> {
  return {
    onRequestParse({ request, serverContext, setRequestParser }) {
      const type = request.headers.get('content-type') ?? '';
      if (!type.startsWith('multipart/form-data')) return;
      const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type);
      if (boundary) shapes.set(serverContext.req, watchParts(serverContext.req, boundary[1] ?? boundary[2]));
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
