import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TaskError, dataError } from '../../src/errors';
import { generateSyntheticProject } from '../../src/example/synthetic-project';
import type { ProjectItem } from '../../src/format/project-reader';
import { readSingleProject } from '../../src/format/project-reader';
import { createSegmentationClasses } from '../../src/model-state/class-map';
import { EpochBatchReader, FoldBatches, type FoldBatchesOptions } from '../../src/training/data/fold-batches';
import type { Batch } from '../../src/training/engine/types';
import { groundTruthValues, planTraining, scanProject, type ScannedItem } from '../../src/training/plan';
import { defaultTrainConfig, resolveTrainConfig } from '../../src/task/train-config';
import type { TrainConfig } from '../../src/task/config-types';

/** A batch whose input holds the sample indices, so tests can read which samples it carries. */
const collate = (samples: number[]): Batch => ({
  inputs: { index: { data: Float32Array.from(samples), shape: [samples.length, 1] } },
  labels: { data: new Int32Array(samples.length), shape: [samples.length, 1, 1] },
});
const indicesOf = (b: Batch): number[] => Array.from(b.inputs.index.data);

interface Skip {
  index: number;
  file: string;
  item: string;
  reason: string;
  skipped: number;
}

function fold(over: Partial<FoldBatchesOptions<number>> & { count: number }) {
  const loads: number[] = [];
  const skips: Skip[] = [];
  const bad = new Set<number>();
  const batches = new FoldBatches<number>({
    purpose: 'train',
    batchSize: 4,
    lookahead: 2,
    allowedCorrupted: 0,
    load: async (index) => {
      loads.push(index);
      if (bad.has(index)) throw dataError('cannot decode the image: broken', { file: `img/${index}.png` });
      return index;
    },
    collate,
    describe: (index) => ({ file: `p/ds/img/${index}.png`, item: `ds/${index}.png` }),
    onSkip: (info) => void skips.push(info),
    ...over,
  });
  return { batches, loads, skips, bad };
}

async function collect(it: AsyncGenerator<Batch>): Promise<number[][]> {
  const out: number[][] = [];
  for await (const b of it) out.push(indicesOf(b));
  return out;
}

