/**
 * @jest-environment ./test/onnx/ort-environment.js
 */
/**
 * Bad inputs and resources over a whole training run (spec E.5, H.3): corrupted images within and beyond
 * `allow_corrupted_samples`, an empty fold, a diverging run, and the tensor count, which must not grow from
 * epoch to epoch.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { TaskError } from '../../src/errors';
import { TENSOR_COUNT_MESSAGE } from '../../src/training/hooks';
import { events, runLauncher } from '../helpers/launcher';
import { makeTask, removeTask, runInProcess, TINY_TRAIN_CONFIG } from './e2e-helpers';

const TINY = { ...TINY_TRAIN_CONFIG, epochs: 2 };
const PROJECT = {
  projectName: 'shapes',
  datasets: [
    { name: 'a', count: 8 },
    { name: 'b', count: 6 },
  ],
  width: 32,
  height: 32,
  neutral: true,
  folds: { val: 0.3 },
  seed: 21,
};

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await removeTask(r);
});

/** The train images of the project in file order: dataset/name relative to the project. */
async function trainImages(root: string): Promise<string[]> {
  return foldImages(root, 'train');
}

/** The images of a fold in file order: dataset/name relative to the project. */
async function foldImages(root: string, tag: 'train' | 'val'): Promise<string[]> {
  const out: string[] = [];
  const project = path.join(root, 'data', 'shapes');
  for (const ds of ['a', 'b']) {
    for (const ann of (await fsp.readdir(path.join(project, ds, 'ann'))).sort()) {
      const json = JSON.parse(await fsp.readFile(path.join(project, ds, 'ann', ann), 'utf8'));
      if (json.tags.some((t: { name: string }) => t.name === tag))
        out.push(path.join(ds, 'img', ann.replace(/\.json$/, '')));
    }
  }
  return out;
}

async function corrupt(root: string, images: string[]): Promise<void> {
  for (const image of images)
    await fsp.writeFile(path.join(root, 'data', 'shapes', image), 'this is not a PNG');
}

