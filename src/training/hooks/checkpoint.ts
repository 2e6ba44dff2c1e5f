/**
 * A checkpoint after each validation (spec E.6, E.8): when the validation hook has written val metrics at this
 * step, the caller's `save` writes the checkpoint folder completely, and only then is the checkpoint line
 * printed (spec D.6: the agent copies the folder at once). `best_now`: always for the first checkpoint, then
 * only when the val loss is strictly lower than every earlier one. A NaN or infinite val loss writes no checkpoint:
 * the run fails there (./finite-loss.ts).
 */

import { reportCheckpoint } from '../../protocol/events';
import type { Logger } from '../../protocol/logger';
import type { MetricValues } from '../metrics';
import type { RunState, TrainHook } from '../trainer';
import { isNonFiniteLoss, nonFiniteLossError } from './finite-loss';
import { valMetricsAtStep } from './validation';

/** What the checkpoint line needs to know of a saved checkpoint. */
export interface SavedCheckpoint {
  id: number;
  /** Relative to results/, 8 digits. */
  subdir: string;
  sizeb: number;
}

export interface CheckpointRequest {
  epochFloat: number;
  valMetrics: MetricValues;
  /** Whether this checkpoint is reported as the best so far. */
  bestNow: boolean;
}

export interface CheckpointHookOptions {
  logger: Logger;
  save: (request: CheckpointRequest) => Promise<SavedCheckpoint>;
  /** The best-so-far record (a resumed run passes the one it restored); a fresh one by default. */
  best?: BestTracker;
}

/** The SDK's rule: strictly lower loss than the best so far; a null loss never improves on anything. */
export class BestTracker {
  private best = Number.POSITIVE_INFINITY;
  private seen = 0;

  /** The lowest val loss so far (null: none yet) and the checkpoints seen: what a resumed run restores. */
  state(): { bestLoss: number | null; seen: number } {
    return { bestLoss: Number.isFinite(this.best) ? this.best : null, seen: this.seen };
  }

  restore(state: { bestLoss: number | null; seen: number }): void {
    this.best = state.bestLoss ?? Number.POSITIVE_INFINITY;
    this.seen = state.seen;
  }

  /** Records one checkpoint's val loss; true when it is reported as best (the first one always is). */
  offer(loss: number | null | undefined): boolean {
    const improves = typeof loss === 'number' && Number.isFinite(loss) && loss < this.best;
    if (improves) this.best = loss;
    const first = this.seen === 0;
    this.seen += 1;
    return improves || first;
  }
}

export function checkpointHook(opts: CheckpointHookOptions): TrainHook {
  const best = opts.best ?? new BestTracker();
  let savedAtStep = -1;
  /** Saves the checkpoint of this step, then announces it (the agent copies the folder at once). */
  const saveAndReport = async (
    state: RunState,
    loss: number | null | undefined,
    valMetrics: MetricValues,
    optional: Record<string, unknown>,
  ): Promise<void> => {
    const bestNow = best.offer(loss);
    const saved = await opts.save({ epochFloat: state.epochFloat, valMetrics, bestNow });
    savedAtStep = state.globalStep;
    reportCheckpoint(opts.logger, {
      id: saved.id,
      subdir: saved.subdir,
      sizeb: saved.sizeb,
      bestNow,
      optional: { epoch: state.epochFloat, ...optional },
    });
  };
  return {
    name: 'checkpoint',
    // A run stopped by a signal keeps its progress: a checkpoint of the weights as they are, announced like any
    // other, unless the last step's validation has just written one. It has no val metrics (no validation ran).
    afterTrain: async (state, outcome) => {
      if (outcome.kind !== 'stopped' || state.globalStep === savedAtStep || state.lastStep === undefined)
        return;
      await saveAndReport(state, undefined, {}, { interrupted: outcome.reason });
    },
    afterStep: async (state) => {
      const valMetrics = valMetricsAtStep(state);
      if (!('loss' in valMetrics)) return;
      if (isNonFiniteLoss(valMetrics.loss))
        throw nonFiniteLossError('Validation loss', valMetrics.loss, state);
      await saveAndReport(state, valMetrics.loss, valMetrics, { val_metrics: valMetrics });
    },
  };
}
