/**
 * Batches network inputs across images: several images are in flight at once (decoding, cropping), each asks
 * for its crops' scores, and the batcher runs the engine on full batches while the next images decode. So the
 * network sees batches even in full-image mode, where each image is a single crop. With several network
 * threads (`concurrency`), up to that many batches run at once.
 */

/** One batch's tensors by name: each name's values for the batch's samples, one after another. */
export type BatchTensors = Readonly<Record<string, Float32Array>>;

/**
 * Runs the network on `n` samples of each named input and resolves with each named output. The inputs pass to
 * the runner; it may hand each back through `giveBack` once read, and may write an output into `out[name]` (and
 * resolve with it) instead of a buffer of its own: both spare the garbage collector megabytes per batch.
 */
export type RunBatch = (x: BatchTensors, n: number, reuse?: BatchReuse) => Promise<BatchTensors>;

export interface BatchReuse {
  /** Buffers of the outputs' sizes, by name, that the outputs may be written into. */
  readonly out?: BatchTensors;
  /** Takes an input buffer back once the runner no longer reads it. */
  readonly giveBack?: (name: string, x: Float32Array) => void;
}

/**
 * One sample's input: its values, or a function that writes them into the batch buffer at `offset` when the
 * batch is assembled (so the caller never allocates a float copy of its own). A writer must write exactly the
 * input's length of values; the data it reads must stay untouched until the request settles.
 */
export type SampleInput = Float32Array | ((x: Float32Array, offset: number) => void);

/** One sample's inputs by name: one for every input of the batcher. */
export type SampleInputs = Readonly<Record<string, SampleInput>>;

export interface MicroBatcherOptions {
  readonly run: RunBatch;
  readonly batchSize: number;
  /** Values per sample of each named input (an image: H * W * 3), in the network's order. */
  readonly inputs: Readonly<Record<string, number>>;
  /** Values per sample of each named output (class scores: H * W * channels), in the network's order. */
  readonly outputs: Readonly<Record<string, number>>;
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
  readonly inputs: SampleInputs;
  /** Takes the outputs, views on the batch's; true when the views were used up (the buffers may be reused). */
  readonly settle: (outputs: Record<string, Float32Array>) => boolean;
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
  /** Full-batch buffers kept for reuse, by tensor name. */
  private readonly spareInputs = new Map<string, Float32Array[]>();
  private readonly spareOutputs = new Map<string, Float32Array[]>();
  private readonly inputNames: readonly string[];
  private readonly outputNames: readonly string[];

  constructor(private readonly opts: MicroBatcherOptions) {
    if (opts.batchSize < 1) throw new RangeError(`batchSize must be >= 1, got ${opts.batchSize}`);
    if ((opts.concurrency ?? 1) < 1)
      throw new RangeError(`concurrency must be >= 1, got ${opts.concurrency}`);
    this.inputNames = Object.keys(opts.inputs);
    this.outputNames = Object.keys(opts.outputs);
    if (this.inputNames.length === 0 || this.outputNames.length === 0) {
      throw new RangeError('a batcher needs at least one input and one output');
    }
    for (const name of this.inputNames) this.spareInputs.set(name, []);
    for (const name of this.outputNames) this.spareOutputs.set(name, []);
  }

  /**
   * The network's first output for one sample of its only input (a segmenter's scores for an image), through
   * `use`, which gets a view on the batch's output that is valid only while it runs (the buffer is then reused
   * for a later batch): `use` must copy what it keeps.
   */
  score<T>(input: SampleInput, use: (scores: Float32Array) => T): Promise<T>;
  /** The network's first output for one sample of its only input, as a view of its own (never reused). */
  score(input: SampleInput): Promise<Float32Array>;
  score<T>(input: SampleInput, use?: (scores: Float32Array) => T): Promise<T | Float32Array> {
    if (this.inputNames.length !== 1) {
      return Promise.reject(
        new Error(`the network takes the inputs [${this.inputNames.join(', ')}]: score each by name`),
      );
    }
    const inputs = { [this.inputNames[0]]: input };
    const first = (outputs: Record<string, Float32Array>): Float32Array => outputs[this.outputNames[0]];
    return use === undefined
      ? this.request(inputs, first, false)
      : this.request(inputs, (outputs) => use(first(outputs)), true);
  }

  /**
   * Every output of the network for one sample, given each of its inputs by name, through `use` (views on the
   * batch's outputs, valid only while it runs, as for `score`); without `use`, views of their own.
   */
  scoreNamed<T>(inputs: SampleInputs, use: (outputs: Record<string, Float32Array>) => T): Promise<T>;
  scoreNamed(inputs: SampleInputs): Promise<Record<string, Float32Array>>;
  scoreNamed<T>(
    inputs: SampleInputs,
    use?: (outputs: Record<string, Float32Array>) => T,
  ): Promise<T | Record<string, Float32Array>> {
    return use === undefined
      ? this.request(inputs, (outputs) => outputs, false)
      : this.request(inputs, use, true);
  }

