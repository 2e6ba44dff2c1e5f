import type { RunState, StepContext, StepResult, TrainHook, TrainOutcome } from '../../src/training/trainer';
import { Trainer, everyNSteps, isEveryNSteps } from '../../src/training/trainer';

type Event = 'beforeTrain' | 'beforeEpoch' | 'beforeStep' | 'afterStep' | 'afterEpoch' | 'afterTrain';
const EVENTS: Event[] = ['beforeTrain', 'beforeEpoch', 'beforeStep', 'afterStep', 'afterEpoch', 'afterTrain'];

/** A hook that logs every call as "<name>.<event> e<epoch> i<iterInEpoch> g<globalStep>". */
function recorder(name: string, log: string[], outcomes: TrainOutcome[] = []): TrainHook {
  const at = (s: RunState) => `e${s.epoch} i${s.iterInEpoch} g${s.globalStep}`;
  return {
    name,
    beforeTrain: (s) => void log.push(`${name}.beforeTrain ${at(s)}`),
    beforeEpoch: (s) => void log.push(`${name}.beforeEpoch ${at(s)}`),
    beforeStep: (s) => void log.push(`${name}.beforeStep ${at(s)}`),
    // Async on purpose: the trainer must await it before the next hook.
    afterStep: async (s) => {
      await Promise.resolve();
      log.push(`${name}.afterStep ${at(s)}`);
    },
    afterEpoch: (s) => void log.push(`${name}.afterEpoch ${at(s)}`),
    afterTrain: (s, outcome) => {
      outcomes.push(outcome);
      log.push(`${name}.afterTrain ${at(s)} ${outcome.kind}`);
    },
  };
}

function counter(): { hook: TrainHook; counts: Record<Event, number> } {
  const counts = Object.fromEntries(EVENTS.map((e) => [e, 0])) as Record<Event, number>;
  const hook: TrainHook = Object.fromEntries(EVENTS.map((e) => [e, () => void (counts[e] += 1)]));
  return { hook, counts };
}

const okStep = async (): Promise<StepResult> => ({ loss: 0.5 });

