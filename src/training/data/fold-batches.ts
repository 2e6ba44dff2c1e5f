/**
 * The batches of one fold, epoch after epoch, over the lead's streaming pipeline (pipeline.ts):
 * - train: a seeded shuffle per epoch, the last incomplete batch dropped, and always `batchesPerEpoch` batches
 *   (a skipped corrupted sample is replaced by the next one in the order, wrapping around if needed);
 * - val: file order, the last batch kept.
 * Corrupted samples follow the SDK's CorruptedSampleCatcher: each distinct sample that fails to load counts
 * once against `allow_corrupted_samples` for the whole run and is left out from then on; the failure past the
 * budget is a data error naming the file. No tfjs here.
 */

import { dataError, errorMessage, TaskError } from '../../errors';
import type { FoldPurpose } from '../folds';
import { epochOrder } from '../shuffle';
import type { Batch } from '../engine/types';
import { batchPipeline, SampleLoadError } from './pipeline';

export interface FoldBatchesOptions<S> {
  purpose: FoldPurpose;
  /** Samples in the fold; they are addressed by index 0..count-1. */
  count: number;
  batchSize: number;
  /** Training: shuffle with this seed per epoch and drop the last incomplete batch. Absent: file order, keep it. */
  shuffleSeed?: number;
  /** Samples loaded ahead of the batch being consumed (at least 1). */
  lookahead: number;
  /** `allow_corrupted_samples` of this fold. */
  allowedCorrupted: number;
  load: (index: number, epoch: number) => Promise<S>;
  collate: (samples: S[]) => Batch;
  /** How to name a sample in messages: the file and the item. */
  describe: (index: number) => { file: string; item: string };
  /** Told about each skipped sample (the caller logs a warning naming it). */
  onSkip: (info: { index: number; file: string; item: string; reason: string; skipped: number }) => void;
}

/**
 * Where a fold's stream is in an epoch: enough to start the same epoch again at the same sample, with the same
 * corrupted-sample budget, as if it had never stopped (the order is a function of the seed and the epoch).
 */
export interface EpochPosition {
  epoch: number;
  /** Batches of the epoch already handed out. */
  batchesDone: number;
  /** Samples found corrupted before the epoch began: left out of its order. */
  corruptedBefore: readonly number[];
  /** Samples skipped in the epoch so far, in order: each took one place of the order. */
  skippedInEpoch: readonly number[];
}

export class FoldBatches<S> {
  private readonly corrupted = new Set<number>();
  /** The epoch being streamed (or last streamed), for `position`. */
  private live: { epoch: number; batchesDone: number; corruptedBefore: number[]; skippedInEpoch: number[] } =
    { epoch: 0, batchesDone: 0, corruptedBefore: [], skippedInEpoch: [] };

  constructor(private readonly options: FoldBatchesOptions<S>) {
    if (!(Number.isInteger(options.batchSize) && options.batchSize >= 1)) {
      throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    }
  }

  /** Samples per batch (a sample may hold several network inputs, e.g. a native-resolution grid). */
  get batchSize(): number {
    return this.options.batchSize;
  }

  get isTraining(): boolean {
    return this.options.shuffleSeed !== undefined;
  }

  /** Batches per epoch as planned: full batches only when training, every sample when validating. */
  get batchesPerEpoch(): number {
    const { count, batchSize } = this.options;
    return this.isTraining ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
  }

  /** Distinct samples that failed to load so far (left out of later epochs). */
  get corruptedCount(): number {
    return this.corrupted.size;
  }

  /** The sample indices one epoch visits, before any skip. */
  epochIndices(epoch: number): number[] {
    return this.orderOf(epoch, this.corrupted);
  }

  /** The epoch's order without the samples in `excluded` (those known corrupted when it began). */
  private orderOf(epoch: number, excluded: ReadonlySet<number>): number[] {
    const { count, shuffleSeed, batchSize, allowedCorrupted } = this.options;
    const order =
      shuffleSeed === undefined
        ? Array.from({ length: count }, (_, i) => i)
        : epochOrder({ count, seed: shuffleSeed, epoch });
    const usable = order.filter((i) => !excluded.has(i));
    if (shuffleSeed === undefined || usable.length === 0) return usable;
    // Enough samples for every planned batch even if the remaining budget is spent on skips: wrap around.
    const needed = this.batchesPerEpoch * batchSize + Math.max(0, allowedCorrupted - excluded.size);
    const out = usable.slice(0, needed);
    for (let k = 0; out.length < needed; k += 1) out.push(usable[k % usable.length]);
    return out;
  }

  /** Where the last epoch streamed stands (after the batches handed out so far). */
  position(): EpochPosition {
    const p = this.live;
    return { ...p, corruptedBefore: [...p.corruptedBefore], skippedInEpoch: [...p.skippedInEpoch] };
  }

  /** The corrupted samples found so far (a resumed run starts with those of the run it resumes). */
  corruptedIndices(): number[] {
    return [...this.corrupted].sort((a, b) => a - b);
  }

  /** Counts these samples as found corrupted (resuming: they were, in the run that stopped). */
  restoreCorrupted(indices: readonly number[]): void {
    for (const i of indices) this.corrupted.add(i);
  }

