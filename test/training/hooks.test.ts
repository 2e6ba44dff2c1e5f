import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { TaskError } from '../../src/errors';
import type { ModelConfigJson } from '../../src/format/types';
import { CheckpointWriter } from '../../src/model-state/checkpoint-writer';
import { listTarEntries } from '../../src/model-state/tar';
import { loadModelFromDir } from '../../src/network/io';
import { createLogger } from '../../src/protocol/logger';
import { EXIT_CODES, runMain } from '../../src/protocol/main';
import { memorySink } from '../../src/protocol/sink';
import {
  accuracyPerClass,
  BestTracker,
  epochLogHook,
  iouPerClass,
  standardHooks,
  TENSOR_COUNT_MESSAGE,
  validationMetricValues,
} from '../../src/training/hooks';
import { resolveComputeWorkers } from '../../src/training/engine-factory';
import { writeCheckpointFiles } from '../../src/training/hooks/checkpoint-files';
import { ConfusionMatrix, WeightedMean } from '../../src/training/metrics';
import { EvalPlanner } from '../../src/training/planner';
import { Trainer, type TrainerOptions } from '../../src/training/trainer';

type Line = Record<string, unknown> & { message: string; level: string };

function logged() {
  const mem = memorySink();
  const logger = createLogger({ sink: mem.sink, level: 'debug' });
  const lines = (): Line[] => mem.lines.map((l) => JSON.parse(l) as Line);
  return { logger, lines };
}

/** A short name per line, to compare the order of what was printed. */
function kind(l: Line): string {
  if (l.event_type === 'EventType.PROGRESS') return `progress ${String(l.current)}/${String(l.total)}`;
  if (l.event_type === 'EventType.METRICS') return `${String(l.type)} ${String(l.epoch)}`;
  if (l.event_type === 'EventType.CHECKPOINT') return `checkpoint ${String(l.id)} ${String(l.best_now)}`;
  return l.message;
}