describe('Trainer: the hook-based loop', () => {
  it('fires hooks in registration order around every step, against a table', async () => {
    const log: string[] = [];
    const steps: string[] = [];
    const trainer = new Trainer({
      epochs: 2,
      itersPerEpoch: 2,
      step: async (ctx: StepContext) => {
        steps.push(`step e${ctx.epoch} i${ctx.iterInEpoch} g${ctx.globalStep}`);
        log.push(`step e${ctx.epoch} i${ctx.iterInEpoch} g${ctx.globalStep}`);
        return { loss: 1 };
      },
      hooks: [recorder('A', log), recorder('B', log)],
    });
    expect(await trainer.train()).toEqual({ kind: 'completed' });
    expect(log).toEqual([
      'A.beforeTrain e0 i0 g0',
      'B.beforeTrain e0 i0 g0',
      'A.beforeEpoch e0 i0 g0',
      'B.beforeEpoch e0 i0 g0',
      'A.beforeStep e0 i0 g0',
      'B.beforeStep e0 i0 g0',
      'step e0 i0 g0',
      'A.afterStep e0 i1 g1',
      'B.afterStep e0 i1 g1',
      'A.beforeStep e0 i1 g1',
      'B.beforeStep e0 i1 g1',
      'step e0 i1 g1',
      'A.afterStep e0 i2 g2',
      'B.afterStep e0 i2 g2',
      'A.afterEpoch e0 i2 g2',
      'B.afterEpoch e0 i2 g2',
      'A.beforeEpoch e1 i0 g2',
      'B.beforeEpoch e1 i0 g2',
      'A.beforeStep e1 i0 g2',
      'B.beforeStep e1 i0 g2',
      'step e1 i0 g2',
      'A.afterStep e1 i1 g3',
      'B.afterStep e1 i1 g3',
      'A.beforeStep e1 i1 g3',
      'B.beforeStep e1 i1 g3',
      'step e1 i1 g3',
      'A.afterStep e1 i2 g4',
      'B.afterStep e1 i2 g4',
      'A.afterEpoch e1 i2 g4',
      'B.afterEpoch e1 i2 g4',
      'A.afterTrain e1 i2 g4 completed',
      'B.afterTrain e1 i2 g4 completed',
    ]);
    expect(steps).toHaveLength(4);
  });

  it.each([
    // epochs, iters, beforeTrain, beforeEpoch, beforeStep, afterStep, afterEpoch, afterTrain
    [1, 1, 1, 1, 1, 1, 1, 1],
    [3, 4, 1, 3, 12, 12, 3, 1],
    [2, 0, 1, 2, 0, 0, 2, 1],
    [0, 5, 1, 0, 0, 0, 0, 1],
  ])('epochs %i x iters %i: call counts match the table', async (epochs, iters, ...expected) => {
    const { hook, counts } = counter();
    await new Trainer({ epochs, itersPerEpoch: iters, step: okStep, hooks: [hook] }).train();
    expect(EVENTS.map((e) => counts[e])).toEqual(expected);
  });

  it('keeps counters and epochFloat in the state, and the last step result', async () => {
    const seen: [number, number][] = [];
    const trainer = new Trainer({
      epochs: 2,
      itersPerEpoch: 4,
      step: async (ctx) => ({ loss: ctx.globalStep / 10, metrics: { accuracy: 0.5 } }),
      hooks: [{ afterStep: (s) => void seen.push([s.epochFloat, s.lastStep?.loss ?? -1]) }],
    });
    await trainer.train();
    expect(seen).toEqual([
      [0.25, 0],
      [0.5, 0.1],
      [0.75, 0.2],
      [1, 0.3],
      [1.25, 0.4],
      [1.5, 0.5],
      [1.75, 0.6],
      [2, 0.7],
    ]);
    expect(trainer.state.totalSteps).toBe(8);
    expect(trainer.state.lastStep).toEqual({ loss: 0.7, metrics: { accuracy: 0.5 } });
  });

  it('lets hooks talk through the metric store, in registration order within a step', async () => {
    const read: string[] = [];
    const evaluator: TrainHook = {
      name: 'eval',
      afterStep: (s) => (s.globalStep % 2 === 0 ? s.putMetric('val/loss', 1 / s.globalStep) : undefined),
    };
    const checkpointer: TrainHook = {
      name: 'ckpt',
      afterStep: (s) => {
        const entry = s.metrics.get('val/loss');
        if (entry?.globalStep === s.globalStep) read.push(`${entry.value} at ${entry.epochFloat}`);
      },
    };
    await new Trainer({
      epochs: 1,
      itersPerEpoch: 4,
      step: okStep,
      hooks: [evaluator, checkpointer],
    }).train();
    expect(read).toEqual(['0.5 at 0.5', '0.25 at 1']);
  });

  it('stops before the next step when a hook sets the stop flag; afterEpoch skips the cut epoch', async () => {
    const { hook, counts } = counter();
    const outcomes: TrainOutcome[] = [];
    const stopper: TrainHook = {
      afterStep: (s) => {
        if (s.globalStep === 3) s.requestStop('early stopping');
        if (s.globalStep === 3) s.requestStop('second reason is ignored');
      },
      afterTrain: (_s, o) => void outcomes.push(o),
    };
    const trainer = new Trainer({ epochs: 5, itersPerEpoch: 2, step: okStep, hooks: [stopper, hook] });
    expect(await trainer.train()).toEqual({ kind: 'stopped', reason: 'early stopping' });
    expect(outcomes).toEqual([{ kind: 'stopped', reason: 'early stopping' }]);
    expect(trainer.state.globalStep).toBe(3);
    expect([counts.beforeEpoch, counts.afterEpoch, counts.afterStep]).toEqual([2, 1, 3]);
  });

  it('yields to the event loop between steps, so an outside stop request is seen at once', async () => {
    const trainer = new Trainer({ epochs: 1000, itersPerEpoch: 1000, step: okStep });
    setImmediate(() => trainer.requestStop('SIGTERM'));
    expect(await trainer.train()).toEqual({ kind: 'stopped', reason: 'SIGTERM' });
    expect(trainer.state.globalStep).toBeLessThanOrEqual(2);
    expect(trainer.state.globalStep).toBeGreaterThanOrEqual(1);
  });

  it('a failing step ends the run: afterTrain gets the failure, then train() rethrows it', async () => {
    const log: string[] = [];
    const outcomes: TrainOutcome[] = [];
    const boom = new Error('Loss became infinite or NaN at iteration=2');
    const trainer = new Trainer({
      epochs: 3,
      itersPerEpoch: 2,
      step: async (ctx) => {
        if (ctx.globalStep === 2) throw boom;
        return { loss: 1 };
      },
      hooks: [recorder('A', log, outcomes)],
    });
    await expect(trainer.train()).rejects.toBe(boom);
    expect(outcomes).toEqual([{ kind: 'failed', error: boom }]);
    expect(log.filter((l) => l.includes('afterEpoch'))).toEqual(['A.afterEpoch e0 i2 g2']);
    expect(log.at(-1)).toBe('A.afterTrain e1 i0 g2 failed');
  });

  it('a failing hook fails the run the same way', async () => {
    const outcomes: TrainOutcome[] = [];
    const bad: TrainHook = {
      beforeEpoch: (s) => {
        if (s.epoch === 1) throw new Error('disk full');
      },
    };
    const trainer = new Trainer({
      epochs: 2,
      itersPerEpoch: 1,
      step: okStep,
      hooks: [bad, { afterTrain: (_s, o) => void outcomes.push(o) }],
    });
    await expect(trainer.train()).rejects.toThrow('disk full');
    expect(outcomes.map((o) => o.kind)).toEqual(['failed']);
  });

  it('runs every afterTrain even if one throws; the loop failure wins over a cleanup failure', async () => {
    const ran: string[] = [];
    const hooks = (): TrainHook[] => [
      {
        afterTrain: () => {
          ran.push('first');
          throw new Error('cleanup failed');
        },
      },
      { afterTrain: () => void ran.push('second') },
    ];
    await expect(
      new Trainer({ epochs: 1, itersPerEpoch: 1, step: okStep, hooks: hooks() }).train(),
    ).rejects.toThrow('cleanup failed');
    expect(ran).toEqual(['first', 'second']);
    const failing = async (): Promise<StepResult> => {
      throw new Error('step failed');
    };
    await expect(
      new Trainer({ epochs: 1, itersPerEpoch: 1, step: failing, hooks: hooks() }).train(),
    ).rejects.toThrow('step failed');
    expect(ran).toEqual(['first', 'second', 'first', 'second']);
  });

  it('resumes at startEpoch with counters as if the earlier epochs had run', async () => {
    const log: string[] = [];
    const trainer = new Trainer({
      epochs: 3,
      itersPerEpoch: 2,
      startEpoch: 2,
      step: okStep,
      hooks: [recorder('A', log)],
    });
    await trainer.train();
    expect(log.filter((l) => /Epoch|Train/.test(l))).toEqual([
      'A.beforeTrain e2 i0 g4',
      'A.beforeEpoch e2 i0 g4',
      'A.afterEpoch e2 i2 g6',
      'A.afterTrain e2 i2 g6 completed',
    ]);
    expect(trainer.state.epochFloat).toBe(3);
  });

  it('resumes mid-epoch at startStep: the first epoch goes on at its step, the state says where', async () => {
    const log: string[] = [];
    const steps: string[] = [];
    const trainer = new Trainer({
      epochs: 3,
      itersPerEpoch: 4,
      startStep: 6,
      step: async (ctx) => {
        steps.push(`e${ctx.epoch} i${ctx.iterInEpoch} g${ctx.globalStep}`);
        return okStep();
      },
      hooks: [recorder('A', log)],
    });
    expect(trainer.state).toMatchObject({ globalStep: 6, startStep: 6, epoch: 1, iterInEpoch: 2 });
    expect(trainer.state.epochFloat).toBe(1.5);
    await trainer.train();
    expect(steps.slice(0, 3)).toEqual(['e1 i2 g6', 'e1 i3 g7', 'e2 i0 g8']);
    expect(steps).toHaveLength(6);
    expect(log.filter((l) => /beforeTrain|beforeEpoch/.test(l))).toEqual([
      'A.beforeTrain e1 i2 g6',
      'A.beforeEpoch e1 i2 g6',
      'A.beforeEpoch e2 i0 g8',
    ]);
    expect(() => new Trainer({ epochs: 1, itersPerEpoch: 4, startStep: 5, step: okStep })).toThrow(/beyond/);
    expect(
      () => new Trainer({ epochs: 2, itersPerEpoch: 4, startStep: 1, startEpoch: 1, step: okStep }),
    ).toThrow(/not both/);
  });

  it('runs once, and rejects bad counts', async () => {
    const trainer = new Trainer({ epochs: 1, itersPerEpoch: 1, step: okStep });
    await trainer.train();
    await expect(trainer.train()).rejects.toThrow(/runs once/);
    expect(() => new Trainer({ epochs: 1.5, itersPerEpoch: 1, step: okStep })).toThrow(
      /epochs must be a natural/,
    );
    expect(() => new Trainer({ epochs: 1, itersPerEpoch: -1, step: okStep })).toThrow(/itersPerEpoch/);
    expect(() => new Trainer({ epochs: 1, itersPerEpoch: 1, startEpoch: 2, step: okStep })).toThrow(/beyond/);
  });
});

describe('every N steps and after the last', () => {
  it('fires at multiples of n and after the last step', async () => {
    const fired: number[] = [];
    const hook = everyNSteps(3, (s) => void fired.push(s.globalStep));
    await new Trainer({ epochs: 2, itersPerEpoch: 5, step: okStep, hooks: [hook] }).train();
    expect(fired).toEqual([3, 6, 9, 10]);
  });

  it('is a plain predicate too, and rejects n that is not a positive integer', () => {
    expect(isEveryNSteps({ globalStep: 0, totalSteps: 10 }, 1)).toBe(false);
    expect(isEveryNSteps({ globalStep: 4, totalSteps: 10 }, 2)).toBe(true);
    expect(isEveryNSteps({ globalStep: 5, totalSteps: 10 }, 2)).toBe(false);
    expect(isEveryNSteps({ globalStep: 10, totalSteps: 10 }, 4)).toBe(true);
    expect(() => everyNSteps(0, () => undefined)).toThrow(/positive integer/);
  });
});
