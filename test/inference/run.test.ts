/** @jest-environment ./test/onnx/ort-environment.js */
/**
 * The inference task run in-process (spec A.3, F.3, F.4, D.6): every mode, save_probabilities, and the bad
 * inputs that must fail without leaving a results project. A freshly initialised tiny U-Net stands in for a
 * trained model here (what it predicts does not matter for these checks; test/e2e checks a trained one).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { generateSyntheticProject } from '../../src/example/synthetic-project';
import { decodeBitmapData } from '../../src/format/bitmap-codec';
import { decodeNpy } from '../../src/format/npy';
import { projectItems, readItemAnnotation, readSingleProject } from '../../src/format/project-reader';
import type { AnnotationJson } from '../../src/format/types';
import { initWeights } from '../../src/model-state/init-weights';
import { loadNetworkPlugin } from '../../src/network/load-plugin';
import { createLogger, memorySink } from '../../src/protocol';
import { runInference } from '../../src/inference/run';
import { resolveInferenceConfig } from '../../src/task/inference-config';
import { taskPathsAt } from '../../src/task/paths';
import { UNET_DEFAULT_MODE } from '../../plugin/unet/mode';
import { IMAGENET_PREPROCESSING } from '../../plugin/unet/preprocessing';
import type { ChannelStats } from '../../src/image/normalise';

const network = loadNetworkPlugin(require.resolve('../../plugin/unet'));
const CLASSES = ['circle', 'square', 'triangle'];

let root: string;
let modelDir: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'infer-run-'));
  const source = await generateSyntheticProject({
    dir: path.join(root, 'source'),
    projectName: 'source',
    datasets: [{ name: 'ds', count: 1 }],
    width: 32,
    height: 32,
    seed: 1,
  });
  modelDir = path.join(root, 'model');
  await initWeights({
    network,
    settings: {
      input_size: { height: 32, width: 32 },
      special_classes: { background: 'bg', neutral: 'neutral' },
      custom_model_config: { depth: 2, base_filters: 4, max_filters: 8 },
    },
    projectClasses: source.meta.classes,
    outDir: modelDir,
  });
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

interface Task {
  dir: string;
  lines: Record<string, unknown>[];
  projectName: string;
}

/** A task folder with a fresh input project, the shared model and the given task config. */
async function makeTask(name: string, taskConfig: unknown, size = { width: 96, height: 64 }): Promise<Task> {
  const dir = path.join(root, name);
  await generateSyntheticProject({
    dir: path.join(dir, 'data'),
    projectName: 'my project',
    datasets: [
      { name: 'ds1', count: 2 },
      { name: 'ds2', count: 1 },
    ],
    ...size,
    neutral: true,
    seed: 7,
  });
  await fs.cp(modelDir, path.join(dir, 'model'), { recursive: true });
  await fs.mkdir(path.join(dir, 'results'));
  await fs.writeFile(path.join(dir, 'task_config.json'), JSON.stringify(taskConfig));
  return { dir, lines: [], projectName: 'my project' };
}

async function run(
  task: Task,
  raw: unknown,
  options: { assumedPreprocessing?: ChannelStats } = {},
): Promise<void> {
  const sink = memorySink();
  const logger = createLogger({ sink: sink.sink, level: 'debug' });
  const { modelConfig, modeConfig } = resolveInferenceConfig(raw, {
    defaultModeConfig: UNET_DEFAULT_MODE,
  });
  try {
    await runInference(
      { paths: taskPathsAt(task.dir), modelConfig, modeConfig, logger },
      { engine: 'onnxruntime', ...options },
    );
  } finally {
    task.lines.push(...sink.lines.map((l) => JSON.parse(l) as Record<string, unknown>));
  }
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await fs.readFile(file, 'utf8')) as T;
}