describe('training hooks (spec D.5, E.6-E.8)', () => {
  it('run in a fixed order, and a run prints progress, metrics, validations and checkpoints in the SDK order', async () => {
    const { logger, lines } = logged();
    const valLosses = [1.0, 0.8, 0.8, 0.9, 0.5, null];
    const saves: { linesBefore: number; bestNow: boolean; loss: unknown }[] = [];
    let evaluations = 0;
    let tensors = 10;
    const hooks = standardHooks({
      logger,
      planner: new EvalPlanner({ valEvery: 0.5 }),
      evaluate: async () => ({ loss: valLosses[evaluations++], accuracy: 0.5 }),
      saveCheckpoint: async (request) => {
        saves.push({ linesBefore: lines().length, bestNow: request.bestNow, loss: request.valMetrics.loss });
        return {
          id: saves.length - 1,
          subdir: String(saves.length - 1).padStart(8, '0'),
          sizeb: 100 + saves.length,
        };
      },
      countTensors: () => tensors++,
      imagesPerStep: 4,
    });
    expect(hooks.map((h) => h.name)).toEqual([
      'epoch log',
      'progress',
      'train metrics',
      'finite loss',
      'validation',
      'checkpoint',
      'tensor count',
    ]);
    const outcome = await new Trainer({
      epochs: 3,
      itersPerEpoch: 2,
      step: async ({ globalStep }) => ({
        loss: 1 / (globalStep + 1),
        metrics: { accuracy: globalStep / 10 },
      }),
      hooks,
    }).train();
    expect(outcome).toEqual({ kind: 'completed' });
    const all = lines();
    const firstEpoch = all.slice(0, all.findIndex((l) => l.message === TENSOR_COUNT_MESSAGE) + 1).map(kind);
    expect(firstEpoch).toEqual([
      'progress 0/6',
      'Starting new epoch',
      'progress 1/6',
      'train 0.5',
      'val 0.5',
      'checkpoint 0 true',
      'progress 2/6',
      'train 1',
      'val 1',
      'checkpoint 1 true',
      'Epoch has finished',
      TENSOR_COUNT_MESSAGE,
    ]);
    const checkpoints = all.filter((l) => l.event_type === 'EventType.CHECKPOINT');
    expect(checkpoints.map((c) => c.id)).toEqual([0, 1, 2, 3, 4, 5]);
    // Strictly lower loss only; an equal or higher one is not best; a null loss is never best after the first.
    expect(checkpoints.map((c) => c.best_now)).toEqual([true, true, false, false, true, false]);
    expect(checkpoints[1]).toMatchObject({ subdir: '00000001', sizeb: 102 });
    expect(checkpoints[1].optional).toEqual({ epoch: 1, val_metrics: { loss: 0.8, accuracy: 0.5 } });
    // The checkpoint is saved (written) before its line exists.
    saves.forEach((s, i) => {
      const lineIndex = all.indexOf(checkpoints[i]);
      expect(s.linesBefore).toBeLessThanOrEqual(lineIndex);
    });
    const trainLines = all.filter((l) => l.type === 'train');
    expect(trainLines.map((l) => l.epoch)).toEqual([0.5, 1, 1.5, 2, 2.5, 3]);
    expect(trainLines[1].metrics).toEqual({ loss: 0.5, accuracy: 0.1 });
    const progress = all.filter((l) => l.event_type === 'EventType.PROGRESS');
    expect(progress.every((p) => p.subtask === 'Model training: ')).toBe(true);
    expect(progress.map((p) => p.current)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const counts = all.filter((l) => l.message === TENSOR_COUNT_MESSAGE);
    expect(counts.map((l) => [l.epoch, l.num_tensors])).toEqual([
      [1, 10],
      [2, 11],
      [3, 12],
    ]);
  });

  it('validate only when the planner says so (val_every 2 over 3 epochs: once)', async () => {
    const { logger, lines } = logged();
    let evaluations = 0;
    await new Trainer({
      epochs: 3,
      itersPerEpoch: 4,
      step: async () => ({ loss: 1 }),
      hooks: standardHooks({
        logger,
        planner: new EvalPlanner({ valEvery: 2 }),
        evaluate: async () => {
          evaluations += 1;
          return { loss: 0.3 };
        },
        saveCheckpoint: async () => ({ id: 0, subdir: '00000000', sizeb: 1 }),
        countTensors: () => 0,
        imagesPerStep: 4,
      }),
    }).train();
    expect(evaluations).toBe(1);
    expect(
      lines()
        .filter((l) => l.type === 'val')
        .map((l) => l.epoch),
    ).toEqual([2]);
  });

  it('train metrics: non-finite values are written as null (a non-finite accuracy does not stop the run)', async () => {
    const { logger, lines } = logged();
    const run = runWithStandardHooks({
      logger,
      step: async ({ globalStep }) => ({
        loss: globalStep === 0 ? 0.5 : Number.NaN,
        metrics: { accuracy: Number.POSITIVE_INFINITY },
      }),
    });
    await expect(run.trainer.train()).rejects.toThrow(/Loss became infinite or NaN/);
    expect(
      lines()
        .filter((l) => l.type === 'train')
        .map((l) => l.metrics),
    ).toEqual([
      { loss: 0.5, accuracy: null },
      { loss: null, accuracy: null },
    ]);
  });

  it('best_now: the first checkpoint always, then strictly lower loss', () => {
    const t = new BestTracker();
    expect([t.offer(null), t.offer(2), t.offer(2), t.offer(1.5), t.offer(Number.NaN), t.offer(1)]).toEqual([
      true,
      true,
      false,
      true,
      false,
      true,
    ]);
  });
});

/** A Trainer with the standard hooks: val_every 0.5 over 3 epochs of 2 steps, so a validation after every step. */
function runWithStandardHooks(opts: {
  logger: ReturnType<typeof logged>['logger'];
  step: TrainerOptions['step'];
  valLoss?: (validation: number) => number | null;
}) {
  const saved: number[] = [];
  let validations = 0;
  const trainer = new Trainer({
    epochs: 3,
    itersPerEpoch: 2,
    step: opts.step,
    hooks: standardHooks({
      logger: opts.logger,
      planner: new EvalPlanner({ valEvery: 0.5 }),
      evaluate: async () => {
        const validation = validations++;
        return { loss: opts.valLoss === undefined ? 0.5 : opts.valLoss(validation), accuracy: 0.5 };
      },
      saveCheckpoint: async () => {
        saved.push(saved.length);
        return { id: saved.length - 1, subdir: String(saved.length - 1).padStart(8, '0'), sizeb: 1 };
      },
      countTensors: () => 0,
      imagesPerStep: 4,
    }),
  });
  return { trainer, saved, validations: () => validations };
}

describe('a NaN or infinite loss stops the run, and no checkpoint is written after it', () => {
  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    'a train loss of %d at the third step: a TaskError naming the epoch and the step, no validation or checkpoint after it',
    async (bad) => {
      const { logger, lines } = logged();
      const run = runWithStandardHooks({
        logger,
        step: async ({ globalStep }) => ({ loss: globalStep === 2 ? bad : 1 }),
      });
      const error = await run.trainer.train().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TaskError);
      expect((error as TaskError).message).toMatch(
        new RegExp(
          `^Loss became infinite or NaN \\(${String(bad)}\\) at epoch 2 of 3, step 1 of 2 ` +
            '\\(iteration 3 of 6; epoch 1.5 in the metrics lines\\)',
        ),
      );
      expect(run.validations()).toBe(2);
      expect(run.saved).toEqual([0, 1]);
      const all = lines();
      const nanLine = all.findIndex((l) => l.type === 'train' && l.epoch === 1.5);
      expect(nanLine).toBeGreaterThan(0);
      expect(all[nanLine].metrics).toEqual({ loss: null });
      expect(all.slice(nanLine + 1).filter((l) => l.type === 'val' || l.event_type !== undefined)).toEqual(
        [],
      );
    },
  );

  it('a non-finite val loss writes no checkpoint (none marked best), and fails the run naming the step', async () => {
    const { logger, lines } = logged();
    const run = runWithStandardHooks({
      logger,
      step: async () => ({ loss: 1 }),
      valLoss: (validation) => (validation === 0 ? Number.NaN : 0.5),
    });
    await expect(run.trainer.train()).rejects.toThrow(
      /^Validation loss became infinite or NaN \(NaN\) at epoch 1 of 3, step 1 of 2 \(iteration 1 of 6;/,
    );
    expect(run.saved).toEqual([]);
    expect(lines().filter((l) => l.event_type === 'EventType.CHECKPOINT')).toEqual([]);
    // The val line is printed (its loss null), so the user sees the validation that failed.
    expect(lines().find((l) => l.type === 'val')?.metrics).toEqual({ loss: null, accuracy: 0.5 });
  });

  it('a later non-finite val loss keeps the checkpoints before it and writes none after', async () => {
    const { logger, lines } = logged();
    const run = runWithStandardHooks({
      logger,
      step: async () => ({ loss: 1 }),
      valLoss: (validation) => (validation === 2 ? Number.POSITIVE_INFINITY : 1 - validation / 10),
    });
    await expect(run.trainer.train()).rejects.toThrow(/Validation loss .* at epoch 2 of 3, step 1 of 2/);
    expect(run.saved).toEqual([0, 1]);
    const checkpoints = lines().filter((l) => l.event_type === 'EventType.CHECKPOINT');
    expect(checkpoints.map((c) => [c.id, c.best_now])).toEqual([
      [0, true],
      [1, true],
    ]);
  });

  it('a null val loss (no pixel counted) is not a divergence: the checkpoint is written', async () => {
    const { logger } = logged();
    const run = runWithStandardHooks({ logger, step: async () => ({ loss: 1 }), valLoss: () => null });
    expect(await run.trainer.train()).toEqual({ kind: 'completed' });
    expect(run.saved).toHaveLength(6);
  });

  it('the validation tally keeps a diverged loss as NaN (the line prints it as null); nothing counted is null', () => {
    const classes = { bg: 0, a: 1 };
    const confusion = new ConfusionMatrix({ numClasses: 2 });
    const diverged = new WeightedMean();
    diverged.add(Number.NaN, 10);
    expect(validationMetricValues({ loss: diverged, confusion }, classes).loss).toBeNaN();
    expect(validationMetricValues({ loss: new WeightedMean(), confusion }, classes).loss).toBeNull();
  });

  it('through the main wrapper: the crash line names the epoch and the step, and the exit code is 4 (model)', async () => {
    const { logger, lines } = logged();
    const exits: number[] = [];
    const run = runWithStandardHooks({
      logger,
      step: async ({ globalStep }) => ({ loss: globalStep === 4 ? Number.NaN : 1 }),
    });
    const code = await runMain(
      'TEST_TRAIN',
      async () => {
        await run.trainer.train();
      },
      { logger, exit: (c) => void exits.push(c) },
    );
    expect([code, exits]).toEqual([EXIT_CODES.model, [EXIT_CODES.model]]);
    const last = lines().at(-1) as Line;
    expect(last).toMatchObject({ level: 'fatal', event_type: 'EventType.TASK_CRASHED', error_kind: 'model' });
    expect(String(last.exc_str)).toMatch(
      /^Loss became infinite or NaN \(NaN\) at epoch 3 of 3, step 1 of 2 /,
    );
    expect(run.saved).toEqual([0, 1, 2, 3]);
  });
});

