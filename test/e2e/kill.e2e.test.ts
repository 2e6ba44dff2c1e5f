/**
 * SIGKILL at random moments (the agent's `container.remove(force=True)`, a machine dying): no folder under a
 * final name is ever incomplete. Training writes a checkpoint every two steps and is killed 50 times at seeded
 * random moments; after each kill every results/0000000N/ must be whole (config.json and model.json parse, every
 * weight file model.json names has the bytes its manifest says). Inference is killed 12 times: results/<project>
 * is absent or complete (every image with its annotation, meta.json). What a kill leaves hidden is removed by the
 * next start (test/task/results-folder.test.ts).
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mulberry32 } from '../../src/util/random';
import { builtFile } from '../contract/built';
import { tinyUnetCheckpoint } from '../inference/helpers/tiny-checkpoint';
import { makeTask, removeTask, TINY_TRAIN_CONFIG } from '../training/e2e-helpers';

/** Starts the entry point (node, as the launcher execs it) and SIGKILLs it after `ms`. */
/**
 * Runs an entry point and SIGKILLs it `ms` after it starts or, with `after`, after its stdout first matches
 * `after` (so kills land in training whatever the start-up costs on a loaded machine).
 */
function runAndKill(root: string, entry: 'train' | 'inference', ms: number, after?: RegExp): Promise<string> {
  const child = spawn(process.execPath, [builtFile(`src/${entry}.ts`)], {
    env: { PATH: process.env.PATH, SLY_TASK_DATA: root, TFJS_BACKEND: 'wasm' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    timer ??= setTimeout(() => child.kill('SIGKILL'), ms);
  };
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (after !== undefined && after.test(out)) arm();
  });
  if (after === undefined) arm();
  return new Promise((resolve) =>
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(out);
    }),
  );
}

/** Problems with a checkpoint folder: it must be whole. */
async function checkpointProblems(dir: string): Promise<string[]> {
  const problems: string[] = [];
  try {
    JSON.parse(await fsp.readFile(path.join(dir, 'config.json'), 'utf8'));
    const model = JSON.parse(await fsp.readFile(path.join(dir, 'model.json'), 'utf8')) as {
      weightsManifest: { paths: string[]; weights: { shape: number[]; dtype?: string }[] }[];
    };
    for (const group of model.weightsManifest) {
      const expected = group.weights.reduce((s, w) => s + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
      let actual = 0;
      for (const p of group.paths) actual += (await fsp.stat(path.join(dir, p))).size;
      if (actual !== expected)
        problems.push(`${dir}: weights ${actual} bytes, the manifest says ${expected}`);
    }
  } catch (e) {
    problems.push(`${dir}: ${(e as Error).message}`);
  }
  return problems;
}

let root: string | undefined;
afterAll(() => removeTask(root));

it('training killed 50 times at random moments never leaves an incomplete checkpoint under its name', async () => {
  root = await makeTask({
    project: {
      projectName: 'shapes',
      datasets: [{ name: 'ds', count: 12 }],
      width: 32,
      height: 32,
      folds: { val: 0.34 },
      seed: 3,
    },
    // 8 train images in batches of 4: a validation and a checkpoint every 2 steps.
    config: { ...TINY_TRAIN_CONFIG, epochs: 10000, val_every: 1 },
  });
  const random = mulberry32(20261207);
  const results = path.join(root, 'results');
  let announced = 0;
  for (let kill = 0; kill < 50; kill++) {
    // One kill in four falls during start-up (node, tfjs, the project, the preflight); the others fall in
    // training, counted from its first step, where checkpoints are written every two steps.
    const out =
      kill % 4 === 0
        ? await runAndKill(root, 'train', 300 + Math.floor(random() * 1500))
        : await runAndKill(root, 'train', Math.floor(random() * 2000), /Model training/);
    announced += (out.match(/EventType\.CHECKPOINT/g) ?? []).length;
    const names = await fsp.readdir(results);
    for (const n of names.filter((x) => /^\d{8}$/.test(x))) {
      expect(await checkpointProblems(path.join(results, n))).toEqual([]);
    }
    // Anything else is hidden (a temporary the next start removes).
    expect(names.filter((n) => !/^\d{8}$/.test(n) && !n.startsWith('.'))).toEqual([]);
  }
  // The kills fell while checkpoints were being written, not only before any.
  expect(announced).toBeGreaterThan(20);
}, 600_000);

it('inference killed 12 times at random moments leaves results/<project> absent or complete', async () => {
  const model = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'kill-model-')), 'model');
  await tinyUnetCheckpoint({ outDir: model, size: 32 });
  const infer = await makeTask({
    project: {
      projectName: 'shapes',
      datasets: [{ name: 'ds', count: 60 }],
      width: 160,
      height: 120,
      seed: 4,
    },
    config: { model: {}, mode: { name: 'full_image', model_classes: { add_suffix: '_nn' } } },
    modelFrom: model,
  });
  try {
    const random = mulberry32(7);
    const project = path.join(infer, 'results', 'shapes');
    let complete = 0;
    for (let kill = 0; kill < 12; kill++) {
      await fsp.rm(project, { recursive: true, force: true });
      await runAndKill(infer, 'inference', 500 + Math.floor(random() * 2500));
      const names = await fsp.readdir(path.join(infer, 'results'));
      expect(names.filter((n) => !n.startsWith('.') && n !== 'shapes')).toEqual([]);
      if (!names.includes('shapes')) continue;
      complete += 1;
      JSON.parse(await fsp.readFile(path.join(project, 'meta.json'), 'utf8'));
      const images = await fsp.readdir(path.join(project, 'ds', 'img'));
      const anns = await fsp.readdir(path.join(project, 'ds', 'ann'));
      expect(images).toHaveLength(60);
      expect(anns.sort()).toEqual(images.map((i) => `${i}.json`).sort());
      for (const a of anns) JSON.parse(await fsp.readFile(path.join(project, 'ds', 'ann', a), 'utf8'));
    }
    // Some runs were killed mid-way (nothing under the name) and, in this range, some finished.
    expect(complete).toBeLessThan(12);
  } finally {
    await removeTask(infer);
    await fsp.rm(path.dirname(model), { recursive: true, force: true });
  }
}, 600_000);