/** The common checks of a results project (spec F.4): names, images, input objects kept, meta. */
async function checkResults(task: Task): Promise<{ anns: AnnotationJson[]; inputs: AnnotationJson[] }> {
  const inputProject = await readSingleProject(path.join(task.dir, 'data'));
  const resultsDir = path.join(task.dir, 'results', task.projectName);
  const output = await readSingleProject(resultsDir);
  expect(output.name).toBe(task.projectName);
  expect(output.datasets.map((d) => d.name).sort()).toEqual(inputProject.datasets.map((d) => d.name).sort());
  // Only the results project: no temporary folder left beside it.
  expect(await fs.readdir(path.join(task.dir, 'results'))).toEqual([task.projectName]);

  const inputs = [...projectItems(inputProject)];
  const outputs = [...projectItems(output)];
  expect(outputs.map((i) => `${i.dataset}/${i.name}`).sort()).toEqual(
    inputs.map((i) => `${i.dataset}/${i.name}`).sort(),
  );
  const anns: AnnotationJson[] = [];
  const inputAnns: AnnotationJson[] = [];
  for (const item of inputs) {
    const out = outputs.find((o) => o.dataset === item.dataset && o.name === item.name)!;
    expect(await fs.readFile(out.imagePath)).toEqual(await fs.readFile(item.imagePath));
    // Reading it back through the reader validates every label against the results meta.
    const parsed = await readItemAnnotation(output, out);
    const inAnn = await readJson<AnnotationJson>(item.annotationPath);
    const outAnn = await readJson<AnnotationJson>(out.annotationPath);
    expect(parsed.size).toEqual(inAnn.size);
    // The input annotation is kept: every input object is still there with its geometry, and the tags stay.
    for (const obj of inAnn.objects) {
      expect(outAnn.objects.some((o) => o.classTitle === obj.classTitle && sameGeometry(o, obj))).toBe(true);
    }
    expect(outAnn.tags).toEqual(inAnn.tags);
    anns.push(outAnn);
    inputAnns.push(inAnn);
  }
  const last = task.lines[task.lines.length - 1];
  expect(last).toMatchObject({ message: 'model applied', event_type: 'EventType.MODEL_APPLIED' });
  return { anns, inputs: inputAnns };
}

type Obj = AnnotationJson['objects'][number];

function sameGeometry(a: Obj, b: Obj): boolean {
  return JSON.stringify([a.points, a.bitmap ?? null]) === JSON.stringify([b.points, b.bitmap ?? null]);
}

/** The objects the task added: everything but the input objects. */
function predictionsOf(ann: AnnotationJson, input: AnnotationJson): Obj[] {
  return ann.objects.filter(
    (o) => !input.objects.some((i) => i.classTitle === o.classTitle && sameGeometry(i, o)),
  );
}