describe('validation metrics (spec D.5)', () => {
  it('per-class IoU is null for a class absent from the ground truth; mean_iou averages the others', () => {
    const confusion = new ConfusionMatrix({ numClasses: 3 });
    // truth 0: 6 right, 2 predicted as 1; truth 1: 3 right, 1 predicted as 0; class 2 never true, once predicted.
    confusion.addCounts([6, 2, 0, 1, 3, 0, 0, 0, 0]);
    confusion.add({ predicted: [2], truth: [0] });
    const loss = new WeightedMean();
    loss.add(0.5, 100);
    loss.add(1, 300);
    const metrics = validationMetricValues({ loss, confusion }, { bg: 0, a: 1, b: 2 });
    const iouBg = 6 / (6 + 3 + 1);
    const iouA = 3 / (3 + 1 + 2);
    expect(metrics.loss).toBeCloseTo(0.875);
    expect(metrics.accuracy).toBeCloseTo(9 / 13);
    expect(metrics.iou_bg).toBeCloseTo(iouBg);
    expect(metrics.iou_a).toBeCloseTo(iouA);
    expect(metrics.iou_b).toBeNull();
    expect(metrics.mean_iou).toBeCloseTo((iouBg + iouA) / 2);
    expect(iouPerClass(confusion, { outside: 7 })).toEqual({});
  });

  it("per-class accuracy is each class's recall, null when absent from the truth; mean_accuracy averages the others", () => {
    // Rows are the truth. bg: 8 pixels, 6 right; a: 5 pixels, 1 right (3 called bg, 1 called b); b: 4 pixels,
    // 4 right; c: never true (predicted once, from bg): null, not 0.
    const confusion = new ConfusionMatrix({ numClasses: 4 });
    confusion.addCounts([6, 1, 0, 1, 3, 1, 1, 0, 0, 0, 4, 0, 0, 0, 0, 0]);
    expect(confusion.classAccuracy()).toEqual([6 / 8, 1 / 5, 1, null]);
    const loss = new WeightedMean();
    loss.add(0.5, 1);
    const metrics = validationMetricValues({ loss, confusion }, { bg: 0, a: 1, b: 2, c: 3 });
    expect(metrics.acc_bg).toBeCloseTo(0.75, 12);
    expect(metrics.acc_a).toBeCloseTo(0.2, 12);
    expect(metrics.acc_b).toBe(1);
    expect(metrics.acc_c).toBeNull();
    expect(metrics.mean_accuracy).toBeCloseTo((0.75 + 0.2 + 1) / 3, 12);
    // The plain pixel accuracy stays as it was: 11 right of 17.
    expect(metrics.accuracy).toBeCloseTo(11 / 17, 12);
    // The line keeps the agent's keys first, then IoU and accuracy per class in class-map order.
    expect(Object.keys(metrics)).toEqual([
      'loss',
      'accuracy',
      'mean_iou',
      'mean_accuracy',
      'iou_bg',
      'iou_a',
      'iou_b',
      'iou_c',
      'acc_bg',
      'acc_a',
      'acc_b',
      'acc_c',
    ]);
    expect(accuracyPerClass(confusion, { outside: 7 })).toEqual({});
  });

  it('addCounts checks its input', () => {
    const c = new ConfusionMatrix({ numClasses: 2 });
    expect(() => c.addCounts([1, 2, 3])).toThrow(/expected 4 counts/);
    expect(() => c.addCounts([1, -1, 0, 0])).toThrow(/not a pixel count/);
    expect(c.total).toBe(0); // nothing of the refused matrix was added
    c.addCounts(Float64Array.from([1, 2, 3, 4]));
    expect(c.count(1, 0)).toBe(3);
    expect(c.total).toBe(10);
  });
});

