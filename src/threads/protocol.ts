/**
 * What a worker channel carries (channel.ts on the parent side, serve.ts in the worker). A protocol names what
 * the worker starts from (`init`), what it answers once ready (`ready`), and for each request kind what the
 * request holds and what its reply holds. Everything crosses by structured clone, buffers optionally transferred.
 */
import type { SerializedError } from '../errors';

export type Protocol = {
  readonly init: unknown;
  readonly ready: unknown;
  readonly requests: { readonly [kind: string]: { readonly request: unknown; readonly reply: unknown } };
};

export type RequestKind<P extends Protocol> = keyof P['requests'] & string;
export type RequestOf<P extends Protocol, K extends RequestKind<P>> = P['requests'][K]['request'];
export type ReplyOf<P extends Protocol, K extends RequestKind<P>> = P['requests'][K]['reply'];

/** Parent to worker. `init` is request 0; its reply is the ready handshake. */
export type ToWorker =
  | { readonly kind: 'init'; readonly id: 0; readonly body: unknown }
  | { readonly kind: 'request'; readonly id: number; readonly type: string; readonly body: unknown }
  | { readonly kind: 'close' };

/** Worker to parent: one answer per request, by its id. */
export type FromWorker =
  | { readonly kind: 'reply'; readonly id: number; readonly body: unknown }
  | { readonly kind: 'failed'; readonly id: number; readonly error: SerializedError };
