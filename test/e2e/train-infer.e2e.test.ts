/**
 * The whole plugin as the agent runs it (spec A.2, A.3, D.6, F.4): train on a synthetic project through the
 * training launcher, then apply the last checkpoint to a fresh project through the inference launcher, and
 * check the result project with the project reader and against the fresh project's ground truth.
 * Needs `npx tsc -p tsconfig.build.json` first (`npm test` builds).
 */
import os from 'node:os';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';
import { scoreResults } from '../../src/example/score';
import { decodeBitmapData } from '../../src/format/bitmap-codec';
import { decodeNpy } from '../../src/format/npy';
import { projectItems, readItemAnnotation, readSingleProject } from '../../src/format/project-reader';
import type { AnnotationJson } from '../../src/format/types';
import { events, runLauncher, type LauncherRun } from '../helpers/launcher';
import { makeTask, removeTask } from '../training/e2e-helpers';

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

describe('the same inference task on each engine (issue 7)', () => {
  const PROB_CONFIG = {
    model: { gpu_device: 0, batch_size: 4 },
    mode: { ...INFER_CONFIG.mode, save_probabilities: true },
  };

  interface EngineResult {
    masks: Map<string, Int32Array>;
    scores: Map<string, Float32Array[]>;
  }

  /** Runs inference with INFERENCE_ENGINE=engine on a copy of the inference task; masks and scores per item. */
  async function runOn(engine: 'onnxruntime' | 'tfjs'): Promise<EngineResult> {
    const root = `${inferRoot}-${engine}`;
    await fsp.rm(root, { recursive: true, force: true });
    await fsp.cp(inferRoot, root, { recursive: true });
    await fsp.rm(path.join(root, 'results'), { recursive: true });
    await fsp.mkdir(path.join(root, 'results'));
    await fsp.writeFile(path.join(root, 'task_config.json'), JSON.stringify(PROB_CONFIG));
    try {
      const run = runLauncher(root, { INFERENCE_ENGINE: engine }, 240_000, 'inference');
      if (run.status !== 0) throw new Error(`${engine}: exit ${run.status}\n${run.stdout.slice(-2000)}`);
      const engineLine = run.lines.find((l) => l.message === 'Inference engine');
      expect(engineLine?.fields.engine).toBe(engine);
      // The entry point sized libuv's pool (decoding) to the cores, as UV_THREADPOOL_SIZE was not set.
      expect(engineLine?.fields.decode_threads).toBe(os.availableParallelism());
      const output = await readSingleProject(path.join(root, 'results', 'new shapes'));
      const masks = new Map<string, Int32Array>();
      const scores = new Map<string, Float32Array[]>();
      for (const item of projectItems(output)) {
        const ann = JSON.parse(await fsp.readFile(item.annotationPath, 'utf8')) as AnnotationJson;
        const { width, height } = ann.size;
        const mask = new Int32Array(width * height).fill(-1);
        for (const obj of ann.objects.filter((o) => o.classTitle.endsWith('_unet'))) {
          const cls = ['bg', ...CLASSES].indexOf(obj.classTitle.replace(/_unet$/, ''));
          const bits = decodeBitmapData(obj.bitmap!.data);
          const [ox, oy] = obj.bitmap!.origin;
          for (let r = 0; r < bits.height; r++)
            for (let c = 0; c < bits.width; c++)
              if (bits.data[r * bits.width + c]) mask[(oy + r) * width + ox + c] = cls;
        }
        const big = ann.customBigData as {
          probabilityLabels: { classTitle: string; multichannelBitmap: { data: string } }[];
        };
        const perClass = ['bg', ...CLASSES].map((c) => {
          const label = big.probabilityLabels.find((l) => l.classTitle === `${c}_unet`)!;
          return new Float32Array(
            decodeNpy(inflateSync(Buffer.from(label.multichannelBitmap.data, 'base64'))).data,
          );
        });
        masks.set(`${item.dataset}/${item.name}`, mask);
        scores.set(`${item.dataset}/${item.name}`, perClass);
      }
      return { masks, scores };
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  }

  it('gives the same scores (within 1e-4) and the same masks except where scores tie within 1e-4', async () => {
    const onnx = await runOn('onnxruntime');
    const tfjs = await runOn('tfjs');
    expect([...onnx.masks.keys()].sort()).toEqual([...tfjs.masks.keys()].sort());
    let maxDiff = 0;
    let differing = 0;
    for (const [key, mask] of onnx.masks) {
      const other = tfjs.masks.get(key)!;
      const a = onnx.scores.get(key)!;
      const b = tfjs.scores.get(key)!;
      for (let c = 0; c < a.length; c++)
        for (let i = 0; i < a[c].length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[c][i] - b[c][i]));
      for (let i = 0; i < mask.length; i++) {
        expect(mask[i]).toBeGreaterThanOrEqual(0); // every pixel is predicted
        if (mask[i] === other[i]) continue;
        differing += 1;
        const tied = Math.abs(a[mask[i]][i] - a[other[i]][i]);
        expect(tied).toBeLessThan(1e-4);
      }
    }
    expect(maxDiff).toBeLessThan(1e-4);
    // Ties are rare: at most a handful of pixels of the 8 images may differ.
    expect(differing).toBeLessThan(20);
  });
});

