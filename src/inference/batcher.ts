/**
 * Batches network inputs across images: several images are in flight at once (decoding, cropping), each asks
 * for its crops' scores, and the batcher runs the engine on full batches while the next images decode. So the
 * network sees batches even in full-image mode, where each image is a single crop. With several network
 * threads (`concurrency`), up to that many batches run at once.
 */

/**
 * Runs the network on `n` samples in `x` and resolves with their scores. `x` passes to the runner; it may hand it
 * back through `giveBack` once read, and may write the scores into `out` (and resolve with it) instead of a
 * buffer of its own: both spare the garbage collector megabytes per batch.
 */
export type RunBatch = (x: Float32Array, n: number, reuse?: BatchReuse) => Promise<Float32Array>;

export interface BatchReuse {
  /** A buffer of the output's size that the scores may be written into. */
  readonly out?: Float32Array;
  /** Takes the input buffer back once the runner no longer reads it. */
  readonly giveBack?: (x: Float32Array) => void;
}

/**
 * One sample's input: its values, or a function that writes them into the batch buffer at `offset` when the
 * batch is assembled (so the caller never allocates a float copy of its own). A writer must write exactly
 * `inputLength` values; the data it reads must stay untouched until the request settles.
 */
export type SampleInput = Float32Array | ((x: Float32Array, offset: number) => void);

export interface MicroBatcherOptions {
  readonly run: RunBatch;
  readonly batchSize: number;
  /** Values per input sample (H * W * 3). */
  readonly inputLength: number;
  /** Values per output sample (H * W * channels). */
  readonly outputLength: number;
  /** Batches that may run at once (one per network thread); default 1. */
  readonly concurrency?: number;
  /** Called with its sample count after each batch the engine ran (a server's batch-size histogram). */
  readonly onBatch?: (samples: number) => void;
  /**
   * Start a partial batch whenever a network thread is free, not only when none runs. For a server, where
   * requests trickle in and no full batch may ever form; the inference task keeps enough images in flight to
   * fill its batches and leaves this off.
   */
  readonly partialOnFreeThread?: boolean;
}

interface Pending {
  readonly input: SampleInput;
  /** Takes the scores, a view on the batch's output; true when the view was used up (the buffer may be reused). */
  readonly settle: (scores: Float32Array) => boolean;
  readonly reject: (e: unknown) => void;
}

/**
 * The smallest partial batch started beside a running one (partialOnFreeThread). bench:serve at concurrency 8 on
 * the idle 2-core machine, vs batch inference: 0.64 without (one batch at a time, of about 4), 0.76-0.79 from
 * one sample, 0.82 from two, 0.76 from four: a lone image rarely pays for a second thread's batch.
 */
const MIN_PARTIAL_ON_FREE_THREAD = 2;

/** Full-batch buffers kept for reuse, per kind: one per batch that may run at once, and one more. */
const SPARES_PER_RUNNER = 2;

export class MicroBatcher {
  private readonly queue: Pending[] = [];
  private running = 0;
  private scheduled = false;
  /** Since when at least one batch has been running (busy time counts the union, not the sum). */
  private busySince = 0;
  private busyMs = 0;
  private batches = 0;
  private samples = 0;
  private readonly spareInputs: Float32Array[] = [];
  private readonly spareOutputs: Float32Array[] = [];

  constructor(private readonly opts: MicroBatcherOptions) {
    if (opts.batchSize < 1) throw new RangeError(`batchSize must be >= 1, got ${opts.batchSize}`);
    if ((opts.concurrency ?? 1) < 1)
      throw new RangeError(`concurrency must be >= 1, got ${opts.concurrency}`);
  }

  /**
   * The network's scores for one input sample, through `use`, which gets a view on the batch's output that is
   * valid only while it runs (the buffer is then reused for a later batch): `use` must copy what it keeps.
   */
  score<T>(input: SampleInput, use: (scores: Float32Array) => T): Promise<T>;
  /** The network's scores for one input sample, as a view of its own (never reused). */
  score(input: SampleInput): Promise<Float32Array>;
  score<T>(input: SampleInput, use?: (scores: Float32Array) => T): Promise<T | Float32Array> {
    if (typeof input !== 'function' && input.length !== this.opts.inputLength) {
      return Promise.reject(
        new RangeError(`a network input needs ${this.opts.inputLength} values, got ${input.length}`),
      );
    }
    return new Promise((resolve, reject) => {
      const settle = (scores: Float32Array): boolean => {
        if (use === undefined) {
          resolve(scores);
          return false;
        }
        try {
          resolve(use(scores));
        } catch (e) {
          reject(e);
        }
        return true;
      };
      this.queue.push({ input, settle, reject });
      this.kick();
    });
  }