describe('checkpoint files (spec C.1, C.2, E.6)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'ckpt-files-'));
  });
  afterEach(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  const config: ModelConfigJson = {
    settings: { input_size: { width: 8, height: 8 } },
    out_classes: [
      { title: 'bg', shape: 'bitmap', color: '#222222' },
      { title: 'a', shape: 'bitmap', color: '#FF0000' },
    ],
    class_title_to_idx: { bg: 0, a: 1 },
    preprocessing: { mean: [0, 0, 0], std: [1, 1, 1] },
  };

  function convModel(): tf.LayersModel {
    const input = tf.input({ shape: [8, 8, 3], name: 'image' });
    const conv = tf.layers
      .conv2d({ name: 'head_conv', filters: 2, kernelSize: 1 })
      .apply(input) as tf.SymbolicTensor;
    const out = tf.layers
      .activation({ name: 'head_softmax', activation: 'softmax' })
      .apply(conv) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: out });
  }

  it('writes config.json, the weights with the optimizer state, model.onnx and a tar beside the folder', async () => {
    const { logger, lines } = logged();
    const model = convModel();
    const optimizer = tf.train.adam(0.01);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    optimizer.minimize(
      () => tf.sum(model.predict(tf.ones([1, 8, 8, 3])) as tf.Tensor).neg() as tf.Scalar,
      false,
      vars,
    );
    const before = tf.memory().numTensors;
    const writer = await CheckpointWriter.create(dir);
    const files = await writeCheckpointFiles({
      writer,
      model,
      optimizer,
      config,
      exportOnnx: true,
      saveTar: true,
      logger,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(files).toMatchObject({
      id: 0,
      subdir: '00000000',
      onnx: true,
      tarFile: path.join(dir, '00000000.tar'),
    });
    const names = (await fsp.readdir(files.dir)).sort();
    expect(names).toEqual(['config.json', 'golden.json', 'model.json', 'model.onnx', 'weights.bin']);
    let total = 0;
    for (const n of names) total += (await fsp.stat(path.join(files.dir, n))).size;
    expect(files.sizeb).toBe(total);
    const written = JSON.parse(await fsp.readFile(path.join(files.dir, 'config.json'), 'utf8'));
    expect(written).toMatchObject(config);
    const modelJson = JSON.parse(await fsp.readFile(path.join(files.dir, 'model.json'), 'utf8'));
    const groups = modelJson.weightsManifest.flatMap((g: { weights: { group?: string }[] }) =>
      g.weights.map((w) => w.group),
    );
    expect(groups).toContain('optimizer');
    const entries = (await listTarEntries(files.tarFile as string)).map((e) => e.path.replace(/^\.\//, ''));
    expect(entries).toEqual(
      expect.arrayContaining(['config.json', 'golden.json', 'model.json', 'model.onnx', 'weights.bin']),
    );
    expect((await fsp.readdir(dir)).sort()).toEqual(['00000000', '00000000.tar']);
    const reloaded = await loadModelFromDir(files.dir);
    expect(reloaded.getWeights()[0].dataSync()).toEqual(model.getWeights()[0].dataSync());
    reloaded.dispose();
    expect(lines().filter((l) => l.level === 'warn')).toEqual([]);
    model.dispose();
    optimizer.dispose();
  });

  it('an ONNX export failure is a warning, and the checkpoint is still complete without model.onnx', async () => {
    const { logger, lines } = logged();
    const input = tf.input({ shape: [4], name: 'x' });
    const dense = tf.layers.dense({ name: 'dense', units: 2 }).apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: dense });
    const writer = await CheckpointWriter.create(dir);
    const files = await writeCheckpointFiles({
      writer,
      model,
      config,
      exportOnnx: true,
      saveTar: false,
      logger,
    });
    expect(files.onnx).toBe(false);
    expect(files.tarFile).toBeUndefined();
    expect((await fsp.readdir(files.dir)).sort()).toEqual([
      'config.json',
      'golden.json',
      'model.json',
      'weights.bin',
    ]);
    const warnings = lines().filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toMatch(/ONNX export failed/);
    expect(String(warnings[0].reason)).toMatch(/Dense/);
    model.dispose();
  });
});

