/**
 * Click validation scores every object of each val image (up to clicks.val_objects_per_image), not one: the
 * val samples stack every eligible object with its protocol first click, and `evaluate` runs the NoC protocol
 * on all of them, handing the engines at most batch_size.val objects at a time. In process, tfjs on wasm, a tiny
 * untrained click network: this checks which objects are scored, not how well.
 */
import { networkTensorNames } from '../../../src/network/types';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../../src/backend/select';
import { network } from '../../../plugin/clicks';
import { generateSyntheticProject } from '../../../src/example/synthetic-project';
import {
  readSingleProject,
  readItemAnnotation,
  type ProjectListing,
} from '../../../src/format/project-reader';
import { createLogger, memorySink } from '../../../src/protocol';
import { resolveTrainConfig } from '../../../src/task/train-config';
import type { TaskPaths } from '../../../src/task/paths';
import {
  objectMasks,
  clickSegmentationTask,
  type ClickSample,
} from '../../../src/tasks/click-segmentation/training';
import { FoldBatches } from '../../../src/training/data/fold-batches';
import { InProcessEngine } from '../../../src/training/engine/in-process';
import type { Batch } from '../../../src/training/engine/types';
import { scanProject, type FoldPlan, type ScannedItem, type TrainingPlan } from '../../../src/training/plan';
import type { TaskRunContext } from '../../../src/training/task';
import type { SegmentationClasses } from '../../../src/model-state/class-map';

const GRID = { width: 32, height: 32 };
/** Objects of at least 0.2% of the input are scored (training.ts MIN_OBJECT_SHARE); all here are larger. */
const MIN_AREA = Math.ceil(0.002 * GRID.width * GRID.height);

let dir: string;
let project: ProjectListing;
let val: ScannedItem[];
/** Eligible objects per val image, at the input size. */
let objectsPerImage: number[];

beforeAll(async () => {
  await initBackend({ force: 'wasm', env: {} });
  dir = await mkdtemp(path.join(tmpdir(), 'click-val-'));
  await generateSyntheticProject({
    dir,
    projectName: 'shapes',
    datasets: [{ name: 'ds', count: 12 }],
    width: 64,
    height: 64,
    folds: { val: 0.5 },
    objectsPerImage: { min: 1, max: 4 },
    seed: 5,
  });
  project = await readSingleProject(path.join(dir, 'shapes'));
  val = (await scanProject(project)).filter((s) => s.tagNames.includes('val'));
  objectsPerImage = [];
  for (const s of val) {
    const masks = objectMasks(await readItemAnnotation(project, s.item), GRID);
    objectsPerImage.push(masks.filter((m) => m.reduce((a, v) => a + v, 0) >= MIN_AREA).length);
  }
});

afterAll(() => rm(dir, { recursive: true, force: true }));

function context(config: Record<string, unknown>) {
  const sink = memorySink();
  const ctx: TaskRunContext = {
    paths: {} as TaskPaths, // not read by the click task
    config: resolveTrainConfig({
      network: 'clicks',
      input_size: GRID,
      special_classes: { background: null, neutral: null },
      ...config,
    }),
    project,
    network,
    logger: createLogger({ sink: sink.sink, level: 'debug' }),
  };
  const lines = () => sink.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { ctx, lines };
}

function valFold(ctx: TaskRunContext): FoldBatches<ClickSample[]> {
  const fold: FoldPlan = {
    purpose: 'val',
    tag: 'val',
    items: val,
    batchSize: ctx.config.batch_size.val,
    batches: Math.ceil(val.length / ctx.config.batch_size.val),
  };
  const source = clickSegmentationTask.samples(ctx, {
    fold,
    plan: {} as TrainingPlan, // not read by the click task
    classes: {} as SegmentationClasses,
  });
  return new FoldBatches<ClickSample[]>({
    purpose: 'val',
    count: val.length,
    batchSize: fold.batchSize,
    lookahead: 1,
    allowedCorrupted: 0,
    load: (index, epoch) => source.load(val[index], { seed: ctx.config.seed, epoch, index }),
    collate: (samples) => source.collate(samples),
    describe: (index) => ({ file: val[index].item.name, item: val[index].item.name }),
    onSkip: () => undefined,
  });
}

describe('click validation on every object', () => {
  it('the project has val images with several objects (or this test would prove nothing)', () => {
    expect(Math.max(...objectsPerImage)).toBeGreaterThanOrEqual(3);
    expect(objectsPerImage.every((k) => k >= 1)).toBe(true);
  });

  it.each([8, 2, 1])(
    'with val_objects_per_image %i, a val image gives that many objects at most, each its own mask',
    async (cap) => {
      const { ctx } = context({ clicks: { val_objects_per_image: cap } });
      const source = clickSegmentationTask.samples(ctx, {
        fold: { purpose: 'val', tag: 'val', items: val, batchSize: 4, batches: 1 },
        plan: {} as TrainingPlan,
        classes: {} as SegmentationClasses,
      });
      const px = GRID.width * GRID.height;
      for (const [i, s] of val.entries()) {
        const objects = await source.load(s, { seed: 42, epoch: 3, index: i });
        expect(objects).toHaveLength(Math.min(cap, objectsPerImage[i]));
        for (const o of objects) {
          expect(o.x.length).toBe(px * 6);
          expect(o.y.reduce((a, v) => a + v, 0)).toBeGreaterThanOrEqual(MIN_AREA);
        }
        // Distinct objects, not one repeated.
        expect(new Set(objects.map((o) => o.y.join(''))).size).toBe(objects.length);
        // The same objects at every validation: the epoch does not choose.
        const again = await source.load(s, { seed: 42, epoch: 7, index: i });
        expect(again.map((o) => Array.from(o.y))).toEqual(objects.map((o) => Array.from(o.y)));
      }
    },
  );

  it('evaluate scores every object, the engines seeing at most batch_size.val objects at once', async () => {
    const { ctx, lines } = context({ batch_size: { train: 2, val: 3 } });
    const model = network.build({
      inputSize: GRID,
      numClasses: 2,
      settings: network.parseSettings({ depth: 2, base_filters: 4, max_filters: 8 }),
    });
    const engine = new InProcessEngine({
      model,
      learningRate: 0.01,
      numClasses: 2,
      ignoreIndex: null,
      tensorNames: networkTensorNames(network),
    });
    const seen: number[] = [];
    const evalStep = engine.evalStep.bind(engine);
    engine.evalStep = (batch: Batch) => {
      seen.push(batch.labels.shape[0]);
      return evalStep(batch);
    };
    try {
      const metrics = await clickSegmentationTask.evaluate(ctx, {
        engine,
        valFold: valFold(ctx),
        classes: {} as SegmentationClasses,
        epochFloat: 1,
      });
      const total = objectsPerImage.reduce((a, k) => a + k, 0);
      expect(total).toBeGreaterThan(val.length);
      expect(lines().find((l) => l.message === 'Click validation')).toMatchObject({
        objects: total,
        val_objects_per_image: 8,
      });
      expect(seen.reduce((a, n) => a + n, 0)).toBe(total);
      expect(Math.max(...seen)).toBeLessThanOrEqual(3);
      expect(metrics.noc85).toBeGreaterThanOrEqual(1);
      expect(metrics.noc85).toBeLessThanOrEqual(20);
      expect(Number.isFinite(metrics.loss)).toBe(true);
    } finally {
      await engine.dispose();
      model.dispose();
    }
  });
});
