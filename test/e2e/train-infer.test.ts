/**
 * The whole plugin as the agent runs it (spec A.2, A.3, D.6, F.4): train on a synthetic project through the
 * training launcher, then apply the last checkpoint to a fresh project through the inference launcher, and
 * check the result project with the project reader and against the fresh project's ground truth.
 * Needs `npx tsc -p tsconfig.build.json` first (`npm test` builds).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { scoreResults } from '../../src/example/score';
import { decodeBitmapData } from '../../src/format/bitmap-codec';
import { projectItems, readItemAnnotation, readSingleProject } from '../../src/format/project-reader';
import type { AnnotationJson } from '../../src/format/types';
import { events, makeTask, removeTask, runLauncher, type LauncherRun } from '../training/e2e-helpers';

const CLASSES = ['circle', 'square', 'triangle'];
const TRAIN_CONFIG = {
  input_size: { width: 32, height: 32 },
  batch_size: { train: 8, val: 16 },
  epochs: 20,
  val_every: 10,
  lr: 0.01,
  custom_model_config: { depth: 2, base_filters: 16, max_filters: 32 },
  compute_workers: 1,
  export_onnx: false,
};
const INFER_CONFIG = {
  model: { gpu_device: 0, batch_size: 4 },
  mode: { name: 'full_image', model_classes: { save_classes: '__all__', add_suffix: '_unet' } },
};

let trainRoot: string;
let inferRoot: string;
let train: LauncherRun;
let infer: LauncherRun;

beforeAll(async () => {
  trainRoot = await makeTask({
    project: {
      projectName: 'shapes',
      datasets: [
        { name: 'ds1', count: 24 },
        { name: 'ds2', count: 24 },
      ],
      width: 64,
      height: 64,
      neutral: true,
      folds: { val: 0.25 },
      seed: 11,
    },
    config: TRAIN_CONFIG,
  });
  train = runLauncher(trainRoot);
  if (train.status !== 0) throw new Error(`training exited ${train.status}\n${train.stdout.slice(-3000)}`);
  const checkpoints = events(train.lines, 'CHECKPOINT');
  const last = String(checkpoints[checkpoints.length - 1].fields.subdir);
  // Fresh images of another size than the network's input: inference resizes in and out.
  inferRoot = await makeTask({
    project: {
      projectName: 'new shapes',
      datasets: [
        { name: 'a', count: 4 },
        { name: 'b', count: 4 },
      ],
      width: 80,
      height: 48,
      neutral: true,
      imageFormat: 'jpeg',
      seed: 12,
    },
    config: INFER_CONFIG,
    modelFrom: path.join(trainRoot, 'results', last),
  });
  infer = runLauncher(inferRoot, {}, 240_000, 'inference');
}, 400_000);

afterAll(async () => {
  await removeTask(trainRoot);
  await removeTask(inferRoot);
});

describe('train, then infer with the last checkpoint, through the launchers', () => {
  it('inference exits 0, and only the SDK\'s "Main finished: OK." follows "model applied" (spec D.6, H.3)', () => {
    if (infer.status !== 0) throw new Error(`inference exited ${infer.status}\n${infer.stdout.slice(-3000)}`);
    expect(events(infer.lines, 'TASK_CRASHED')).toEqual([]);
    expect(events(infer.lines, 'MODEL_APPLIED')).toHaveLength(1);
    const applied = infer.lines.findIndex((l) => l.fields.event_type === 'EventType.MODEL_APPLIED');
    expect(infer.lines.slice(applied + 1).map((l) => l.message)).toEqual(['Main finished: OK.']);
  });

  it('writes results/<input project name>/ with the same names, byte-identical images and the input objects', async () => {
    const input = await readSingleProject(path.join(inferRoot, 'data'));
    const output = await readSingleProject(path.join(inferRoot, 'results', 'new shapes'));
    expect(await fsp.readdir(path.join(inferRoot, 'results'))).toEqual(['new shapes']);
    const key = (i: { dataset: string; name: string }): string => `${i.dataset}/${i.name}`;
    const outItems = new Map([...projectItems(output)].map((i) => [key(i), i]));
    expect([...outItems.keys()].sort()).toEqual([...projectItems(input)].map(key).sort());
    for (const item of projectItems(input)) {
      const out = outItems.get(key(item))!;
      expect(await fsp.readFile(out.imagePath)).toEqual(await fsp.readFile(item.imagePath));
      await readItemAnnotation(output, out); // every label valid against the results meta
      const inAnn = JSON.parse(await fsp.readFile(item.annotationPath, 'utf8')) as AnnotationJson;
      const outAnn = JSON.parse(await fsp.readFile(out.annotationPath, 'utf8')) as AnnotationJson;
      expect(outAnn.objects.slice(0, inAnn.objects.length)).toEqual(inAnn.objects);
      const predictions = outAnn.objects.slice(inAnn.objects.length);
      expect(predictions.length).toBeGreaterThan(0);
      for (const p of predictions) {
        expect(p.classTitle).toMatch(/_unet$/);
        const mask = decodeBitmapData(p.bitmap!.data);
        const [x, y] = p.bitmap!.origin;
        expect(x >= 0 && y >= 0 && x + mask.width <= 80 && y + mask.height <= 48).toBe(true);
      }
    }
  });

  it('predicts the fresh images well above chance (mean IoU against their ground truth)', async () => {
    const score = await scoreResults({
      truthDir: path.join(inferRoot, 'data', 'new shapes'),
      resultsDir: path.join(inferRoot, 'results', 'new shapes'),
      classes: ['bg', ...CLASSES],
      suffix: '_unet',
      ignoreClass: 'neutral',
    });
    expect(score.items).toBe(8);
    // Chance for 4 classes is about 0.25 IoU at best; a trained model is far above it.
    expect(score.meanIou).toBeGreaterThan(0.5);
    expect(score.pixelAccuracy).toBeGreaterThan(0.85);
  });
});
