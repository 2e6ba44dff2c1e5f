/** @jest-environment ./test/onnx/ort-environment.js */
/**
 * Sharded inference in process (src/inference/shards.ts, merge-results.ts): three shards of a generated project
 * merged give back, byte for byte, what one run over the whole project writes; and the merge refuses parts that
 * do not make one run. test/inference/shards.contract.test.ts does the same through the launcher, the
 * environments of Kubernetes and SLURM, and the built CLI.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TaskError } from '../../src/errors';
import { generateSyntheticProject } from '../../src/example/synthetic-project';
import { mergeResults } from '../../src/inference/merge-results';
import { runInference } from '../../src/inference/run';
import { shardItems } from '../../src/task/shard';
import { createLogger, memorySink } from '../../src/protocol';
import { resolveInferenceConfig } from '../../src/task/inference-config';
import { taskPathsAt } from '../../src/task/paths';
import { UNET_DEFAULT_MODE } from '../../plugin/unet/mode';
import { tinyUnetCheckpoint } from './helpers/tiny-checkpoint';
import { expectSameFiles, projectFiles, smallProject } from './helpers/sharding';

const PROJECT = 'shapes';
const CONFIG = {
  model: { gpu_device: 0, batch_size: 2 },
  mode: { name: 'full_image', model_classes: { save_classes: '__all__', add_suffix: '_unet' } },
};

let root: string;
/** A task folder, shared by every shard run of one "cluster" (its results/ is the shared volume). */
let sharded: string;
let single: string;
/** The log lines of each shard's run. */
const shardLines: Record<string, unknown>[][] = [];

/** A task folder with the generated project, the given model and CONFIG (or `config`). */
async function makeTask(name: string, model = 'model', config: unknown = CONFIG): Promise<string> {
  const dir = path.join(root, name);
  await fs.cp(path.join(root, 'data'), path.join(dir, 'data'), { recursive: true });
  await fs.cp(path.join(root, model), path.join(dir, 'model'), { recursive: true });
  await fs.mkdir(path.join(dir, 'results'));
  await fs.writeFile(path.join(dir, 'task_config.json'), JSON.stringify(config));
  return dir;
}

