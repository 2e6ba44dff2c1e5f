/**
 * The training task end to end (spec A.2, D.5-D.7, E, G.2): a synthetic project (shapes on grey noise, train
 * and val tags, images with neither or both tags, a neutral region, two datasets) trained by the real launcher
 * (`python3 -u src/train.py` on the built checkout, as the agent starts it), its stdout read as the agent reads
 * it, and the results folder checked. Needs `npx tsc -p tsconfig.build.json` first (`npm test` builds).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { listTarEntries } from '../../src/model-state/tar';
import type { AgentLogLine } from '../helpers/agent';
import { events, runLauncher, type LauncherRun } from '../helpers/launcher';
import { folderBytes, makeTask, removeTask } from './e2e-helpers';

const EPOCHS = 20;
const VAL_EVERY = 5;
const CONFIG = {
  input_size: { width: 32, height: 32 },
  batch_size: { train: 8, val: 16 },
  epochs: EPOCHS,
  val_every: VAL_EVERY,
  lr: 0.01,
  custom_model_config: { depth: 2, base_filters: 16, max_filters: 32 },
  compute_workers: 1,
  save_model_tar: true,
};
const PROJECT = {
  projectName: 'shapes',
  datasets: [
    { name: 'ds1', count: 24 },
    { name: 'ds2', count: 24 },
  ],
  width: 64,
  height: 64,
  neutral: true,
  folds: { val: 0.25, neither: 0.05, both: 0.05 },
  seed: 7,
};

let root: string;
let run: LauncherRun;

beforeAll(async () => {
  root = await makeTask({ project: PROJECT, config: CONFIG });
  run = runLauncher(root);
}, 300_000);

afterAll(() => removeTask(root));

const byMessage = (message: string): AgentLogLine | undefined => run.lines.find((l) => l.message === message);

describe('training end to end through the launcher (spec A.2, D.5-D.7, E.6-E.8)', () => {
  it('exits 0 with every line within the log contract and no crash line', () => {
    if (run.status !== 0) throw new Error(`exit ${run.status}\n${run.stdout.slice(-3000)}\n${run.stderr}`);
    expect(events(run.lines, 'TASK_CRASHED')).toEqual([]);
    expect(byMessage('Project structure has been read. Samples: 48.')).toBeDefined();
  });

  it('reports the class map: background 0, the shapes by code point, no neutral class', () => {
    expect(byMessage('Determined class mapping.')?.fields.class_mapping).toEqual({
      bg: 0,
      circle: 1,
      square: 2,
      triangle: 3,
    });
    const outClasses = byMessage('Determined model out classes')?.fields.out_classes as {
      title: string;
      shape: string;
    }[];
    expect(outClasses.map((c) => c.title).sort()).toEqual(['bg', 'circle', 'square', 'triangle']);
    expect(outClasses.every((c) => c.shape === 'bitmap')).toBe(true);
  });

  it('trains on onnxruntime (train_engine auto on wasm) and says why', () => {
    const ready = byMessage('Training engine ready.')?.fields;
    expect(ready?.engine).toMatch(/^onnxruntime \(\d+ threads?, own thread\)$/);
    expect(ready?.reason).toBe('onnxruntime-node loaded and every layer trains on it');
  });

  it('prints the build and training progress bars (one tick per train batch)', () => {
    const progress = events(run.lines, 'PROGRESS');
    const building = progress.filter((p) => p.fields.subtask === 'Building model:');
    expect(building.map((p) => [p.fields.current, p.fields.total])).toEqual([
      [0, 1],
      [1, 1],
    ]);
    const training = progress.filter((p) => p.fields.subtask === 'Model training: ');
    const trainFold = byMessage('Prepared dataset.')?.fields as { sample_cnt: number; batch_size: number };
    const iters = Math.floor(trainFold.sample_cnt / trainFold.batch_size);
    const total = EPOCHS * iters;
    expect(training.every((p) => p.fields.total === total)).toBe(true);
    const currents = training.map((p) => p.fields.current as number);
    expect(currents[0]).toBe(0);
    expect(currents[currents.length - 1]).toBe(total);
    expect(currents.every((c, i) => i === 0 || c > currents[i - 1])).toBe(true);
    expect(training.length).toBeLessThanOrEqual(102);
  });

  it('prints train metrics every step and val metrics at each planned validation', () => {
    const metrics = events(run.lines, 'METRICS');
    const train = metrics.filter((m) => m.fields.type === 'train');
    const trainFold = byMessage('Prepared dataset.')?.fields as { sample_cnt: number; batch_size: number };
    const iters = Math.floor(trainFold.sample_cnt / trainFold.batch_size);
    expect(train).toHaveLength(EPOCHS * iters);
    train.forEach((m, k) => {
      expect(m.fields.epoch).toBeCloseTo((k + 1) / iters, 9);
      // lr: the scheduled rate of the step (lr_schedule constant by default).
      expect(Object.keys(m.fields.metrics as object).sort()).toEqual(['accuracy', 'loss', 'lr']);
      expect((m.fields.metrics as { lr: number }).lr).toBe(CONFIG.lr);
    });
    const val = metrics.filter((m) => m.fields.type === 'val');
    expect(val.map((m) => m.fields.epoch)).toEqual([5, 10, 15, 20]);
    for (const m of val) {
      expect(Object.keys(m.fields.metrics as object).sort()).toEqual(
        [
          'accuracy',
          'loss',
          'mean_iou',
          'mean_accuracy',
          ...['bg', 'circle', 'square', 'triangle'].flatMap((t) => [`iou_${t}`, `acc_${t}`]),
        ].sort(),
      );
    }
  });

  it('learns: validation mean IoU ends well above chance', () => {
    const val = events(run.lines, 'METRICS').filter((m) => m.fields.type === 'val');
    const meanIou = val.map((m) => (m.fields.metrics as { mean_iou: number }).mean_iou);
    // Chance: everything predicted as background gives about 0.9 / 4 = 0.22 over the four classes.
    expect(meanIou[meanIou.length - 1]).toBeGreaterThan(0.6);
    const last = val[val.length - 1].fields.metrics as Record<string, number>;
    for (const title of ['circle', 'square', 'triangle']) expect(last[`iou_${title}`]).toBeGreaterThan(0.2);
  });

  it('writes one complete checkpoint per validation: ids from 0, 8-digit relative subdirs, sizeb = folder bytes', async () => {
    const checkpoints = events(run.lines, 'CHECKPOINT');
    expect(checkpoints.map((c) => c.fields.id)).toEqual([0, 1, 2, 3]);
    const fullConfig = byMessage('Full config')?.fields.config;
    const classMap = byMessage('Determined class mapping.')?.fields.class_mapping;
    for (const c of checkpoints) {
      const subdir = c.fields.subdir as string;
      expect(subdir).toBe(String(c.fields.id).padStart(8, '0'));
      const dir = path.join(root, 'results', subdir);
      expect(c.fields.sizeb).toBe(await folderBytes(dir));
      expect((await fsp.readdir(dir)).sort()).toEqual([
        'config.json',
        'golden.json',
        'manifest.json',
        'model.json',
        'model.onnx',
        'training_state.json',
        'weights.bin',
      ]);
      const config = JSON.parse(await fsp.readFile(path.join(dir, 'config.json'), 'utf8'));
      expect(config.settings).toEqual(fullConfig);
      expect(config.class_title_to_idx).toEqual(classMap);
      expect(config.out_classes.map((o: { title: string }) => o.title).sort()).toEqual(
        Object.keys(classMap as object).sort(),
      );
      const tar = (await listTarEntries(path.join(root, 'results', `${subdir}.tar`))).map((e) =>
        e.path.replace(/^\.\//, ''),
      );
      expect(tar).toEqual(expect.arrayContaining(['config.json', 'model.json', 'weights.bin']));
    }
    // Nothing else in results/: no temporary folder, no tar inside a checkpoint.
    const expected = checkpoints.flatMap((c) => [c.fields.subdir, `${String(c.fields.subdir)}.tar`]);
    expect((await fsp.readdir(path.join(root, 'results'))).sort()).toEqual(expected.sort());
  });

  it('best_now: the first checkpoint, then only a strictly lower val loss; each after its val metrics', () => {
    const checkpoints = events(run.lines, 'CHECKPOINT');
    let best = Number.POSITIVE_INFINITY;
    checkpoints.forEach((c, i) => {
      const optional = c.fields.optional as { epoch: number; val_metrics: { loss: number } };
      expect(optional.epoch).toBe((i + 1) * VAL_EVERY);
      const loss = optional.val_metrics.loss;
      expect(c.fields.best_now).toBe(i === 0 || loss < best);
      best = Math.min(best, loss);
      const valLine = run.lines.findIndex(
        (l) =>
          l.eventType === 'EventType.METRICS' && l.fields.type === 'val' && l.fields.epoch === optional.epoch,
      );
      expect(valLine).toBeGreaterThan(-1);
      expect(run.lines.indexOf(c)).toBeGreaterThan(valLine);
      expect(run.lines[valLine].fields.metrics as object).toEqual(optional.val_metrics);
    });
  });

  it('logs the fold split: images with neither tag are left out, images with both are in both folds', () => {
    const folds = run.lines.filter((l) => l.message === 'Prepared dataset.').map((l) => l.fields);
    expect(folds.map((f) => f.dataset_purpose)).toEqual(['train', 'val']);
    const split = byMessage('Images by fold tag.')?.fields as { neither_tag: number; both_tags: number };
    expect(split.neither_tag).toBeGreaterThan(0);
    expect(split.both_tags).toBeGreaterThan(0);
    const counts = folds.map((f) => f.sample_cnt as number);
    expect(counts[0] + counts[1]).toBe(48 - split.neither_tag + split.both_tags);
    expect(run.lines.some((l) => l.level === 'WARN' && l.message.includes('have neither'))).toBe(true);
  });
});
