/**
 * The learning-rate schedule (lr_schedule): its values at the steps that define it, the tracker's cosine kept
 * exactly, and the hook handing each step's rate to the engine before the step, from the trainer's global step
 * (so a run that starts later, resumed, continues the schedule).
 */
import { learningRateAt } from '../../src/tasks/video-tracking/train-tracker';
import type { LrScheduleConfig } from '../../src/task/config-types';
import { learningRateHook, standardHooks } from '../../src/training/hooks';
import { EvalPlanner } from '../../src/training/planner';
import { CONSTANT_SCHEDULE, scheduledLearningRate, WARMUP_START } from '../../src/training/lr-schedule';
import { Trainer } from '../../src/training/trainer';
import { createLogger } from '../../src/protocol/logger';
import { memorySink } from '../../src/protocol/sink';

const schedule = (s: Partial<LrScheduleConfig>): LrScheduleConfig => ({ ...CONSTANT_SCHEDULE, ...s });

describe('scheduledLearningRate', () => {
  it('constant without warmup is lr at every step (what runs did before schedules)', () => {
    for (const step of [0, 1, 50, 99, 100])
      expect(scheduledLearningRate(0.003, CONSTANT_SCHEDULE, step, 100)).toBe(0.003);
  });

  it('warms up linearly from 0.1 lr to lr over warmup_steps, then holds (constant)', () => {
    const s = schedule({ warmup_steps: 10 });
    expect(WARMUP_START).toBe(0.1);
    expect(scheduledLearningRate(2, s, 0, 100)).toBeCloseTo(0.2, 12);
    expect(scheduledLearningRate(2, s, 5, 100)).toBeCloseTo(2 * 0.55, 12);
    expect(scheduledLearningRate(2, s, 9, 100)).toBeCloseTo(2 * 0.91, 12);
    expect(scheduledLearningRate(2, s, 10, 100)).toBe(2);
    expect(scheduledLearningRate(2, s, 99, 100)).toBe(2);
  });

  it('cosine: lr at the start, half way at the middle, near the floor at the last step', () => {
    const s = schedule({ name: 'cosine' });
    expect(scheduledLearningRate(1, s, 0, 100)).toBe(1);
    expect(scheduledLearningRate(1, s, 50, 100)).toBeCloseTo(0.5, 12);
    expect(scheduledLearningRate(1, s, 99, 100)).toBeCloseTo(0.5 * (1 + Math.cos(0.99 * Math.PI)), 12);
    expect(scheduledLearningRate(1, s, 99, 100)).toBeGreaterThan(0); // Adam refuses a rate of 0
    const floored = schedule({ name: 'cosine', min_lr_ratio: 0.2 });
    expect(scheduledLearningRate(1, floored, 50, 100)).toBeCloseTo(0.6, 12);
    expect(scheduledLearningRate(1, floored, 100, 100)).toBeCloseTo(0.2, 12);
  });

  it('cosine after a warmup decays over the steps that follow it', () => {
    const s = schedule({ name: 'cosine', warmup_steps: 10 });
    expect(scheduledLearningRate(1, s, 5, 110)).toBeCloseTo(0.55, 12);
    expect(scheduledLearningRate(1, s, 10, 110)).toBe(1);
    expect(scheduledLearningRate(1, s, 60, 110)).toBeCloseTo(0.5, 12);
  });

  it('poly: lr (1 - t)^power above the floor', () => {
    const s = schedule({ name: 'poly' });
    expect(scheduledLearningRate(1, s, 0, 100)).toBe(1);
    expect(scheduledLearningRate(1, s, 50, 100)).toBeCloseTo(0.5 ** 0.9, 12);
    expect(scheduledLearningRate(1, s, 75, 100)).toBeCloseTo(0.25 ** 0.9, 12);
    const p2 = schedule({ name: 'poly', power: 2, min_lr_ratio: 0.1 });
    expect(scheduledLearningRate(1, p2, 50, 100)).toBeCloseTo(0.1 + 0.9 * 0.25, 12);
  });

  it("serves the tracker's cosine (lr to lr/10, no warmup) bit for bit", () => {
    const before = (lr: number, step: number, steps: number): number => {
      const t = Math.min(1, step / Math.max(1, steps));
      return lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * t)));
    };
    for (const steps of [1, 7, 1000, 13000]) {
      for (let step = 0; step <= steps; step += Math.max(1, Math.floor(steps / 97))) {
        expect(learningRateAt(3e-4, step, steps)).toBe(before(3e-4, step, steps));
      }
    }
  });
});

describe('the learning-rate hook', () => {
  /** A fake engine: remembers the rate, and the step reads it as a real engine's optimizer would. */
  function fakeEngine() {
    let lr = 123;
    return { setLearningRate: (v: number) => void (lr = v), getLearningRate: () => lr };
  }

  it('hands the engine the scheduled rate before each step', async () => {
    const engine = fakeEngine();
    const s = schedule({ name: 'cosine', warmup_steps: 2 });
    const seen: number[] = [];
    await new Trainer({
      epochs: 2,
      itersPerEpoch: 3,
      step: async () => {
        seen.push(engine.getLearningRate());
        return { loss: 1 };
      },
      hooks: [learningRateHook({ lr: 0.01, schedule: s, setLearningRate: engine.setLearningRate })],
    }).train();
    expect(seen).toEqual([0, 1, 2, 3, 4, 5].map((step) => scheduledLearningRate(0.01, s, step, 6)));
    expect(seen[0]).toBeCloseTo(0.001, 12);
    expect(seen[2]).toBe(0.01);
  });

  it('continues from the global step when the run starts later (resumed)', async () => {
    const engine = fakeEngine();
    const s = schedule({ name: 'poly' });
    const seen: number[] = [];
    await new Trainer({
      epochs: 3,
      itersPerEpoch: 2,
      startEpoch: 2,
      step: async () => {
        seen.push(engine.getLearningRate());
        return { loss: 1 };
      },
      hooks: [learningRateHook({ lr: 1, schedule: s, setLearningRate: engine.setLearningRate })],
    }).train();
    expect(seen).toEqual([scheduledLearningRate(1, s, 4, 6), scheduledLearningRate(1, s, 5, 6)]);
  });

  it('comes first among the standard hooks when given', () => {
    const logger = createLogger({ sink: memorySink().sink });
    const hooks = standardHooks({
      logger,
      planner: new EvalPlanner({ valEvery: 1 }),
      evaluate: async () => ({ loss: 1 }),
      saveCheckpoint: async () => ({ id: 0, subdir: '00000000', sizeb: 1 }),
      countTensors: () => 0,
      imagesPerStep: 1,
      learningRate: { lr: 1, schedule: CONSTANT_SCHEDULE, setLearningRate: () => undefined },
    });
    expect(hooks[0].name).toBe('learning rate');
  });
});
