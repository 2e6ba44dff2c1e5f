/**
 * @jest-environment ./test/onnx/ort-environment.js
 */
/**
 * class_weights and lr_schedule in a real run (runTraining, both engines): the weights computed from the
 * train fold's pixels as the Preflight line reports them, logged and recorded in config.json; every train
 * metrics line carrying the scheduled rate of its step; per-class accuracy in the val metrics. With the
 * defaults, no weights anywhere and the rate constant.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { PreflightReport } from '../../src/training/preflight';
import { scheduledLearningRate } from '../../src/training/lr-schedule';
import type { LrScheduleConfig } from '../../src/task/config-types';
import { makeTask, removeTask, runInProcess, TINY_TRAIN_CONFIG, type Line } from './e2e-helpers';

const PROJECT = {
  projectName: 'shapes',
  datasets: [{ name: 'a', count: 12 }],
  width: 32,
  height: 32,
  folds: { val: 0.3 },
  seed: 9,
};
const SCHEDULE: LrScheduleConfig = { name: 'cosine', warmup_steps: 2, min_lr_ratio: 0.05, power: 0.9 };

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await removeTask(r);
});

async function train(config: Record<string, unknown>) {
  const root = await makeTask({ project: PROJECT, config: { ...TINY_TRAIN_CONFIG, epochs: 3, ...config } });
  roots.push(root);
  const run = await runInProcess(root);
  if (run.error !== undefined) throw run.error;
  const checkpointConfig = JSON.parse(
    await fsp.readFile(path.join(root, 'results', '00000000', 'config.json'), 'utf8'),
  ) as Record<string, unknown>;
  const metrics = (type: string) =>
    run.lines
      .filter((l) => l.event_type === 'EventType.METRICS' && l.type === type)
      .map((l) => l.metrics as Record<string, number | null>);
  return { lines: run.lines, checkpointConfig, metrics };
}

const byMessage = (lines: Line[], message: string) => lines.find((l) => l.message === message);

describe('class_weights and lr_schedule in a run', () => {
  it.each(['onnxruntime', 'tfjs'] as const)(
    '%s: ENet weights from the train fold, recorded; the scheduled rate in every train line; class accuracy',
    async (engine) => {
      const run = await train({ class_weights: 'enet', lr_schedule: SCHEDULE, train_engine: engine });
      // The weights from the Preflight line's train fold: background is what no label covers.
      const trainFold = (byMessage(run.lines, 'Preflight')?.report as PreflightReport).folds.train;
      const labelled = Object.values(trainFold.classes).reduce((a, c) => a + c.pixels, 0);
      const pixels: Record<string, number> = { bg: trainFold.pixels - labelled };
      for (const [title, c] of Object.entries(trainFold.classes)) pixels[title] = c.pixels;
      const logged = byMessage(run.lines, 'Class weights') as Line & { weights: Record<string, number> };
      expect(logged.class_weights).toBe('enet');
      const classMap = byMessage(run.lines, 'Determined class mapping.')?.class_mapping as Record<
        string,
        number
      >;
      expect(Object.keys(logged.weights).sort()).toEqual(Object.keys(classMap).sort());
      for (const [title, w] of Object.entries(logged.weights)) {
        const px = pixels[title] ?? 0;
        expect([title, w]).toEqual([
          title,
          px > 0 ? expect.closeTo(1 / Math.log(1.02 + px / trainFold.pixels), 12) : 0,
        ]);
      }
      expect(run.lines.some((l) => l.message.startsWith('Class weights (enet, from the train fold'))).toBe(
        true,
      );
      expect(run.checkpointConfig.loss).toEqual({ class_weights: logged.weights });

      const steps = run.metrics('train');
      expect(steps.length).toBeGreaterThan(SCHEDULE.warmup_steps);
      steps.forEach((m, k) => expect(m.lr).toBe(scheduledLearningRate(0.01, SCHEDULE, k, steps.length)));
      expect(steps[0].lr).toBeCloseTo(0.001, 12);

      const val = run.metrics('val').at(-1) as Record<string, number | null>;
      expect(val.mean_accuracy).toEqual(expect.any(Number));
      for (const title of Object.keys(classMap)) expect(val).toHaveProperty(`acc_${title}`);
    },
    120_000,
  );

  it('defaults: ENet class weights logged and recorded, the rate constant at lr', async () => {
    const run = await train({ epochs: 1 });
    expect(byMessage(run.lines, 'Class weights')).toMatchObject({ class_weights: 'enet' });
    expect(run.checkpointConfig.settings).toMatchObject({
      class_weights: 'enet',
      lr_schedule: { name: 'constant' },
    });
    expect(run.checkpointConfig).toHaveProperty('loss.class_weights');
    expect(new Set(run.metrics('train').map((m) => m.lr))).toEqual(new Set([0.01]));
  }, 120_000);

  it('class_weights none: no weights logged or recorded (the loss before issue #17)', async () => {
    const run = await train({ epochs: 1, class_weights: 'none' });
    expect(byMessage(run.lines, 'Class weights')).toBeUndefined();
    expect(run.checkpointConfig).not.toHaveProperty('loss');
  }, 120_000);
});