async function infer(
  dir: string,
  shard?: { index: number; count: number },
  config: unknown = CONFIG,
): Promise<Record<string, unknown>[]> {
  const sink = memorySink();
  const logger = createLogger({ sink: sink.sink, level: 'debug' });
  const { modelConfig, modeConfig } = resolveInferenceConfig(config, {
    defaultModeConfig: UNET_DEFAULT_MODE,
  });
  await runInference(
    { paths: taskPathsAt(dir), modelConfig, modeConfig, logger },
    { engine: 'onnxruntime', ...(shard !== undefined ? { shard: { ...shard, source: 'test' } } : {}) },
  );
  return sink.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

const part = (dir: string, i: number, n = 3): string =>
  path.join(dir, 'results', `${PROJECT}.shard-${i}-of-${n}`);

/** The TaskError `promise` rejects with. */
async function refusal(promise: Promise<unknown>): Promise<TaskError> {
  const e = await promise.then(
    () => {
      throw new Error('expected a refusal');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TaskError);
  return e as TaskError;
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'infer-shards-'));
  await generateSyntheticProject({ ...smallProject(PROJECT, [5, 3], 5), dir: path.join(root, 'data') });
  await tinyUnetCheckpoint({ outDir: path.join(root, 'model'), size: 32, seed: 3 });
  await tinyUnetCheckpoint({ outDir: path.join(root, 'other-model'), size: 32, seed: 4 });
  single = await makeTask('single');
  await infer(single);
  sharded = await makeTask('sharded');
  for (const index of [0, 1, 2]) shardLines.push(await infer(sharded, { index, count: 3 }));
}, 120_000);

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('sharded inference (shards.ts)', () => {
  it('takes every n-th item of the sorted listing: all items once, shard sizes within one', () => {
    const items = Array.from({ length: 10 }, (_, k) => k);
    const shards = [0, 1, 2].map((index) => shardItems(items, { index, count: 3 }));
    expect(shards).toEqual([
      [0, 3, 6, 9],
      [1, 4, 7],
      [2, 5, 8],
    ]);
    expect(shardItems(items.slice(0, 2), { index: 2, count: 3 })).toEqual([]);
  });

  it('each shard writes results/<project>.shard-<i>-of-<n>/ with its items and shard.json, then "model applied"', async () => {
    expect((await fs.readdir(path.join(sharded, 'results'))).sort()).toEqual([
      'shapes.shard-0-of-3',
      'shapes.shard-1-of-3',
      'shapes.shard-2-of-3',
    ]);
    const manifest = JSON.parse(await fs.readFile(path.join(part(sharded, 1), 'shard.json'), 'utf8')) as {
      shard: unknown;
      items: unknown;
      items_total: number;
      model_files: Record<string, string>;
    };
    // Listing order: ds1/ then ds2/, names by code point; shard 1 takes items 1, 4 and 7.
    expect(manifest).toMatchObject({ shard: { index: 1, count: 3 }, items_total: 8 });
    expect(manifest.items).toEqual([
      ['ds1', expect.stringMatching(/\.png$/)],
      ['ds1', expect.stringMatching(/\.png$/)],
      ['ds2', expect.stringMatching(/\.png$/)],
    ]);
    expect(Object.keys(manifest.model_files).sort()).toEqual(['config.json', 'model.json', 'weights.bin']);
    shardLines.forEach((lines, index) => {
      expect(lines.find((l) => l.shard !== undefined)).toMatchObject({
        message: `Sharded inference: shard ${index} of 3, ${index < 2 ? 3 : 2} items.`,
        shards: 3,
        items_total: 8,
        part: `results/shapes.shard-${index}-of-3`,
      });
      expect(lines[lines.length - 1]).toMatchObject({ event_type: 'EventType.MODEL_APPLIED' });
    });
  });

  it('a shard run again finds its part done and says "model applied"; a part of another model is refused', async () => {
    const before = await fs.stat(path.join(part(sharded, 1), 'shard.json'));
    const again = await infer(sharded, { index: 1, count: 3 });
    expect(again.map((l) => l.message)).toContain(
      'results/shapes.shard-1-of-3 is already done, from this project, model and config: nothing to do.',
    );
    expect(again[again.length - 1]).toMatchObject({ event_type: 'EventType.MODEL_APPLIED' });
    expect((await fs.stat(path.join(part(sharded, 1), 'shard.json'))).mtimeMs).toBe(before.mtimeMs);

    const other = await makeTask('other-model-again', 'other-model');
    await fs.cp(part(sharded, 1), part(other, 1), { recursive: true });
    const e = await refusal(infer(other, { index: 1, count: 3 }));
    expect(e.message).toMatch(
      /^results\/shapes\.shard-1-of-3: results\/shapes\.shard-1-of-3 already exists; it holds this shard made from another model/,
    );
  });

  it('a shard with no items (more shards than items) writes an empty part: meta.json and shard.json', async () => {
    const dir = await makeTask('empty');
    const lines = await infer(dir, { index: 8, count: 9 });
    expect((await fs.readdir(part(dir, 8, 9))).sort()).toEqual(['meta.json', 'shard.json']);
    expect(lines[lines.length - 1]).toMatchObject({ message: 'model applied' });
  });
});

