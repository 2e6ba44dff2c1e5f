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

export class FoldBatches<S> {
  private readonly corrupted = new Set<number>();

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
    const { count, shuffleSeed, batchSize } = this.options;
    const order =
      shuffleSeed === undefined
        ? Array.from({ length: count }, (_, i) => i)
        : epochOrder({ count, seed: shuffleSeed, epoch });
    const usable = order.filter((i) => !this.corrupted.has(i));
    if (shuffleSeed === undefined || usable.length === 0) return usable;
    // Enough samples for every planned batch even if the remaining budget is spent on skips: wrap around.
    const needed = this.batchesPerEpoch * batchSize + this.remainingBudget();
    const out = usable.slice(0, needed);
    for (let k = 0; out.length < needed; k += 1) out.push(usable[k % usable.length]);
    return out;
  }

  /** The batches of one epoch. Training yields exactly `batchesPerEpoch` batches (or fails). */
  async *epoch(epoch: number): AsyncGenerator<Batch, void, undefined> {
    const { options } = this;
    const order = this.epochIndices(epoch);
    const limit = this.isTraining ? this.batchesPerEpoch : Number.POSITIVE_INFINITY;
    let yielded = 0;
    const batches = batchPipeline<S, Batch>({
      order,
      batchSize: options.batchSize,
      dropLast: this.isTraining,
      load: (index) => options.load(index, epoch),
      collate: options.collate,
      lookahead: Math.max(1, options.lookahead),
      corrupted: {
        allowed: this.remainingBudget(),
        onSkip: (index, error) => this.skip(index, error),
      },
    });
    try {
      for await (const batch of batches) {
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

  private remainingBudget(): number {
    return Math.max(0, this.options.allowedCorrupted - this.corrupted.size);
  }

  private skip(index: number, error: unknown): void {
    this.corrupted.add(index);
    const where = this.options.describe(index);
    this.options.onSkip({ index, ...where, reason: errorMessage(error), skipped: this.corrupted.size });
  }

  private budgetExceeded(e: SampleLoadError): TaskError {
    const { purpose, allowedCorrupted } = this.options;
    const where = this.options.describe(e.index);
    const budget =
      allowedCorrupted === 0
        ? 'no corrupted samples are allowed'
        : `the limit of ${allowedCorrupted} corrupted samples is exceeded`;
    const original = e.original instanceof TaskError ? e.original : undefined;
    return dataError(
      `${original?.detail ?? errorMessage(e.original)} (${purpose} fold: ${budget}; raise ` +
        `allow_corrupted_samples.${purpose} in the training config to skip such images, or fix the file)`,
      // The loader's own context (the annotation, an object index) is the more precise one.
      { ...where, ...original?.context },
      e.original,
    );
  }
}

/**
 * One batch at a time across epochs, for a step function that asks for "the next training batch of epoch e":
 * a new epoch's stream replaces the old one. `close` ends the current stream (awaiting loads in flight).
 */
export class EpochBatchReader<S> {
  private current: { epoch: number; iterator: AsyncGenerator<Batch, void, undefined> } | undefined;

  constructor(private readonly fold: FoldBatches<S>) {}

  async next(epoch: number): Promise<Batch> {
    if (this.current === undefined || this.current.epoch !== epoch) {
      await this.close();
      this.current = { epoch, iterator: this.fold.epoch(epoch) };
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
