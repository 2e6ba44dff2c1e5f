/**
 * The worker-thread channel itself (src/threads), with a real worker: the ready handshake, request and reply,
 * buffers transferred both ways, an error thrown in the thread crossing with its class and kind, a crash failing
 * pending and later requests, and close (clean, and with a timeout on a thread that does not exit). Workers run
 * compiled JavaScript, so the worker is a small JS file written here that loads dist/src/threads/serve.js, and the
 * parent side is loaded from dist/ too (one TaskError class on both sides of the check).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type * as ChannelModule from '../../src/threads/channel';
import type * as ErrorsModule from '../../src/errors';
import { builtFile } from '../contract/built';

/* eslint-disable @typescript-eslint/no-require-imports */
const { WorkerChannel } = require(builtFile('src/threads/channel.ts')) as typeof ChannelModule;
const { TaskError } = require(builtFile('src/errors.ts')) as typeof ErrorsModule;
/* eslint-enable @typescript-eslint/no-require-imports */

type TestProtocol = {
  init: { scale: number; bytes?: Float32Array };
  ready: { pid: string; initBytes: number };
  requests: {
    /** Multiplies `data` by the scale in place and hands the same buffer back. */
    scale: { request: { data: Float32Array }; reply: { data: Float32Array } };
    /** Throws a TaskError (data) naming `file`, or a plain Error. */
    fail: { request: { file: string; task: boolean }; reply: never };
    /** Answers after `ms`. */
    wait: { request: { ms: number }; reply: number };
    /** Kills the thread with an uncaught exception. */
    crash: { request: undefined; reply: never };
  };
};

let dir: string;
let worker: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'channel-'));
  worker = path.join(dir, 'worker.js');
  writeFileSync(
    worker,
    `const { serveChannel, transfer } = require(${JSON.stringify(builtFile('src/threads/serve.ts'))});
const { dataError } = require(${JSON.stringify(builtFile('src/errors.ts'))});
const { threadId } = require('node:worker_threads');
serveChannel({
  async start(init) {
    if (init.scale === 0) throw dataError('a scale of 0', { file: 'init.json', field: 'scale' });
    // Never exits on close: close() must time out and terminate it.
    if (init.scale < 0) setInterval(() => {}, 1000);
    return { state: { scale: init.scale, stubborn: init.scale < 0 }, ready: { pid: String(threadId), initBytes: init.bytes ? init.bytes.length : 0 } };
  },
  handlers: {
    scale(s, { data }) {
      for (let i = 0; i < data.length; i++) data[i] *= s.scale;
      return transfer({ data }, [data.buffer]);
    },
    fail(_s, { file, task }) {
      if (task) throw dataError('broken item', { file, item: 'img_1.png' });
      throw new RangeError('plain failure in ' + file);
    },
    wait(_s, { ms }) {
      return new Promise((r) => setTimeout(() => r(ms), ms));
    },
    crash() {
      setImmediate(() => { throw new Error('boom'); });
      return new Promise(() => {});
    },
  },
  close(s) {
    if (s && s.stubborn) return new Promise(() => {});
  },
});
`,
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const start = (init: TestProtocol['init'] | Promise<TestProtocol['init']>, closeTimeoutMs?: number) =>
  WorkerChannel.start<TestProtocol>({
    script: worker,
    name: 'the test thread',
    init,
    initTransfer: (i) => (i.bytes ? [i.bytes.buffer as ArrayBuffer] : []),
    ...(closeTimeoutMs !== undefined ? { closeTimeoutMs } : {}),
  });

describe('worker channel', () => {
  it('starts with the ready answer, answers requests by id and transfers buffers both ways', async () => {
    const bytes = new Float32Array(1000);
    const channel = await start(Promise.resolve({ scale: 3, bytes }));
    try {
      expect(channel.ready.initBytes).toBe(1000);
      expect(bytes.length).toBe(0); // the init's buffer was transferred, not copied
      const data = Float32Array.of(1, 2, 3);
      const pending = channel.request('scale', { data }, [data.buffer]);
      expect(data.length).toBe(0); // transferred to the thread
      expect(channel.pending).toBe(1);
      const [a, b, c] = await Promise.all([
        pending,
        channel.request('wait', { ms: 20 }),
        channel.request('scale', { data: Float32Array.of(-1) }),
      ]);
      expect(Array.from(a.data)).toEqual([3, 6, 9]);
      expect(b).toBe(20);
      expect(Array.from(c.data)).toEqual([-3]);
      expect(channel.pending).toBe(0);
    } finally {
      await channel.close();
    }
    expect(channel.exitCode).toBe(0);
  });

  it('a thrown TaskError crosses with its class, kind and context; other errors name the thread; both fail alone', async () => {
    const channel = await start({ scale: 2 });
    try {
      const task = await channel
        .request('fail', { file: 'ann/img_1.json', task: true })
        .catch((e: unknown) => e);
      expect(task).toBeInstanceOf(TaskError);
      expect(task).toMatchObject({ kind: 'data', context: { file: 'ann/img_1.json', item: 'img_1.png' } });
      expect((task as Error).stack).toContain('--- in the test thread ---');
      const plain = await channel.request('fail', { file: 'x', task: false }).catch((e: unknown) => e);
      expect(plain).not.toBeInstanceOf(TaskError);
      expect((plain as Error).message).toBe('the test thread: plain failure in x');
      // The thread goes on serving.
      const { data } = await channel.request('scale', { data: Float32Array.of(5) });
      expect(Array.from(data)).toEqual([10]);
    } finally {
      await channel.close();
    }
  });

  it('a failure while starting, in the thread or of init itself, rejects start with that error', async () => {
    const e = await start({ scale: 0 }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(TaskError);
    expect((e as Error).message).toBe('init.json: field "scale": a scale of 0');
    await expect(start(Promise.reject(new Error('no init')))).rejects.toThrow('no init');
  });

  it('a crash fails every pending request and every later one with its cause', async () => {
    const channel = await start({ scale: 1 });
    const crash = channel.request('crash', undefined);
    const queued = channel.request('wait', { ms: 1 }); // behind the crash: requests are answered in order
    expect(channel.pending).toBe(2);
    await expect(crash).rejects.toThrow(/^the test thread crashed: boom$/);
    await expect(queued).rejects.toThrow(/^the test thread crashed: boom$/);
    await expect(channel.request('scale', { data: Float32Array.of(1) })).rejects.toThrow(/crashed: boom/);
    await channel.close(); // on a dead thread: returns at once
    expect(channel.exitCode).toBe(1);
  });

  it('close lets the requests before it finish, then refuses new ones; a thread that does not exit is terminated after the timeout', async () => {
    const channel = await start({ scale: 1 });
    const before = channel.request('wait', { ms: 50 });
    const closed = channel.close();
    await expect(channel.request('wait', { ms: 1 })).rejects.toThrow('the test thread was closed');
    await expect(before).resolves.toBe(50);
    await closed;
    await expect(channel.request('wait', { ms: 1 })).rejects.toThrow('the test thread exited (code 0)');
    await channel.close(); // twice is fine

    const stubborn = await start({ scale: -1 }, 300);
    const t0 = Date.now();
    await stubborn.close();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(stubborn.exitCode).toBe(1); // terminated
  });
});
