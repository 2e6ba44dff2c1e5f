import { TaskError } from '../../src/errors';
import { EvalPlanner, epochFloat, planValidations, validationsCount } from '../../src/training/planner';

const at = (plan: ReturnType<typeof planValidations>) => plan.map((p) => `${p.epoch}:${p.itersDone}`);

describe('validation planner (spec E.7)', () => {
  it('epoch_float is epoch + iters done / iters per epoch, in (epoch, epoch + 1]', () => {
    expect(epochFloat(2, 5, 10)).toBe(2.5);
    expect(epochFloat(0, 10, 10)).toBe(1);
  });

  it('validations_cnt absorbs float error with 1e-9', () => {
    expect(0.3 / 0.1).toBeLessThan(3);
    expect(validationsCount(0.3, 0.1)).toBe(3);
    expect(validationsCount(0.29, 0.1)).toBe(2);
  });

  it('val_every 0.5 with 10 batches per epoch: after batches 5 and 10 of every epoch', () => {
    const plan = planValidations({ epochs: 2, itersPerEpoch: 10, valEvery: 0.5 });
    expect(at(plan)).toEqual(['0:5', '0:10', '1:5', '1:10']);
    expect(plan.map((p) => p.epochFloat)).toEqual([0.5, 1, 1.5, 2]);
  });

  it('val_every 1 validates once per epoch, after its last batch', () => {
    expect(at(planValidations({ epochs: 3, itersPerEpoch: 7, valEvery: 1 }))).toEqual(['0:7', '1:7', '2:7']);
  });

  it('val_every below 1/iters validates on every batch until it catches up, at most once per batch', () => {
    // 4 batches per epoch, val_every 0.1: 2.5 validations due per batch, one per batch performed.
    const plan = planValidations({ epochs: 2, itersPerEpoch: 4, valEvery: 0.1 });
    expect(plan).toHaveLength(8);
    const planner = new EvalPlanner({ valEvery: 0.1 });
    expect(planner.needValidation(0.25)).toBe(true);
    planner.validationPerformed();
    planner.validationPerformed();
    expect(planner.needValidation(0.25)).toBe(false);
    expect(planner.needValidation(0.3)).toBe(true);
  });

  it('no forced final validation: epochs 3, val_every 2 gives one; val_every > epochs gives none', () => {
    expect(at(planValidations({ epochs: 3, itersPerEpoch: 4, valEvery: 2 }))).toEqual(['1:4']);
    expect(planValidations({ epochs: 3, itersPerEpoch: 4, valEvery: 5 })).toEqual([]);
  });

  it('uneven fractions: val_every 0.3 with 10 batches', () => {
    expect(at(planValidations({ epochs: 1, itersPerEpoch: 10, valEvery: 0.3 }))).toEqual([
      '0:3',
      '0:6',
      '0:9',
    ]);
  });

  it('saves and restores its count for resuming', () => {
    const a = new EvalPlanner({ valEvery: 0.5 });
    a.validationPerformed();
    const b = new EvalPlanner({ valEvery: 0.5 });
    b.loadState(a.saveState());
    expect(b.validationsPerformed).toBe(1);
    expect(b.needValidation(0.5)).toBe(false);
    expect(b.needValidation(1)).toBe(true);
  });

  it('rejects a val_every that is not a positive number, naming the field', () => {
    for (const bad of [0, -1, Number.NaN, Infinity]) {
      let error: unknown;
      try {
        new EvalPlanner({ valEvery: bad });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TaskError);
      expect((error as TaskError).context.field).toBe('val_every');
    }
  });
});
