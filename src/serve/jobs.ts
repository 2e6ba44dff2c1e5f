/**
 * Asynchronous inference requests, with the JSON the SDK's clients poll (docs/supervisely-serving-api.md §1c):
 * a job has a stage, progress, results waiting to be popped, a final result, an exception, and can be stopped.
 * Jobs are bounded in number (a full store refuses new ones with 503), expire an hour after their last update
 * (as the SDK's), and a cleared job goes at once. Each job may own a folder (uploads, results to download),
 * removed with it.
 */
import { promises as fsp } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { errorMessage } from '../errors';
import { badRequest, notFound, unavailable } from './http-error';

export const STAGE = {
  preparing: 'Preparing model for inference...',
  running: 'Running inference...',
  finished: 'Finished',
  cancelled: 'Cancelled',
  error: 'Error',
} as const;

export type Stage = (typeof STAGE)[keyof typeof STAGE];

export interface JobException {
  readonly type: string;
  readonly message: string;
  readonly traceback: string;
}

export class Job {
  readonly uuid = randomUUID().replace(/-/g, '');
  stage: Stage = STAGE.preparing;
  current = 0;
  total = 1;
  /** Results made and not popped yet. */
  pending: unknown[] = [];
  finalResult: unknown = null;
  exception: JobException | null = null;
  readonly createdAt = performance.now() / 1000;
  updatedAt = this.createdAt;
  /** Aborted by stop_inference (or the server stopping); the work checks it between items. */
  readonly abort = new AbortController();
  /** A folder that lives as long as the job (uploaded frames, masks to download). */
  dir: string | undefined;
  /** What kind of job this is, for the routes that serve its files. */
  readonly kind: string;
  /** Settles when the job's work has ended (folders are removed only then). */
  done: Promise<void> = Promise.resolve();

  constructor(kind: string) {
    this.kind = kind;
  }

  get finished(): boolean {
    return this.stage === STAGE.finished || this.stage === STAGE.cancelled || this.stage === STAGE.error;
  }

  touch(): void {
    this.updatedAt = performance.now() / 1000;
  }

  start(total: number): void {
    this.stage = STAGE.running;
    this.total = Math.max(1, total);
    this.touch();
  }

  progressTo(current: number, total?: number): void {
    this.current = current;
    if (total !== undefined) this.total = Math.max(1, total);
    this.touch();
  }

  addResults(items: readonly unknown[]): void {
    this.pending.push(...items);
    this.touch();
  }

  finish(finalResult: unknown = null): void {
    this.finalResult = finalResult;
    this.stage = this.abort.signal.aborted ? STAGE.cancelled : STAGE.finished;
    this.touch();
  }

  fail(e: unknown): void {
    if (this.abort.signal.aborted) {
      this.stage = STAGE.cancelled;
    } else {
      this.stage = STAGE.error;
      this.exception = {
        type: e instanceof Error ? e.name : 'Error',
        message: errorMessage(e),
        traceback: e instanceof Error ? (e.stack ?? '') : '',
      };
    }
    this.touch();
  }

  /** `InferenceRequest.to_json()` with the log extra, as /get_inference_progress and /pop_inference_results. */
  toJson(pop: boolean): Record<string, unknown> {
    const running = this.stage === STAGE.running;
    // The SDK reports {current: 0, total: 1} until inference runs; the old Session waits for total != 1.
    const progress = running
      ? { status: this.stage, message: this.stage, current: this.current, total: this.total, is_size: false }
      : { status: this.stage, message: this.stage, current: 0, total: 1, is_size: false };
    let pending: unknown;
    if (pop) {
      pending = this.pending;
      this.pending = [];
    } else {
      pending = this.pending.length;
    }
    return {
      uuid: this.uuid,
      stage: this.stage,
      // pop reports the real counts (PredictionSession's progress bar reads them there).
      progress: pop ? { ...progress, current: this.current, total: this.total } : progress,
      pending_results: pending,
      final_result: this.finalResult !== null,
      exception: this.exception,
      is_inferring: running,
      stopped: this.abort.signal.aborted,
      paused: false,
      finished: this.finished,
      created_at: this.createdAt,
      updated_at: this.updatedAt,
      cancel_inference: this.abort.signal.aborted,
      has_result: this.finalResult !== null,
      preparing_progress: { status: this.stage, current: 0, total: 1, is_size: false },
      result: this.finalResult !== null,
    };
  }
}

export interface JobStoreOptions {
  /** Jobs kept at once (finished ones count until popped and cleared or expired). */
  readonly maxJobs: number;
  /** A job goes this long after its last update; the SDK's is one hour. */
  readonly ttlMs: number;
}

export class JobStore {
  private readonly jobs = new Map<string, Job>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: JobStoreOptions) {
    this.sweeper = setInterval(() => void this.sweep(), Math.min(60_000, Math.max(1_000, opts.ttlMs / 4)));
    this.sweeper.unref();
  }

  get size(): number {
    return this.jobs.size;
  }

  /** Jobs still working. */
  get running(): number {
    let n = 0;
    for (const j of this.jobs.values()) if (!j.finished) n += 1;
    return n;
  }

  /** A new job, or 503 when the store is full even after dropping expired jobs. */
  async create(kind: string): Promise<Job> {
    if (this.jobs.size >= this.opts.maxJobs) await this.sweep();
    if (this.jobs.size >= this.opts.maxJobs) {
      throw unavailable(
        `${this.jobs.size} inference requests are kept, the most this server holds: clear finished ones ` +
          '(/clear_inference_request) or try again later',
        5,
      );
    }
    const job = new Job(kind);
    this.jobs.set(job.uuid, job);
    return job;
  }

  /** The job named by `state.inference_request_uuid` (400 when missing, 404 when unknown or expired). */
  get(uuid: unknown): Job {
    if (typeof uuid !== 'string' || uuid === '')
      throw badRequest("Error: 'inference_request_uuid' is required.");
    const job = this.jobs.get(uuid);
    if (job === undefined)
      throw notFound(`no inference request ${JSON.stringify(uuid)}: it was cleared, expired, or never made`);
    return job;
  }

  /** Stops the job if it runs and forgets it (its folder is removed once its work has ended). */
  async clear(uuid: unknown): Promise<void> {
    const job = this.get(uuid);
    this.jobs.delete(job.uuid);
    job.abort.abort();
    await removeJob(job);
  }

  /** Stops every job (the server is stopping) and waits for their work to end. */
  async stopAll(): Promise<void> {
    const all = [...this.jobs.values()];
    for (const j of all) j.abort.abort();
    await Promise.all(all.map((j) => j.done.catch(() => undefined)));
  }

  /** Removes every job and its folder. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.stopAll();
    const all = [...this.jobs.values()];
    this.jobs.clear();
    await Promise.all(all.map(removeJob));
  }

  private async sweep(): Promise<void> {
    const now = performance.now() / 1000;
    const expired = [...this.jobs.values()].filter((j) => (now - j.updatedAt) * 1000 > this.opts.ttlMs);
    for (const j of expired) {
      this.jobs.delete(j.uuid);
      j.abort.abort();
    }
    await Promise.all(expired.map(removeJob));
  }
}

async function removeJob(job: Job): Promise<void> {
  await job.done.catch(() => undefined);
  if (job.dir !== undefined) await fsp.rm(job.dir, { recursive: true, force: true });
}