  /**
   * The batches of one epoch. Training yields exactly `batchesPerEpoch` batches (or fails). With `from` (a
   * `position()` of the same epoch, possibly of another process), the epoch goes on after its batches done.
   */
  async *epoch(epoch: number, from?: EpochPosition): AsyncGenerator<Batch, void, undefined> {
    const { options } = this;
    if (from !== undefined && from.epoch !== epoch) {
      throw new RangeError(`a position in epoch ${from.epoch} cannot start epoch ${epoch}`);
    }
    const before = from === undefined ? new Set(this.corrupted) : new Set(from.corruptedBefore);
    const skippedInEpoch = [...(from?.skippedInEpoch ?? [])];
    this.restoreCorrupted([...before, ...skippedInEpoch]);
    const batchesDone = from?.batchesDone ?? 0;
    this.live = { epoch, batchesDone, corruptedBefore: [...before], skippedInEpoch };
    // Each batch done took batchSize places of the order, and each skip one more.
    const order = this.orderOf(epoch, before).slice(batchesDone * options.batchSize + skippedInEpoch.length);
    const limit = this.isTraining ? this.batchesPerEpoch - batchesDone : Number.POSITIVE_INFINITY;
    let yielded = 0;
    const batches = batchPipeline<S, Batch>({
      order,
      batchSize: options.batchSize,
      dropLast: this.isTraining,
      load: (index) => options.load(index, epoch),
      collate: options.collate,
      lookahead: Math.max(1, options.lookahead),
      corrupted: {
        allowed: Math.max(0, options.allowedCorrupted - before.size - skippedInEpoch.length),
        onSkip: (index, error) => this.skip(index, error),
      },
    });
    try {
      if (yielded >= limit) return;
      for await (const batch of batches) {
        // Counted before the batch is handed out: a checkpoint written after its step is past it.
        this.live.batchesDone += 1;
        yield batch;
        yielded += 1;
        if (yielded >= limit) return;
      }
    } catch (e) {
      if (e instanceof SampleLoadError) throw this.budgetExceeded(e);
      throw e;
    } finally {
      await batches.return(undefined);
    }
    if (this.isTraining && yielded < limit) {
      throw dataError(
        `only ${yielded} of ${limit} batches of the ${options.purpose} fold could be loaded: ` +
          `${this.corrupted.size} of its ${options.count} images are corrupted`,
        { field: `allow_corrupted_samples.${options.purpose}` },
      );
    }
  }

  private skip(index: number, error: unknown): void {
    this.corrupted.add(index);
    this.live.skippedInEpoch.push(index);
    const where = this.options.describe(index);
    this.options.onSkip({ index, ...where, reason: errorMessage(error), skipped: this.corrupted.size });
  }

  private budgetExceeded(e: SampleLoadError): TaskError {
    const { purpose, allowedCorrupted } = this.options;
    return corruptedBudgetError({
      purpose,
      allowed: allowedCorrupted,
      where: this.options.describe(e.index),
      error: e.original,
    });
  }
}

/**
 * The failure of the corrupted sample past a fold's `allow_corrupted_samples` budget: a data error naming the
 * file and the item (or the loader's more precise place), saying how to go on. The loader and the preflight's
 * image check say it alike.
 */
export function corruptedBudgetError(opts: {
  purpose: FoldPurpose;
  allowed: number;
  where: { file: string; item: string };
  error: unknown;
}): TaskError {
  const { purpose, allowed } = opts;
  const budget =
    allowed === 0
      ? 'no corrupted samples are allowed'
      : `the limit of ${allowed} corrupted samples is exceeded`;
  const original = opts.error instanceof TaskError ? opts.error : undefined;
  return dataError(
    `${original?.detail ?? errorMessage(opts.error)} (${purpose} fold: ${budget}; raise ` +
      `allow_corrupted_samples.${purpose} in the training config to skip such images, or fix the file)`,
    // The loader's own context (the annotation, an object index) is the more precise one.
    { ...opts.where, ...original?.context },
    opts.error,
  );
}

/**
 * One batch at a time across epochs, for a step function that asks for "the next training batch of epoch e":
 * a new epoch's stream replaces the old one. `close` ends the current stream (awaiting loads in flight).
 */
export class EpochBatchReader<S> {
  private current: { epoch: number; iterator: AsyncGenerator<Batch, void, undefined> } | undefined;
  private resumeAt: EpochPosition | undefined;

  constructor(private readonly fold: FoldBatches<S>) {}

  /** Where the epoch being read stands: what a checkpoint records. */
  position(): EpochPosition {
    return this.fold.position();
  }

  /** The fold itself (its corrupted samples). */
  get batches(): FoldBatches<S> {
    return this.fold;
  }

  /**
   * Resuming: the next epoch asked for starts at `position` when it is that position's epoch. A position at
   * the end of its epoch means the next epoch from its start, with that epoch's skips counted as found.
   */
  resume(position: EpochPosition): void {
    if (position.batchesDone >= this.fold.batchesPerEpoch) {
      this.fold.restoreCorrupted([...position.corruptedBefore, ...position.skippedInEpoch]);
      this.resumeAt = undefined;
      return;
    }
    this.resumeAt = position;
  }

  async next(epoch: number): Promise<Batch> {
    if (this.current === undefined || this.current.epoch !== epoch) {
      await this.close();
      const from = this.resumeAt?.epoch === epoch ? this.resumeAt : undefined;
      this.resumeAt = undefined;
      this.current = { epoch, iterator: this.fold.epoch(epoch, from) };
    }
    const r = await this.current.iterator.next();
    if (r.done === true) {
      throw new Error(`the training batches of epoch ${epoch} ran out before the planned steps`);
    }
    return r.value;
  }

  async close(): Promise<void> {
    const open = this.current;
    this.current = undefined;
    if (open !== undefined) await open.iterator.return(undefined);
  }
}