  /** Time during which at least one batch was in the engine, and how many batches and samples it ran. */
  get stats(): { networkMs: number; batches: number; samples: number } {
    return { networkMs: this.busyMs, batches: this.batches, samples: this.samples };
  }

  private kick(): void {
    // Full batches start while a network thread is free.
    while (this.running < (this.opts.concurrency ?? 1) && this.queue.length >= this.opts.batchSize) {
      void this.flush();
    }
    // A partial batch starts only when nothing runs (the running batches' ends bring more requests), or with
    // partialOnFreeThread whenever a thread is free; either way it waits one turn of the event loop first, so
    // requests made together run together.
    const free = (): boolean =>
      this.running === 0 ||
      (this.opts.partialOnFreeThread === true &&
        this.running < (this.opts.concurrency ?? 1) &&
        this.queue.length >= MIN_PARTIAL_ON_FREE_THREAD);
    if (free() && this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        if (free() && this.queue.length > 0) void this.flush();
      });
    }
  }

  private async flush(): Promise<void> {
    if (this.running++ === 0) this.busySince = performance.now();
    const queued = this.queue.splice(0, this.opts.batchSize);
    const { inputLength, outputLength, batchSize } = this.opts;
    const full = queued.length === batchSize;
    const x = (full ? this.spareInputs.pop() : undefined) ?? new Float32Array(queued.length * inputLength);
    // A writer that fails rejects its own request only; the batch closes ranks over it.
    const take: Pending[] = [];
    for (const p of queued) {
      try {
        if (typeof p.input === 'function') p.input(x, take.length * inputLength);
        else x.set(p.input, take.length * inputLength);
        take.push(p);
      } catch (e) {
        p.reject(e);
      }
    }
    try {
      if (take.length === 0) return;
      // Rare (a writer failed): a buffer of its own, as the engine may take the whole buffer over.
      const batch = take.length === queued.length ? x : x.slice(0, take.length * inputLength);
      const reusable = batch.length === batchSize * inputLength;
      const out = reusable ? this.spareOutputs.pop() : undefined;
      const y = await this.opts.run(batch, take.length, {
        ...(out !== undefined ? { out } : {}),
        giveBack: (back) => this.keep(this.spareInputs, back, batchSize * inputLength),
      });
      this.batches += 1;
      this.samples += take.length;
      if (y.length !== take.length * outputLength) {
        throw new Error(
          `the engine returned ${y.length} values for ${take.length} samples of ${outputLength}`,
        );
      }
      // Views on the batch's output, not copies (one allocation and copy less per image). When every sample used
      // its view up, the buffer serves a later batch; otherwise it lives until the last view is dropped.
      let usedUp = true;
      take.forEach((p, i) => {
        usedUp = p.settle(y.subarray(i * outputLength, (i + 1) * outputLength)) && usedUp;
      });
      if (usedUp) this.keep(this.spareOutputs, y, batchSize * outputLength);
      if (out !== undefined && out !== y) this.keep(this.spareOutputs, out, batchSize * outputLength);
      // Once every request is settled, so a listener that throws fails none of them.
      this.opts.onBatch?.(take.length);
    } catch (e) {
      for (const p of take) p.reject(e);
    } finally {
      if (--this.running === 0) this.busyMs += performance.now() - this.busySince;
      if (this.queue.length > 0) this.kick();
    }
  }

  /** Keeps a full-batch buffer for reuse (a detached or odd-sized one is dropped). */
  private keep(spares: Float32Array[], buffer: Float32Array, length: number): void {
    const limit = SPARES_PER_RUNNER * (this.opts.concurrency ?? 1);
    if (buffer.length === length && spares.length < limit && !spares.includes(buffer)) spares.push(buffer);
  }
}