  /** Queues one sample; `usesUp`: `take` copies what it keeps, so the batch's buffers may be reused after it. */
  private request<T>(
    inputs: SampleInputs,
    take: (outputs: Record<string, Float32Array>) => T,
    usesUp: boolean,
  ): Promise<T> {
    const wrong = this.inputProblem(inputs);
    if (wrong !== null) return Promise.reject(new RangeError(wrong));
    return new Promise((resolve, reject) => {
      const settle = (outputs: Record<string, Float32Array>): boolean => {
        try {
          resolve(take(outputs));
        } catch (e) {
          reject(e);
        }
        return usesUp;
      };
      this.queue.push({ inputs, settle, reject });
      this.kick();
    });
  }

  /** Time during which at least one batch was in the engine, and how many batches and samples it ran. */
  get stats(): { networkMs: number; batches: number; samples: number } {
    return { networkMs: this.busyMs, batches: this.batches, samples: this.samples };
  }

  /** What is wrong with a sample's inputs (a missing or unknown name, a wrong length), or null. */
  private inputProblem(inputs: SampleInputs): string | null {
    const unknown = Object.keys(inputs).find((k) => !Object.hasOwn(this.opts.inputs, k));
    if (unknown !== undefined) {
      return `the network has no input "${unknown}"; its inputs are [${this.inputNames.join(', ')}]`;
    }
    for (const name of this.inputNames) {
      const input = Object.hasOwn(inputs, name) ? inputs[name] : undefined;
      if (input === undefined) return `the network's input "${name}" is missing`;
      const length = this.opts.inputs[name];
      if (typeof input !== 'function' && input.length !== length) {
        const what = this.inputNames.length === 1 ? 'a network input' : `the network's input "${name}"`;
        return `${what} needs ${length} values, got ${input.length}`;
      }
    }
    return null;
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
    const { batchSize } = this.opts;
    const full = queued.length === batchSize;
    const x: Record<string, Float32Array> = {};
    for (const name of this.inputNames) {
      const length = this.opts.inputs[name];
      x[name] =
        (full ? this.spareInputs.get(name)!.pop() : undefined) ?? new Float32Array(queued.length * length);
    }
    // A writer that fails rejects its own request only; the batch closes ranks over it.
    const take: Pending[] = [];
    for (const p of queued) {
      try {
        for (const name of this.inputNames) {
          const input = p.inputs[name];
          const offset = take.length * this.opts.inputs[name];
          if (typeof input === 'function') input(x[name], offset);
          else x[name].set(input, offset);
        }
        take.push(p);
      } catch (e) {
        p.reject(e);
      }
    }
    try {
      if (take.length === 0) return;
      // Rare (a writer failed): buffers of their own, as the engine may take the whole buffer over.
      const batch: Record<string, Float32Array> = {};
      for (const name of this.inputNames) {
        batch[name] =
          take.length === queued.length ? x[name] : x[name].slice(0, take.length * this.opts.inputs[name]);
      }
      const reusable = take.length === batchSize;
      const out: Record<string, Float32Array> = {};
      if (reusable) {
        for (const name of this.outputNames) {
          const spare = this.spareOutputs.get(name)!.pop();
          if (spare !== undefined) out[name] = spare;
        }
      }
      const y = await this.opts.run(batch, take.length, {
        ...(Object.keys(out).length > 0 ? { out } : {}),
        giveBack: (name, back) => {
          const spares = this.spareInputs.get(name);
          if (spares !== undefined) this.keep(spares, back, batchSize * this.opts.inputs[name]);
        },
      });
      this.batches += 1;
      this.samples += take.length;
      for (const name of this.outputNames) {
        const length = this.opts.outputs[name];
        const got = Object.hasOwn(y, name) ? y[name] : undefined;
        if (got?.length !== take.length * length) {
          throw new Error(
            `the engine returned ${got?.length ?? 'no'} values of "${name}" for ${take.length} samples of ${length}`,
          );
        }
      }
      // Views on the batch's outputs, not copies (one allocation and copy less per image). When every sample used
      // its views up, the buffers serve a later batch; otherwise they live until the last view is dropped.
      let usedUp = true;
      take.forEach((p, i) => {
        const views: Record<string, Float32Array> = {};
        for (const name of this.outputNames) {
          const length = this.opts.outputs[name];
          views[name] = y[name].subarray(i * length, (i + 1) * length);
        }
        usedUp = p.settle(views) && usedUp;
      });
      for (const name of this.outputNames) {
        const spares = this.spareOutputs.get(name)!;
        const length = batchSize * this.opts.outputs[name];
        if (usedUp) this.keep(spares, y[name], length);
        if (out[name] !== undefined && out[name] !== y[name]) this.keep(spares, out[name], length);
      }
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