describe('epoch log (spec E.8)', () => {
  it('says how fast each epoch trained: step time only, not what happens after the step', async () => {
    const { logger, lines } = logged();
    let clock = 0;
    const hook = epochLogHook({ logger, imagesPerStep: 8, now: () => clock });
    await new Trainer({
      epochs: 2,
      itersPerEpoch: 2,
      step: async ({ epoch }) => {
        clock += epoch === 0 ? 400 : 1000; // 2 steps of 8 images: 0.8 s, then 2 s
        return { loss: 1 };
      },
      hooks: [hook, { afterStep: () => void (clock += 5000) }], // validation-like time is not counted
    }).train();
    const done = lines().filter((l) => l.message === 'Epoch has finished');
    expect(done.map((l) => [l.epoch, l.train_seconds, l.train_images_per_sec])).toEqual([
      [1, 0.8, 20],
      [2, 2, 8],
    ]);
  });
});

describe('engine choice from compute_workers', () => {
  it('a number is taken as is; auto: one on a native backend, else one per core up to the batch size', () => {
    const base = { cores: 8, batchSize: 4 };
    expect(resolveComputeWorkers({ ...base, setting: 3, backend: 'wasm' })).toBe(3);
    expect(resolveComputeWorkers({ ...base, setting: 'auto', backend: 'node' })).toBe(1);
    expect(resolveComputeWorkers({ ...base, setting: 'auto', backend: 'node-gpu' })).toBe(1);
    expect(resolveComputeWorkers({ ...base, setting: 'auto', backend: 'wasm' })).toBe(4);
    expect(resolveComputeWorkers({ cores: 2, batchSize: 8, setting: 'auto', backend: 'cpu' })).toBe(2);
    expect(resolveComputeWorkers({ cores: 1, batchSize: 8, setting: 'auto', backend: 'wasm' })).toBe(1);
  });
});