describe('inference task (spec F.3, F.4)', () => {
  it('full_image: predictions are renamed, tightly cropped bitmaps inside the image; meta has the renamed classes', async () => {
    const config = {
      model: { gpu_device: 0, batch_size: 2 },
      mode: { name: 'full_image', model_classes: { add_suffix: '_unet', save_classes: '__all__' } },
    };
    const task = await makeTask('full', config);
    await run(task, config);
    const { anns, inputs } = await checkResults(task);
    const meta = await readJson<{ classes: { title: string; shape: string }[] }>(
      path.join(task.dir, 'results', task.projectName, 'meta.json'),
    );
    const titles = meta.classes.map((c) => c.title);
    for (const c of ['bg', ...CLASSES]) expect(titles).toContain(`${c}_unet`);
    expect(titles).toContain('circle'); // the input classes stay
    let predicted = 0;
    anns.forEach((ann, i) => {
      for (const obj of predictionsOf(ann, inputs[i])) {
        predicted += 1;
        expect(obj.classTitle).toMatch(/_unet$/);
        const mask = decodeBitmapData(obj.bitmap!.data);
        const [x, y] = obj.bitmap!.origin;
        expect(x).toBeGreaterThanOrEqual(0);
        expect(y).toBeGreaterThanOrEqual(0);
        expect(x + mask.width).toBeLessThanOrEqual(ann.size.width);
        expect(y + mask.height).toBeLessThanOrEqual(ann.size.height);
      }
    });
    // Every pixel gets some class, so every image has at least one prediction.
    expect(predicted).toBeGreaterThanOrEqual(anns.length);
    const progress = task.lines.filter((l) => l.subtask === 'Model applying: ');
    expect(progress[progress.length - 1]).toMatchObject({ current: 3, total: 3 });
  });

  it('roi: predictions stay inside the region; the saved region rectangle is added', async () => {
    const config = {
      model: { batch_size: 4 },
      mode: {
        name: 'roi',
        bounds: { left: '10px', top: '25%', right: '0px', bottom: '8px' },
        save: true,
        class_name: 'inference_roi',
        model_classes: { add_suffix: '_m' },
      },
    };
    const task = await makeTask('roi', config);
    await run(task, config);
    const { anns, inputs } = await checkResults(task);
    anns.forEach((ann, i) => {
      const preds = predictionsOf(ann, inputs[i]);
      const roi = preds.find((o) => o.classTitle === 'inference_roi');
      // Region: left 10, top 25% of 64 = 16, right W-0-1, bottom H-8-1 (spec F.3).
      expect(roi?.points?.exterior).toEqual([
        [10, 16],
        [95, 55],
      ]);
      for (const obj of preds.filter((o) => o.bitmap)) {
        const mask = decodeBitmapData(obj.bitmap!.data);
        const [x, y] = obj.bitmap!.origin;
        expect(x).toBeGreaterThanOrEqual(10);
        expect(y).toBeGreaterThanOrEqual(16);
        expect(x + mask.width - 1).toBeLessThanOrEqual(95);
        expect(y + mask.height - 1).toBeLessThanOrEqual(55);
      }
    });
  });

  it('bboxes: one region per input object, with the saved box rectangles', async () => {
    const config = {
      model: { batch_size: 3 },
      mode: {
        name: 'bboxes',
        from_classes: '__all__',
        padding: { left: '2px', top: '2px', right: '2px', bottom: '2px' },
        save: true,
        add_suffix: '_input_bbox',
        model_classes: { add_suffix: '_m' },
      },
    };
    const task = await makeTask('bboxes', config);
    await run(task, config);
    const { anns, inputs } = await checkResults(task);
    anns.forEach((ann, i) => {
      const boxes = predictionsOf(ann, inputs[i]).filter((o) => o.classTitle.endsWith('_input_bbox'));
      expect(boxes.length).toBe(inputs[i].objects.length);
    });
  });

  it.each(['sum', 'feather'])(
    'sliding_window (%s): windows cover the image and stitched predictions are written',
    async (blending) => {
      const config = {
        model: { batch_size: 4 },
        mode: {
          name: 'sliding_window',
          window: { width: 32, height: 32 },
          min_overlap: { x: 8, y: 8 },
          save: true,
          class_name: 'sl_window',
          blending,
          model_classes: { add_suffix: '_m' },
        },
      };
      const task = await makeTask(`sw-${blending}`, config);
      await run(task, config);
      const { anns, inputs } = await checkResults(task);
      anns.forEach((ann, i) => {
        const preds = predictionsOf(ann, inputs[i]);
        // 96x64 with 32x32 windows, stride 24: x at 0, 24, 48, 64; y at 0, 24, 32 -> 12 windows.
        expect(preds.filter((o) => o.classTitle === 'sl_window').length).toBe(12);
        // The stitched masks cover every pixel exactly once.
        let covered = 0;
        for (const obj of preds.filter((o) => o.bitmap)) {
          const mask = decodeBitmapData(obj.bitmap!.data);
          covered += mask.data.reduce((s: number, v: number) => s + v, 0);
        }
        expect(covered).toBe(96 * 64);
      });
    },
  );

  it('save_probabilities: per-class float32 scores in customBigData that sum to 1', async () => {
    const config = {
      model: { batch_size: 2 },
      mode: { name: 'full_image', save_probabilities: true, model_classes: { add_suffix: '_p' } },
    };
    const task = await makeTask('probs', config, { width: 40, height: 24 });
    await run(task, config);
    const { anns } = await checkResults(task);
    const big = anns[0].customBigData as {
      probabilityLabels: { classTitle: string; multichannelBitmap: { data: string; origin: number[] } }[];
      probabilityClasses: { title: string; shape: string }[];
    };
    expect(big.probabilityClasses.map((c) => c.shape)).toEqual(
      big.probabilityClasses.map(() => 'multichannelBitmap'),
    );
    expect(big.probabilityLabels.length).toBe(4);
    const sums = new Float64Array(40 * 24);
    for (const label of big.probabilityLabels) {
      const arr = decodeNpy(inflateSync(Buffer.from(label.multichannelBitmap.data, 'base64')));
      expect(arr.shape).toEqual([24, 40, 1]);
      arr.data.forEach((v: number, i: number) => (sums[i] += v));
    }
    for (const s of sums) expect(s).toBeCloseTo(1, 4);
  });
});

