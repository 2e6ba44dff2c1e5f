/**
 * When to validate (and so checkpoint): the SDK's `EvalPlanner` (spec E.7). Validation happens after the batch
 * at which `floor(epochFloat / valEvery + 1e-9)` first exceeds the number of validations performed, at most once
 * per batch. There is no forced final validation: `val_every > epochs` gives no checkpoint at all.
 */

import { configError } from '../errors';

/** `epoch + itersDone / itersPerEpoch`; after the last batch of epoch e it is e + 1. */
export function epochFloat(epoch: number, itersDone: number, itersPerEpoch: number): number {
  return epoch + itersDone / itersPerEpoch;
}

/** How many validations are due by `epochFlt`. The 1e-9 absorbs float error (0.3 / 0.1 = 2.9999999999999996). */
export function validationsCount(epochFlt: number, valEvery: number): number {
  return Math.floor(epochFlt / valEvery + 1e-9);
}

export interface EvalPlannerState {
  performed: number;
}

export class EvalPlanner {
  readonly valEvery: number;
  private performed = 0;

  constructor(opts: { valEvery: number }) {
    if (!(Number.isFinite(opts.valEvery) && opts.valEvery > 0)) {
      throw configError(`val_every must be a positive number of epochs, got ${opts.valEvery}`, {
        field: 'val_every',
      });
    }
    this.valEvery = opts.valEvery;
  }

  get validationsPerformed(): number {
    return this.performed;
  }

  needValidation(epochFlt: number): boolean {
    return validationsCount(epochFlt, this.valEvery) > this.performed;
  }

  validationPerformed(): void {
    this.performed += 1;
  }

  /** For resuming a run where it stopped. */
  saveState(): EvalPlannerState {
    return { performed: this.performed };
  }

  loadState(state: EvalPlannerState): void {
    this.performed = state.performed;
  }
}

export interface PlannedValidation {
  /** 0-based epoch and 1-based count of batches done in it. */
  epoch: number;
  itersDone: number;
  epochFloat: number;
}

/** Every validation a run will perform, by replaying the planner: for printing the plan and warning early. */
export function planValidations(opts: {
  epochs: number;
  itersPerEpoch: number;
  valEvery: number;
}): PlannedValidation[] {
  const planner = new EvalPlanner({ valEvery: opts.valEvery });
  const planned: PlannedValidation[] = [];
  for (let epoch = 0; epoch < opts.epochs; epoch += 1) {
    for (let it = 1; it <= opts.itersPerEpoch; it += 1) {
      const ef = epochFloat(epoch, it, opts.itersPerEpoch);
      if (planner.needValidation(ef)) {
        planned.push({ epoch, itersDone: it, epochFloat: ef });
        planner.validationPerformed();
      }
    }
  }
  return planned;
}