describe('bad inputs in a training run (spec E.5)', () => {
  it('a corrupted image within the budget is skipped with a warning naming it; training completes (2 engines)', async () => {
    const root = await makeTask({
      project: PROJECT,
      config: {
        ...TINY,
        allow_corrupted_samples: { train: 1, val: 0 },
        compute_workers: 2,
        train_engine: 'tfjs',
      },
    });
    roots.push(root);
    const [victim] = await trainImages(root);
    await corrupt(root, [victim]);
    const run = runLauncher(root);
    if (run.status !== 0) throw new Error(`exit ${run.status}\n${run.stdout.slice(-3000)}\n${run.stderr}`);
    expect(run.lines.find((l) => l.message === 'Training engine ready.')?.fields.engine).toMatch(
      /data-parallel/,
    );
    const skipped = run.lines.filter(
      (l) => l.level === 'WARN' && l.message.startsWith('Sample processing error'),
    );
    expect(skipped).toHaveLength(1); // once for the whole run: later epochs leave it out
    expect(skipped[0].fields.image).toBe(path.join('shapes', victim));
    expect(skipped[0].fields.reason).toMatch(/cannot decode the image/);
    expect(events(run.lines, 'CHECKPOINT')).toHaveLength(2);
    const perEpoch =
      events(run.lines, 'METRICS').filter((m) => m.fields.type === 'train').length / TINY.epochs;
    const planned = run.lines.find((l) => l.message === 'Training plan.')?.fields.iters_per_epoch;
    expect(perEpoch).toBe(planned);
  });

  it('beyond the budget the task fails naming the file (exit 3: data, crash line last)', async () => {
    const root = await makeTask({
      project: PROJECT,
      config: { ...TINY, allow_corrupted_samples: { train: 1, val: 0 } },
    });
    roots.push(root);
    const victims = (await trainImages(root)).slice(0, 2);
    await corrupt(root, victims);
    const run = runLauncher(root);
    expect(run.status).toBe(3);
    const last = run.lines[run.lines.length - 1];
    expect(last.eventType).toBe('EventType.TASK_CRASHED');
    const message = String(last.fields.exc_str);
    expect(message).toMatch(/the limit of 1 corrupted samples is exceeded/);
    expect(message).toMatch(/allow_corrupted_samples\.train/);
    const named = victims.filter((v) => message.includes(path.join('shapes', v)));
    expect(named).toHaveLength(1);
    expect(events(run.lines, 'CHECKPOINT')).toEqual([]);
  });

  it('the preflight reads every image header: a broken val image fails before the model is built, naming it', async () => {
    const root = await makeTask({ project: PROJECT, config: TINY });
    roots.push(root);
    const [victim] = await foldImages(root, 'val');
    await corrupt(root, [victim]);
    const run = await runInProcess(root);
    expect(run.error).toBeInstanceOf(TaskError);
    const e = run.error as TaskError;
    expect(e.kind).toBe('data');
    expect(e.context.file).toBe(path.join('shapes', victim));
    expect(e.message).toMatch(
      /cannot decode the image: .*\(val fold: no corrupted samples are allowed; raise allow_corrupted_samples\.val/,
    );
    expect(run.lines.some((l) => l.subtask === 'Building model:')).toBe(false);
  });

  it("the preflight finds an image whose size is not its annotation's, and leaves it out within the budget", async () => {
    const root = await makeTask({
      project: PROJECT,
      config: { ...TINY, allow_corrupted_samples: { train: 0, val: 1 } },
    });
    roots.push(root);
    const [victim] = await foldImages(root, 'val');
    const sharp = (await import('sharp')).default;
    const file = path.join(root, 'data', 'shapes', victim);
    await fsp.writeFile(
      file,
      await sharp({ create: { width: 20, height: 10, channels: 3, background: 'red' } })
        .png()
        .toBuffer(),
    );
    const run = await runInProcess(root);
    if (run.error !== undefined) throw run.error;
    const skipped = run.lines.filter((l) => l.message === 'Sample processing error: the image is skipped.');
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({
      dataset_purpose: 'val',
      image: path.join('shapes', victim),
      fail_cnt: 1,
    });
    expect(String(skipped[0].reason)).toMatch(/the image is 20x10 but its annotation says 32x32/);
    // Before the model was built.
    const order = run.lines.map((l) => (l.subtask === 'Building model:' ? 'build' : l.message));
    expect(order.indexOf('Sample processing error: the image is skipped.')).toBeLessThan(
      order.indexOf('build'),
    );
  });

  it('an empty fold fails before the model is built, naming the tag and the field', async () => {
    const root = await makeTask({
      project: PROJECT,
      config: { ...TINY, dataset_tags: { train: 'train', val: 'holdout' } },
    });
    roots.push(root);
    const run = await runInProcess(root);
    expect(run.error).toBeInstanceOf(TaskError);
    const e = run.error as TaskError;
    expect(e.message).toMatch(/There are no annotations with tag "holdout"/);
    expect(e.context).toEqual({ file: 'task_config.json', field: 'dataset_tags.val' });
    expect(run.lines.some((l) => l.subtask === 'Building model:')).toBe(false);
  });
});

describe('a diverging run (spec H.3)', () => {
  // lr 1e30: the first step's loss is finite, its update is not. With one validation per epoch the next train
  // loss is NaN; with one after every step the validation right after that update sees it first.
  it.each([
    [1, /^Loss became infinite or NaN \((NaN|-?Infinity)\) at epoch 1 of 2, step 2 of 2 \(iteration 2 of 4;/],
    [
      0.5,
      /^Validation loss became infinite or NaN \((NaN|-?Infinity)\) at epoch 1 of 2, step 1 of 2 \(iteration 1 of 4;/,
    ],
  ])(
    'lr 1e30, val_every %d: the task fails naming the epoch and the step (exit 4: model, crash line last), no checkpoint written',
    async (valEvery, message) => {
      const root = await makeTask({ project: PROJECT, config: { ...TINY, lr: 1e30, val_every: valEvery } });
      roots.push(root);
      const run = runLauncher(root);
      expect(run.status).toBe(4);
      const last = run.lines[run.lines.length - 1];
      expect(last.eventType).toBe('EventType.TASK_CRASHED');
      expect(String(last.fields.exc_str)).toMatch(message);
      expect(events(run.lines, 'CHECKPOINT')).toEqual([]);
      expect((await fsp.readdir(path.join(root, 'results'))).filter((f) => /^\d{8}/.test(f))).toEqual([]);
    },
  );
});

describe('memory over a run', () => {
  it('the number of live tensors is the same after every epoch, and back to the start after the run', async () => {
    const root = await makeTask({
      project: PROJECT,
      config: { ...TINY, epochs: 4, val_every: 0.5, export_onnx: true },
    });
    roots.push(root);
    await tf.ready();
    const first = await runInProcess(root); // warms up the backend and its kernels
    if (first.error !== undefined) throw first.error;
    await fsp.rm(path.join(root, 'results'), { recursive: true });
    const before = tf.memory().numTensors;
    const run = await runInProcess(root);
    if (run.error !== undefined) throw run.error;
    const counts = run.lines
      .filter((l) => l.message === TENSOR_COUNT_MESSAGE)
      .map((l) => l.num_tensors as number);
    expect(counts).toHaveLength(4);
    expect(new Set(counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  });
});