describe('fold batches: order, drop-last and the corrupted-sample budget (spec E.5)', () => {
  it('training: a seeded shuffle per epoch, full batches only, every epoch the planned count', async () => {
    const { batches } = fold({ count: 10, shuffleSeed: 42 });
    expect(batches.batchesPerEpoch).toBe(2);
    const e0 = await collect(batches.epoch(0));
    const e0again = await collect(batches.epoch(0));
    const e1 = await collect(batches.epoch(1));
    expect(e0).toHaveLength(2);
    expect(e0.every((b) => b.length === 4)).toBe(true);
    expect(e0again).toEqual(e0);
    expect(e1).not.toEqual(e0);
    expect(new Set(e0.flat()).size).toBe(8);
    expect(e0.flat().every((i) => i >= 0 && i < 10)).toBe(true);
    // A different seed, a different order.
    const other = await collect(fold({ count: 10, shuffleSeed: 43 }).batches.epoch(0));
    expect(other).not.toEqual(e0);
  });

  it('validation: file order, the last incomplete batch kept', async () => {
    const { batches } = fold({ count: 10, purpose: 'val' });
    expect(batches.batchesPerEpoch).toBe(3);
    expect(await collect(batches.epoch(0))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
  });

  it('skips a corrupted sample within the budget, names it, replaces it, and leaves it out afterwards', async () => {
    const { batches, loads, skips, bad } = fold({ count: 8, shuffleSeed: 1, allowedCorrupted: 1 });
    const order = batches.epochIndices(0);
    bad.add(order[2]);
    const e0 = await collect(batches.epoch(0));
    expect(e0).toHaveLength(2);
    expect(e0.flat()).not.toContain(order[2]);
    expect(new Set(e0.flat()).size).toBe(8 - 1); // the replacement wrapped around to an already used sample
    expect(skips).toEqual([
      expect.objectContaining({
        index: order[2],
        file: `p/ds/img/${order[2]}.png`,
        item: `ds/${order[2]}.png`,
        skipped: 1,
      }),
    ]);
    expect(skips[0].reason).toContain('cannot decode');
    expect(batches.corruptedCount).toBe(1);
    loads.length = 0;
    const e1 = await collect(batches.epoch(1));
    expect(e1).toHaveLength(2);
    expect(loads).not.toContain(order[2]); // known bad: not even tried again
    expect(skips).toHaveLength(1);
  });

  it('fails past the budget, naming the file, the item and how to allow it', async () => {
    const { batches, bad } = fold({ count: 8, shuffleSeed: 1, allowedCorrupted: 1 });
    const order = batches.epochIndices(0);
    bad.add(order[0]);
    bad.add(order[1]);
    const error = await collect(batches.epoch(0)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskError);
    const te = error as TaskError;
    expect(te.kind).toBe('data');
    // The loader's own file wins over the fold's description of the sample.
    expect(te.context.file).toBe(`img/${order[1]}.png`);
    expect(te.context.item).toBe(`ds/${order[1]}.png`);
    expect(te.message).toMatch(/limit of 1 corrupted samples is exceeded/);
    expect(te.message).toMatch(/allow_corrupted_samples\.train/);
  });

  it('fails on the first corrupted sample when none are allowed', async () => {
    const { batches, bad } = fold({ count: 8, purpose: 'val' });
    bad.add(5);
    const error = await collect(batches.epoch(0)).catch((e: unknown) => e);
    expect((error as TaskError).message).toMatch(/no corrupted samples are allowed/);
    expect((error as TaskError).context.item).toBe('ds/5.png');
  });

  it('validation within the budget: the skipped sample is simply missing', async () => {
    const { batches, bad, skips } = fold({ count: 5, purpose: 'val', allowedCorrupted: 2 });
    bad.add(1);
    expect(await collect(batches.epoch(0))).toEqual([[0, 2, 3, 4]]);
    expect(skips.map((s) => s.index)).toEqual([1]);
    expect(await collect(batches.epoch(1))).toEqual([[0, 2, 3, 4]]);
    expect(skips).toHaveLength(1);
  });

  it('a reader follows the epochs the step asks for and closes cleanly mid-epoch', async () => {
    const { batches, loads } = fold({ count: 12, shuffleSeed: 5 });
    const reader = new EpochBatchReader(batches);
    const e0 = [
      indicesOf(await reader.next(0)),
      indicesOf(await reader.next(0)),
      indicesOf(await reader.next(0)),
    ];
    expect(e0).toEqual(await collect(batches.epoch(0)));
    await expect(reader.next(0)).rejects.toThrow(/ran out/);
    const first1 = indicesOf(await reader.next(1));
    expect(first1).toEqual((await collect(batches.epoch(1)))[0]);
    await reader.close();
    const before = loads.length;
    await new Promise((r) => setImmediate(r));
    expect(loads.length).toBe(before); // nothing keeps loading after close
  });
});

function scanned(tags: string[], objectCount = 1, name = 'x'): ScannedItem {
  const item: ProjectItem = {
    dataset: 'ds',
    name,
    imagePath: `/p/ds/img/${name}`,
    annotationPath: `/p/ds/ann/${name}.json`,
  };
  return { item, tagNames: tags, objectCount, stats: { width: 8, height: 8, classPixels: {} } };
}

function config(over: Record<string, unknown> = {}): TrainConfig {
  return resolveTrainConfig({ ...defaultTrainConfig(), ...over });
}

const CLASSES = createSegmentationClasses({
  projectClasses: [
    { title: 'a', shape: 'polygon', color: '#FF0000' },
    { title: 'neutral', shape: 'polygon', color: '#00FF00' },
  ],
  specialClasses: { background: 'bg', neutral: 'neutral' },
  weightsInitType: 'transfer_learning',
});

describe('the training plan (spec E.5, E.7)', () => {
  it('sizes the folds, counts images with neither or both tags, and plans the validations', () => {
    const items = [
      ...Array.from({ length: 20 }, (_, i) => scanned(['train'], 1, `t${i}`)),
      ...Array.from({ length: 5 }, (_, i) => scanned(['val'], 1, `v${i}`)),
      scanned(['train', 'val'], 2, 'both'),
      scanned([], 1, 'none1'),
      scanned(['other'], 1, 'none2'),
    ];
    const plan = planTraining({
      items,
      config: config({ batch_size: { train: 8, val: 4 }, epochs: 3, val_every: 0.5 }),
      classes: CLASSES,
    });
    expect(plan.train.items).toHaveLength(21);
    expect(plan.val.items).toHaveLength(6);
    expect(plan.train).toMatchObject({ batchSize: 8, batches: 2, tag: 'train' });
    expect(plan.val).toMatchObject({ batchSize: 4, batches: 2, tag: 'val' });
    expect(plan).toMatchObject({ neitherCount: 2, bothCount: 1, itersPerEpoch: 2, totalSteps: 6 });
    expect(plan.validations.map((v) => v.epochFloat)).toEqual([0.5, 1, 1.5, 2, 2.5, 3]);
    expect(plan.warnings.join('\n')).toMatch(/2 images have neither/);
    expect(plan).toMatchObject({ fill: 0, ignoreIndex: 2 });
  });

  it('trains with a smaller batch, and says so, when the train fold is smaller than one batch', () => {
    const items = [scanned(['train'], 1, 'a'), scanned(['train'], 1, 'b'), scanned(['val'], 1, 'c')];
    const plan = planTraining({
      items,
      config: config({ batch_size: { train: 8, val: 8 } }),
      classes: CLASSES,
    });
    expect(plan.train).toMatchObject({ batchSize: 2, batches: 1 });
    expect(plan.val).toMatchObject({ batchSize: 8, batches: 1 });
    expect(plan.warnings.join('\n')).toMatch(/fewer than batch_size\.train = 8: training with batches of 2/);
  });

  it('an empty fold, or one without objects, is an error naming the tag, the field and the file', () => {
    const onlyTrain = [scanned(['train'], 1, 'a')];
    const empty = (() => {
      try {
        planTraining({ items: onlyTrain, config: config(), classes: CLASSES });
      } catch (e) {
        return e as TaskError;
      }
      throw new Error('expected a failure');
    })();
    expect(empty.message).toMatch(/There are no annotations with tag "val"/);
    expect(empty.context).toEqual({ file: 'task_config.json', field: 'dataset_tags.val' });
    const noObjects = [scanned(['train'], 0, 'a'), scanned(['val'], 1, 'b')];
    expect(() => planTraining({ items: noObjects, config: config(), classes: CLASSES })).toThrow(
      /There are no objects in annotations with tag "train"/,
    );
  });

  it('without a background class, unlabelled pixels are ignored', () => {
    const noBg = createSegmentationClasses({
      projectClasses: [{ title: 'a', shape: 'polygon', color: '#FF0000' }],
      specialClasses: {},
      weightsInitType: 'transfer_learning',
    });
    expect(noBg.numClasses).toBe(2); // a = 1 (start id 1), channel 0 unused
    expect(groundTruthValues(noBg, undefined)).toEqual({ fill: 2, ignoreIndex: 2 });
    expect(groundTruthValues(CLASSES, 'bg')).toEqual({ fill: 0, ignoreIndex: 2 });
  });
});

describe('scanning a project (spec E.5: every annotation is read)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'scan-test-'));
  });
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('reads the image tags and object counts of every item, in project order', async () => {
    const synthetic = await generateSyntheticProject({
      dir,
      projectName: 'p',
      datasets: [
        { name: 'a', count: 5 },
        { name: 'b', count: 4 },
      ],
      width: 32,
      height: 32,
      folds: { val: 0.3, neither: 0.2 },
      seed: 9,
    });
    const items = await scanProject(await readSingleProject(dir));
    expect(items.map((s) => `${s.item.dataset}/${s.item.name}`)).toEqual(
      synthetic.items.map((s) => `${s.dataset}/${s.name}`),
    );
    expect(items.map((s) => s.tagNames)).toEqual(synthetic.items.map((s) => s.tags));
    expect(items.map((s) => s.objectCount)).toEqual(synthetic.items.map((s) => s.objects.length));
  });

  it('a broken annotation anywhere fails the scan, naming its file', async () => {
    const project = await readSingleProject(dir);
    const victim = project.datasets[1].items[2];
    await fsp.writeFile(
      victim.annotationPath,
      '{"size": {"height": 32, "width": 32}, "tags": [], "objects": [',
    );
    const error = await scanProject(project).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskError);
    expect((error as TaskError).context.file).toBe(path.join('p', 'b', 'ann', `${victim.name}.json`));
  });
});