describe('inference task failures leave no results project', () => {
  async function expectFailure(
    name: string,
    config: unknown,
    message: RegExp,
    prepare?: (t: Task) => Promise<void>,
  ) {
    const task = await makeTask(name, config);
    if (prepare) await prepare(task);
    await expect(run(task, config)).rejects.toThrow(message);
    expect(await fs.readdir(path.join(task.dir, 'results'))).toEqual([]);
    expect(task.lines.some((l) => l.message === 'model applied')).toBe(false);
  }

  it('a renamed class that collides with an input class (non-default mode: no suffix inherited, spec F.3)', async () => {
    await expectFailure('collision', { model: {}, mode: { name: 'roi' } }, /add_suffix/);
  });

  it('a window larger than the image', async () => {
    await expectFailure(
      'big-window',
      {
        model: {},
        mode: {
          name: 'sliding_window',
          window: { width: 200, height: 32 },
          model_classes: { add_suffix: '_m' },
        },
      },
      /window.*larger|larger.*window/i,
    );
  });

  it('a model folder without config.json', async () => {
    await expectFailure('no-config', { model: {}, mode: { name: 'full_image' } }, /config\.json/, (t) =>
      fs.rm(path.join(t.dir, 'model', 'config.json')),
    );
  });

  it('a model whose weights do not match its config', async () => {
    await expectFailure(
      'mismatch',
      { model: {}, mode: { name: 'full_image' } },
      /do not belong together/,
      async (t) => {
        const file = path.join(t.dir, 'model', 'config.json');
        const cfg = await readJson<{ settings: { input_size: unknown } }>(file);
        cfg.settings.input_size = { height: 64, width: 64 };
        await fs.writeFile(file, JSON.stringify(cfg));
      },
    );
  });
});

describe('a checkpoint from before config.json recorded its input normalisation', () => {
  const config = { model: {}, mode: { name: 'full_image' } };
  const dropPreprocessing = async (t: Task): Promise<void> => {
    const file = path.join(t.dir, 'model', 'config.json');
    const cfg = await readJson<Record<string, unknown>>(file);
    delete cfg.preprocessing;
    await fs.writeFile(file, JSON.stringify(cfg));
  };

  it('runs with the normalisation the entry point assumes for its network, and says so', async () => {
    const task = await makeTask('legacy-assumed', config);
    await dropPreprocessing(task);
    await run(task, config, { assumedPreprocessing: IMAGENET_PREPROCESSING });
    const warning = task.lines.find((l) => String(l.message).includes('records no input normalisation'));
    expect(warning?.preprocessing).toEqual({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    expect(task.lines.some((l) => l.message === 'model applied')).toBe(true);
  });

  it('is a model error naming the field when nothing is assumed, and leaves no results', async () => {
    const task = await makeTask('legacy-none', config);
    await dropPreprocessing(task);
    await expect(run(task, config)).rejects.toThrow(/model\/config\.json.*preprocessing/);
    expect(await fs.readdir(path.join(task.dir, 'results'))).toEqual([]);
  });
});
