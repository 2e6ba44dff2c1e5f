/**
 * A streaming batch pipeline: samples are loaded from disk in a bounded window ahead of the consumer, so
 * decoding the next batch overlaps with training on the current one, and memory holds at most `window`
 * samples whatever the project size. Sample order is kept (shuffling is the caller's `order`).
 */

export interface CorruptedBudget {
  /** How many samples of this fold may fail to load before the task fails (`allow_corrupted_samples`). */
  allowed: number;
  /** Called for each skipped sample, so the caller can name it in the log. */
  onSkip: (index: number, error: unknown, skippedSoFar: number) => void;
}

export interface BatchPipelineOptions<S, B> {
  /** Indices of the samples, in the order they are wanted (one epoch). */
  order: readonly number[];
  batchSize: number;
  /** Drop a last, incomplete batch (training) or keep it (validation). */
  dropLast: boolean;
  load: (index: number) => Promise<S>;
  collate: (samples: S[]) => B;
  /** Samples in flight at once, beyond the batch being consumed. At least 1. */
  lookahead: number;
  corrupted?: CorruptedBudget;
}

/** The failure that exhausts the corrupted-sample budget: carries the index and the original error. */
export class SampleLoadError extends Error {
  constructor(
    readonly index: number,
    readonly original: unknown,
  ) {
    super(original instanceof Error ? original.message : String(original), { cause: original });
    this.name = 'SampleLoadError';
  }
}

interface Settled<S> {
  index: number;
  ok: boolean;
  value?: S;
  error?: unknown;
}

function settle<S>(index: number, p: Promise<S>): Promise<Settled<S>> {
  return p.then(
    (value) => ({ index, ok: true, value }),
    (error: unknown) => ({ index, ok: false, error }),
  );
}

/**
 * Yields batches in order. Failed samples are skipped while the budget lasts (the batch is filled from the
 * following samples); the next failure throws a SampleLoadError. Loads still in flight when the consumer stops
 * early are awaited and discarded, so no rejection goes unhandled.
 */
export async function* batchPipeline<S, B>(
  opts: BatchPipelineOptions<S, B>,
): AsyncGenerator<B, void, undefined> {
  if (opts.batchSize < 1) throw new RangeError(`batchSize must be >= 1, got ${opts.batchSize}`);
  const window = opts.batchSize + Math.max(1, opts.lookahead);
  const inFlight: Promise<Settled<S>>[] = [];
  let next = 0;
  let skipped = 0;
  const fill = (): void => {
    while (inFlight.length < window && next < opts.order.length) {
      const index = opts.order[next++];
      inFlight.push(
        settle(
          index,
          Promise.resolve().then(() => opts.load(index)),
        ),
      );
    }
  };

  let batch: S[] = [];
  try {
    fill();
    while (inFlight.length > 0) {
      const r = await (inFlight.shift() as Promise<Settled<S>>);
      fill();
      if (!r.ok) {
        const budget = opts.corrupted;
        if (budget === undefined || skipped >= budget.allowed) throw new SampleLoadError(r.index, r.error);
        skipped += 1;
        budget.onSkip(r.index, r.error, skipped);
        continue;
      }
      batch.push(r.value as S);
      if (batch.length === opts.batchSize) {
        const full = batch;
        batch = [];
        yield opts.collate(full);
      }
    }
    if (batch.length > 0 && !opts.dropLast) yield opts.collate(batch);
  } finally {
    await Promise.all(inFlight);
  }
}

/** How many batches `batchPipeline` yields for `n` samples when none is skipped. */
export function batchCount(n: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}
