/** A small GraphQL client over the real endpoints: JSON and multipart over HTTP, graphql-ws over WebSocket. */
import { print, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

export interface HttpResult<T> { status: number; body: ExecutionResult<T> }

export interface UploadFile { name: string; content: string | Buffer; type?: string }

/** An upload's variables without the file itself: the file travels as its own multipart part. */
export type WithoutFile<V> = V extends { input: infer I } ? Omit<V, 'input'> & { input: Omit<I, 'file'> } : V;

export class GraphQLTestClient {
  constructor(readonly url: string, readonly wsUrl: string, readonly key: string | null) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.key ? { authorization: `Bearer ${this.key}`, ...extra } : extra;
  }

  async request<T, V>(document: TypedDocumentNode<T, V>, variables?: V): Promise<HttpResult<T>> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: this.headers({ 'content-type': 'application/json' }),
      body: JSON.stringify({ query: print(document), variables }),
    });
    return { status: res.status, body: (await res.json()) as ExecutionResult<T> };
  }

  /** Like `request`, but fails the test on any GraphQL error, and returns `data`. */
  async data<T, V>(document: TypedDocumentNode<T, V>, variables?: V): Promise<T> {
    const { status, body } = await this.request(document, variables);
    if (status !== 200 || body.errors?.length || !body.data) {
      throw new Error(`GraphQL request failed (${status}): ${JSON.stringify(body.errors ?? body)}`);
    }
    return body.data;
  }

  /** A GraphQL multipart request (the spec's operations + map + file parts), as browsers and curl send it. */
  async upload<T, V extends { input: object }>(document: TypedDocumentNode<T, V>, variables: WithoutFile<V>, file: UploadFile): Promise<HttpResult<T>> {
    const form = new FormData();
    const withNull = { ...variables, input: { ...(variables as { input: object }).input, file: null } };
    form.append('operations', JSON.stringify({ query: print(document), variables: withNull }));
    form.append('map', JSON.stringify({ 0: ['variables.input.file'] }));
    form.append('0', new Blob([typeof file.content === 'string' ? file.content : new Uint8Array(file.content)], { type: file.type ?? 'application/octet-stream' }), file.name);
    const res = await fetch(this.url, { method: 'POST', headers: this.headers(), body: form });
    const text = await res.text();
    let body: ExecutionResult<T>;
    try { body = JSON.parse(text); } catch { body = { errors: [{ message: text }] } as never; }
    return { status: res.status, body };
  }

  /**
   * Subscribes over graphql-ws and collects every payload until the server completes the
   * subscription. Rejects on an error message or when the socket is closed (close code in the message).
   */
  subscribe<T, V>(document: TypedDocumentNode<T, V>, variables: V, onNext?: (data: T) => void): Promise<T[]> {
    const client = createClient({
      url: this.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
      connectionParams: this.key ? { authorization: `Bearer ${this.key}` } : {},
    });
    const received: T[] = [];
    return new Promise<T[]>((resolve, reject) => {
      client.subscribe<T>({ query: print(document), variables: variables as Record<string, unknown> }, {
        next: (result) => {
          if (result.errors?.length) { reject(new Error(result.errors.map((e) => e.message).join('; '))); return; }
          received.push(result.data as T);
          onNext?.(result.data as T);
        },
        error: (err) => {
          const close = err as { code?: number; reason?: string };
          reject(Array.isArray(err) ? new Error(err.map((e) => e.message).join('; '))
            : close.code !== undefined ? new Error(`socket closed ${close.code} ${close.reason ?? ''}`.trim()) : err);
        },
        complete: () => resolve(received),
      });
    }).finally(() => client.dispose());
  }
}
