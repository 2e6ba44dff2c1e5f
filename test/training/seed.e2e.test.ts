/**
 * @jest-environment ./test/onnx/ort-environment.js
 */
/**
 * `seed` reproduces a training from scratch: the shuffles, the flips and, through seeded-build.ts, the initial
 * weights (which tfjs alone would draw unseeded). Two runs with the same seed write the same checkpoint.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { makeTask, readCheckpointWeights, removeTask, runInProcess, TINY_TRAIN_CONFIG } from './e2e-helpers';

const PROJECT = {
  projectName: 'shapes',
  datasets: [{ name: 'a', count: 10 }],
  width: 32,
  height: 32,
  folds: { val: 0.3 },
  seed: 5,
};

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await removeTask(r);
});

/** The final checkpoint's weights after training from scratch with `seed` on `engine`. */
async function trainedWeights(
  seed: number,
  engine: 'onnxruntime' | 'tfjs' = 'onnxruntime',
): Promise<Map<string, number[]>> {
  const root = await makeTask({
    project: PROJECT,
    config: { ...TINY_TRAIN_CONFIG, seed, train_engine: engine },
  });
  roots.push(root);
  const run = await runInProcess(root);
  if ('error' in run) throw run.error;
  const results = path.join(root, 'results');
  const last = (await fsp.readdir(results))
    .filter((d) => /^\d{8}$/.test(d))
    .sort()
    .pop();
  if (last === undefined) throw new Error('no checkpoint written');
  const weights = await readCheckpointWeights(path.join(results, last));
  return new Map([...weights].map(([name, w]) => [name, Array.from(w.values)]));
}

describe('seed', () => {
  it.each(['onnxruntime', 'tfjs'] as const)(
    '%s: the same seed trains to the same weights from scratch; another seed to others',
    async (engine) => {
      const a = await trainedWeights(42, engine);
      expect(a.size).toBeGreaterThan(0);
      expect(await trainedWeights(42, engine)).toEqual(a);
      expect(await trainedWeights(43, engine)).not.toEqual(a);
    },
    120_000,
  );
});