describe('inference config errors through the launcher leave no result project (issue 5)', () => {
  it.each([
    ['an unknown mode', { name: 'full_imagee' }, /full_image/],
    [
      'a bad bounds string',
      { name: 'roi', bounds: { left: '10', top: '0px', right: '0px', bottom: '0px' } },
      /mode\.bounds\.left/,
    ],
  ])(
    '%s: exit 2 (config), the crash line last naming the field, results/ empty',
    async (_what, mode, pattern) => {
      const root = `${inferRoot}-bad`;
      await fsp.rm(root, { recursive: true, force: true });
      await fsp.cp(inferRoot, root, { recursive: true });
      await fsp.rm(path.join(root, 'results'), { recursive: true });
      await fsp.mkdir(path.join(root, 'results'));
      await fsp.writeFile(path.join(root, 'task_config.json'), JSON.stringify({ model: {}, mode }));
      try {
        const run = runLauncher(root, {}, 120_000, 'inference');
        expect(run.status).toBe(2);
        const last = run.lines[run.lines.length - 1];
        expect(last.fields.event_type).toBe('EventType.TASK_CRASHED');
        expect(String(last.fields.exc_str)).toMatch(pattern);
        expect(await fsp.readdir(path.join(root, 'results'))).toEqual([]);
        expect(events(run.lines, 'MODEL_APPLIED')).toEqual([]);
      } finally {
        await fsp.rm(root, { recursive: true, force: true });
      }
    },
  );

  it('weights that do not fit config.json: the network thread refuses them, exit 1, results/ empty', async () => {
    const root = `${inferRoot}-mismatch`;
    await fsp.rm(root, { recursive: true, force: true });
    await fsp.cp(inferRoot, root, { recursive: true });
    await fsp.rm(path.join(root, 'results'), { recursive: true });
    await fsp.mkdir(path.join(root, 'results'));
    const configFile = path.join(root, 'model', 'config.json');
    const config = JSON.parse(await fsp.readFile(configFile, 'utf8')) as {
      settings: Record<string, unknown>;
    };
    config.settings.input_size = { width: 64, height: 64 };
    await fsp.writeFile(configFile, JSON.stringify(config));
    try {
      const run = runLauncher(root, {}, 120_000, 'inference');
      expect(run.status).toBe(4);
      const last = run.lines[run.lines.length - 1];
      expect(last.fields.event_type).toBe('EventType.TASK_CRASHED');
      expect(String(last.fields.exc_str)).toMatch(/model\/model\.json.*do not belong together/);
      expect(await fsp.readdir(path.join(root, 'results'))).toEqual([]);
    } finally {
      await fsp.rm(root, { recursive: true, force: true });
    }
  });
});
