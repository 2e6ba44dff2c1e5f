/** Async jobs as the SDK polls them, their bounds and expiry; the admission queue. */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Admission } from '../../src/serve/admission';
import { HttpError } from '../../src/serve/http-error';
import { JobStore, STAGE } from '../../src/serve/jobs';

describe('Job JSON (get_inference_progress / pop_inference_results)', () => {
  it('reports {current: 0, total: 1} until running, real counts in pop, and pops each result once', async () => {
    const store = new JobStore({ maxJobs: 4, ttlMs: 60_000 });
    const job = await store.create('images');
    expect(job.toJson(false)).toMatchObject({
      stage: STAGE.preparing,
      progress: { current: 0, total: 1 },
      is_inferring: false,
    });
    job.start(3);
    job.addResults(['a', 'b']);
    job.progressTo(2);
    expect(job.toJson(false)).toMatchObject({
      stage: STAGE.running,
      progress: { current: 2, total: 3 },
      pending_results: 2,
      is_inferring: true,
      finished: false,
    });
    expect(job.toJson(true).pending_results).toEqual(['a', 'b']);
    expect(job.toJson(true).pending_results).toEqual([]);
    job.finish({ done: true });
    expect(job.toJson(false)).toMatchObject({
      stage: STAGE.finished,
      finished: true,
      result: true,
      has_result: true,
      progress: { current: 0, total: 1 },
    });
    await store.close();
  });

  it('a failure carries the exception; a failure after a stop is a cancel', async () => {
    const store = new JobStore({ maxJobs: 4, ttlMs: 60_000 });
    const failed = await store.create('x');
    failed.fail(new TypeError('bad input'));
    expect(failed.toJson(false)).toMatchObject({
      stage: STAGE.error,
      exception: { type: 'TypeError', message: 'bad input' },
    });
    const stopped = await store.create('x');
    stopped.abort.abort();
    stopped.fail(new Error('aborted'));
    expect(stopped.toJson(false)).toMatchObject({ stage: STAGE.cancelled, exception: null, stopped: true });
    await store.close();
  });
});

describe('JobStore', () => {
  it('refuses a job beyond its size with 503, and has room again once one is cleared', async () => {
    const store = new JobStore({ maxJobs: 2, ttlMs: 60_000 });
    const a = await store.create('x');
    await store.create('x');
    const full = await store.create('x').catch((e: unknown) => e);
    expect(full).toBeInstanceOf(HttpError);
    expect((full as HttpError).status).toBe(503);
    expect((full as HttpError).headers['retry-after']).toBeDefined();
    await store.clear(a.uuid);
    await expect(store.create('x')).resolves.toBeDefined();
    await store.close();
  });

  it('forgets a job after its time to live, stopping it and removing its folder', async () => {
    const store = new JobStore({ maxJobs: 1, ttlMs: 30 });
    const job = await store.create('x');
    job.dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'job-'));
    await new Promise((r) => setTimeout(r, 60));
    // Full, but the expired job is swept to make room.
    const next = await store.create('x');
    expect(job.abort.signal.aborted).toBe(true);
    await expect(fsp.stat(job.dir)).rejects.toThrow();
    expect(() => store.get(job.uuid)).toThrow(/expired/);
    expect(store.get(next.uuid)).toBe(next);
    await store.close();
  });

  it('names what is wrong with a uuid: missing (400), unknown (404)', () => {
    const store = new JobStore({ maxJobs: 1, ttlMs: 1000 });
    expect(() => store.get(undefined)).toThrow("Error: 'inference_request_uuid' is required.");
    try {
      store.get('abc');
    } catch (e) {
      expect((e as HttpError).status).toBe(404);
    }
    expect.assertions(2);
    void store.close();
  });
});

describe('Admission', () => {
  it('admits up to its limit at once and refuses the next with 503; a slot frees when work ends', async () => {
    let rejected = 0;
    const queue = new Admission('semantic', 2, () => (rejected += 1));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a = queue.run(() => gate);
    const b = queue.run(() => gate);
    expect(queue.depth).toBe(2);
    await expect(queue.run(async () => 'c')).rejects.toMatchObject({ status: 503 });
    expect(rejected).toBe(1);
    release();
    await Promise.all([a, b]);
    expect(queue.depth).toBe(0);
    await expect(queue.run(async () => 'd')).resolves.toBe('d');
  });

  it('frees the slot when the work throws', async () => {
    const queue = new Admission('x', 1);
    await expect(queue.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(queue.depth).toBe(0);
  });
});