describe('fold batches: resuming an epoch where a checkpoint left it', () => {
  /** Reads `stopAfter` batches of epoch 1 and its position, as a checkpoint after that step records it. */
  async function readAndStop(stopAfter: number, bad: number[]) {
    const f = fold({ count: 24, shuffleSeed: 9, allowedCorrupted: 3 });
    for (const b of bad) f.bad.add(b);
    const reader = new EpochBatchReader(f.batches);
    const got: number[][] = [];
    for (let i = 0; i < stopAfter; i += 1) got.push(indicesOf(await reader.next(1)));
    const position = reader.position();
    await reader.close();
    return { got, position };
  }

  it('goes on with the same samples as the stream that never stopped, skips and budget included', async () => {
    const full = fold({ count: 24, shuffleSeed: 9, allowedCorrupted: 3 });
    const order = full.batches.epochIndices(1);
    // One corrupted sample before the stop and one after it.
    const bad = [order[2], order[14]];
    for (const b of bad) full.bad.add(b);
    const uninterrupted = await collect(full.batches.epoch(1));
    expect(uninterrupted).toHaveLength(6);

    const { got, position } = await readAndStop(2, bad);
    expect(got).toEqual(uninterrupted.slice(0, 2));
    expect(position).toEqual({ epoch: 1, batchesDone: 2, corruptedBefore: [], skippedInEpoch: [order[2]] });

    // Another process: a fresh fold, resumed at the position (as JSON would carry it).
    const again = fold({ count: 24, shuffleSeed: 9, allowedCorrupted: 3 });
    for (const b of bad) again.bad.add(b);
    const reader = new EpochBatchReader(again.batches);
    reader.resume(JSON.parse(JSON.stringify(position)));
    const rest: number[][] = [];
    for (let i = 2; i < 6; i += 1) rest.push(indicesOf(await reader.next(1)));
    expect(rest).toEqual(uninterrupted.slice(2));
    // Loading starts right after the 9 places consumed (two batches and the skip before the stop)...
    expect(again.loads[0]).toBe(order[9]);
    // ...and the skip before the stop counts against the budget.
    expect(again.batches.corruptedIndices()).toEqual([...bad].sort((a, b) => a - b));
    await reader.close();
  });

  it('a position at the end of its epoch goes on with the next epoch from its start', async () => {
    const { position } = await readAndStop(6, []);
    const f = fold({ count: 24, shuffleSeed: 9 });
    const reader = new EpochBatchReader(f.batches);
    reader.resume(position);
    const next = indicesOf(await reader.next(2));
    expect(next).toEqual((await collect(fold({ count: 24, shuffleSeed: 9 }).batches.epoch(2)))[0]);
    await reader.close();
  });
});