describe('sly-nn merge-results (merge-results.ts)', () => {
  it('the merged parts are, byte for byte, what a single run writes (annotations, meta.json, images)', async () => {
    const out = path.join(root, 'merged');
    const summary = await mergeResults({ parts: [path.join(sharded, 'results')], out });
    expect(summary).toMatchObject({ project: PROJECT, shards: 3, items: 8, datasets: 2, copied: 0 });
    expect(await fs.readdir(out)).toEqual([PROJECT]);
    await expectSameFiles(path.join(out, PROJECT), path.join(single, 'results', PROJECT));
    const merged = await projectFiles(path.join(out, PROJECT));
    expect([...merged.keys()].filter((f) => f.endsWith('.json'))).toHaveLength(9);
  });

  it('refuses to write over an existing project', async () => {
    const out = path.join(root, 'twice');
    await mergeResults({ parts: [path.join(sharded, 'results')], out });
    const e = await refusal(mergeResults({ parts: [path.join(sharded, 'results')], out }));
    expect(e.message).toMatch(/twice\/shapes: already exists/);
  });

  it('refuses a missing part', async () => {
    const e = await refusal(
      mergeResults({ parts: [part(sharded, 0), part(sharded, 2)], out: path.join(root, 'x') }),
    );
    expect(e.message).toMatch(/1 of 3 parts missing: shard 1 /);
    await expect(fs.access(path.join(root, 'x', PROJECT))).rejects.toThrow();
  });

  it('refuses a part given twice', async () => {
    const copy = path.join(root, 'copy-of-1');
    await fs.cp(part(sharded, 1), copy, { recursive: true });
    const e = await refusal(
      mergeResults({ parts: [path.join(sharded, 'results'), copy], out: path.join(root, 'x') }),
    );
    expect(e.message).toMatch(/shard 1 of 3 is given twice: here and in .*shapes\.shard-1-of-3; keep one/);
    expect(e.context).toMatchObject({ file: path.join(copy, 'shard.json'), field: 'shard.index' });
  });

  it('refuses a part made with another model, naming the model files that differ', async () => {
    const other = await makeTask('other', 'other-model');
    await infer(other, { index: 1, count: 3 });
    const e = await refusal(
      mergeResults({
        parts: [part(sharded, 0), part(other, 1), part(sharded, 2)],
        out: path.join(root, 'x'),
      }),
    );
    expect(e.message).toMatch(/model\/.*weights\.bin differ: another model/);
    expect(e.context.field).toBe('model_files');
  });

  it('refuses a part made with another mode config', async () => {
    const config = { ...CONFIG, mode: { ...CONFIG.mode, save_probabilities: true } };
    const other = await makeTask('other-mode', 'model', config);
    await infer(other, { index: 2, count: 3 }, config);
    const e = await refusal(
      mergeResults({
        parts: [part(sharded, 0), part(sharded, 1), part(other, 2)],
        out: path.join(root, 'x'),
      }),
    );
    expect(e.message).toMatch(/mode\.save_probabilities differ: another inference config/);
  });

  /** A copy of shard i's part, its manifest edited by `edit`. */
  async function editedPart(
    name: string,
    i: number,
    edit: (m: Record<string, unknown>) => void,
  ): Promise<string> {
    const dir = path.join(root, name);
    await fs.cp(part(sharded, i), dir, { recursive: true });
    const file = path.join(dir, 'shard.json');
    const manifest = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
    edit(manifest);
    await fs.writeFile(file, JSON.stringify(manifest));
    return dir;
  }

  it("refuses parts of another shard count, and a part whose items are another shard's", async () => {
    const four = await editedPart('four', 1, (m) => void (m.shard = { index: 1, count: 4 }));
    const count = await refusal(
      mergeResults({ parts: [part(sharded, 0), four, part(sharded, 2)], out: path.join(root, 'x') }),
    );
    expect(count.message).toMatch(
      /four\/shard\.json: field "shard\.count": shard 1 of 4: another count of shards/,
    );
    // Shard 0's items, claiming to be shard 1: they overlap shard 0's.
    const posing = await editedPart('posing', 0, (m) => void (m.shard = { index: 1, count: 3 }));
    const overlap = await refusal(
      mergeResults({ parts: [part(sharded, 0), posing, part(sharded, 2)], out: path.join(root, 'x') }),
    );
    expect(overlap.message).toMatch(/in two parts, here and in .*shard-0-of-3: the parts overlap/);
    expect(overlap.context.item).toMatch(/^ds1\//);
  });

  it("refuses a part whose files are not its manifest's items, and a folder that holds no part", async () => {
    const dir = await editedPart('incomplete', 2, () => undefined);
    const [, name] = (
      JSON.parse(await fs.readFile(path.join(dir, 'shard.json'), 'utf8')) as { items: string[][] }
    ).items[0];
    await fs.rm(path.join(dir, 'ds1', 'ann', `${name}.json`));
    const e = await refusal(
      mergeResults({ parts: [part(sharded, 0), part(sharded, 1), dir], out: path.join(root, 'x') }),
    );
    expect(e.message).toBe(
      `${path.join(dir, 'ds1', 'ann', `${name}.json`)}: missing: shard.json lists its item; the part is incomplete`,
    );
    const none = await refusal(mergeResults({ parts: [path.join(root, 'data')], out: path.join(root, 'x') }));
    expect(none.message).toMatch(
      /neither a part of a sharded inference \(no shard\.json\) nor a folder holding parts/,
    );
  });
});
