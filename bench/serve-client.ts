/**
 * bench:serve's load generator, a child process of the bench (forked from dist/bench/serve.js): it posts
 * requests to the server with Node's fetch (undici) and answers the bench over IPC. In a process of its own,
 * the client's event loop never delays the server's (the server's request handling, decoding hand-offs and
 * labels run on the bench process's main thread), and its CPU is counted apart; on 2 cores it still competes
 * for the cores, as any client on the same machine would. It is kept cheap: each image's multipart body is
 * encoded once (FormData + Blob) and sent as bytes, and response bodies are read as bytes, never parsed.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Click } from '../src/tasks/click-segmentation/clicks';

/** What the bench asks. */
export type ClientRequest =
  | { readonly op: 'init'; readonly url: string; readonly images: readonly string[] }
  | {
      readonly op: 'load';
      readonly id: number;
      readonly route: string;
      readonly concurrency: number;
      readonly durationMs: number;
    }
  | {
      readonly op: 'click';
      readonly id: number;
      readonly image: number;
      readonly clicks: readonly Click[];
    }
  | { readonly op: 'exit' };

/** A closed-loop load: `concurrency` clients, each posting again as soon as its answer came. */
export interface LoadResult {
  /** The window: requests answered within it count; those still in flight at its end are awaited, not counted. */
  readonly windowMs: number;
  /** Every answer (within the window or after it, while in-flight requests drain), by HTTP status. */
  readonly statuses: Record<string, number>;
  /** Requests that got no HTTP answer (connection refused or reset, ...), by error. */
  readonly errors: Record<string, number>;
  /** Latency of each 200 answered within the window, ms. */
  readonly okMs: number[];
  /** Latency of the other answers within the window, ms. */
  readonly otherMs: number[];
  /** The client process's CPU over the window and the drain, ms. */
  readonly clientCpuMs: number;
}

export type ClientReply =
  | { readonly op: 'ready' }
  | { readonly id: number; readonly load: LoadResult }
  | { readonly id: number; readonly click: { readonly status: number; readonly ms: number } };

interface Body {
  readonly bytes: Uint8Array;
  readonly type: string;
}

/** A multipart body as the SDK sends it: the image in `files`, the state as a JSON string field. */
async function multipart(image: Uint8Array, name: string, state?: unknown): Promise<Body> {
  const form = new FormData();
  form.append('files', new Blob([image], { type: 'image/jpeg' }), name);
  if (state !== undefined) form.append('state', JSON.stringify(state));
  const request = new Request('http://localhost/', { method: 'POST', body: form });
  return {
    bytes: new Uint8Array(await request.arrayBuffer()),
    type: request.headers.get('content-type') ?? '',
  };
}

function errorName(e: unknown): string {
  const cause = (e as { cause?: { code?: string } }).cause;
  return cause?.code ?? (e as Error).name ?? String(e);
}

async function load(
  url: string,
  bodies: readonly Body[],
  opts: { route: string; concurrency: number; durationMs: number },
): Promise<LoadResult> {
  const statuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const okMs: number[] = [];
  const otherMs: number[] = [];
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + opts.durationMs;
  let next = 0;
  const client = async (): Promise<void> => {
    while (performance.now() < end) {
      const body = bodies[next++ % bodies.length];
      const t0 = performance.now();
      let status: number | undefined;
      try {
        const response = await fetch(url + opts.route, {
          method: 'POST',
          body: body.bytes,
          headers: { 'content-type': body.type },
        });
        await response.arrayBuffer();
        status = response.status;
      } catch (e) {
        const name = errorName(e);
        errors[name] = (errors[name] ?? 0) + 1;
      }
      const t1 = performance.now();
      if (status === undefined) continue;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (t1 <= end) (status === 200 ? okMs : otherMs).push(t1 - t0);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, client));
  const cpu = process.cpuUsage(cpu0);
  return {
    windowMs: opts.durationMs,
    statuses,
    errors,
    okMs,
    otherMs,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

async function main(): Promise<void> {
  let url = '';
  let images: Uint8Array[] = [];
  let bodies: Body[] = [];
  const send = (reply: ClientReply): void => {
    process.send?.(reply);
  };
  process.on('message', (message: ClientRequest) => {
    void (async () => {
      switch (message.op) {
        case 'init':
          url = message.url;
          images = await Promise.all(message.images.map((f) => fs.readFile(f)));
          bodies = await Promise.all(images.map((b, i) => multipart(b, path.basename(message.images[i]))));
          send({ op: 'ready' });
          break;
        case 'load':
          send({ id: message.id, load: await load(url, bodies, message) });
          break;
        case 'click': {
          // Encoded per request: the click list changes every time (and a session is sequential, so it is cheap).
          const body = await multipart(images[message.image], `image${message.image}.jpg`, {
            clicks: message.clicks,
          });
          const t0 = performance.now();
          const response = await fetch(`${url}/segment_clicks`, {
            method: 'POST',
            body: body.bytes,
            headers: { 'content-type': body.type },
          });
          await response.arrayBuffer();
          send({ id: message.id, click: { status: response.status, ms: performance.now() - t0 } });
          break;
        }
        case 'exit':
          process.disconnect();
          break;
      }
    })().catch((e: unknown) => {
      console.error(e);
      process.exit(1);
    });
  });
}

// The bench gone (crashed or killed), nothing is left to answer.
process.on('disconnect', () => process.exit(0));
void main();
