/**
 * @jest-environment ./test/onnx/ort-environment.js
 */
/**
 * Exact resume (continue_training from a checkpoint with training_state.json): a run that goes on from a
 * checkpoint written mid-run ends with the weights of the run that never stopped (to 1e-6; in practice bit for
 * bit), on the tfjs engine and on onnxruntime; its metric lines go on counting epochs from where the
 * checkpoint was, with the same losses. Without the file, or with another seed, the run starts at epoch 0 as
 * before. (A stop by SIGTERM through the launcher, then a resume, and the data-parallel engine, whose workers load
the built plugin: test/e2e/resume.e2e.test.ts.)
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TaskError } from '../../src/errors';
import {
  maxWeightDifference,
  RESUME_PROJECT,
  runInProcess,
  tasksOn,
  TINY_TRAIN_CONFIG,
  type Line,
} from './e2e-helpers';

/**
 * 16 train images in batches of 4: 4 steps an epoch, 12 in all; a checkpoint every 2 steps. A learning-rate
 * schedule from the global step (warm-up, then cosine): the resumed run must go on with the same rates.
 */
const CONFIG = {
  ...TINY_TRAIN_CONFIG,
  epochs: 3,
  val_every: 0.5,
  seed: 7,
  lr_schedule: { name: 'cosine', warmup_steps: 3 },
};

const task = tasksOn(RESUME_PROJECT);

async function train(root: string): Promise<Line[]> {
  const run = await runInProcess(root);
  if (run.error !== undefined) throw run.error;
  return run.lines;
}

function checkpointDirs(root: string, lines: Line[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const l of lines) {
    if (l.event_type !== 'EventType.CHECKPOINT') continue;
    const epoch = (l.optional as { epoch: number }).epoch;
    out.set(epoch, path.join(root, 'results', String(l.subdir)));
  }
  return out;
}

/** The metrics lines as [type, epoch, loss]. */
function metricLines(lines: Line[]): [string, number, number | null][] {
  return lines
    .filter((l) => l.event_type === 'EventType.METRICS')
    .map((l) => [String(l.type), Number(l.epoch), (l.metrics as { loss: number | null }).loss]);
}

describe('continue_training from a checkpoint with training_state.json', () => {
  it.each([
    ['tfjs', { train_engine: 'tfjs' }],
    ['onnxruntime', { train_engine: 'onnxruntime' }],
    // Windows of the 32x32 images at a random scale and place: their streams are per sample too.
    [
      'tfjs, native resolution',
      { train_engine: 'tfjs', input_size: { width: 16, height: 16 }, resolution: { mode: 'native' } },
    ],
  ] as const)(
    '%s: resumed mid-epoch, the run ends with the weights and the losses of the run that never stopped',
    async (engine, settings) => {
      const config = { ...CONFIG, ...settings };
      const fullRoot = await task(config);
      const full = await train(fullRoot);
      const fullDirs = checkpointDirs(fullRoot, full);
      expect([...fullDirs.keys()]).toEqual([0.5, 1, 1.5, 2, 2.5, 3]);

      // The checkpoint at epoch 1.5: step 6 of 12, in the middle of the second epoch.
      const mid = fullDirs.get(1.5)!;
      const state = JSON.parse(await fsp.readFile(path.join(mid, 'training_state.json'), 'utf8'));
      expect(state).toMatchObject({
        global_step: 6,
        total_steps: 12,
        epoch_float: 1.5,
        seed: 7,
        optimizer: { kind: 'adam', iterations: 6, moments: { file: 'weights.bin', group: 'optimizer' } },
        data: { epoch: 1, batches_done: 2, batch_size: 4, train_items: 16, skipped_in_epoch: [] },
        validation: { performed: 3 },
      });

      const resumedRoot = await task({ ...config, weights_init_type: 'continue_training' }, mid);
      const resumed = await train(resumedRoot);
      expect(resumed.find((l) => l.message.startsWith('Resuming training exactly'))).toMatchObject({
        global_step: 6,
        epoch: 1.5,
        optimizer_iterations: 6,
      });
      // The metric lines go on where the checkpoint was, as the agent's charts expect, with the same losses.
      const after = metricLines(full).filter(([, epoch]) => epoch > 1.5);
      const again = metricLines(resumed);
      expect(again.map(([type, epoch]) => [type, epoch])).toEqual(
        after.map(([type, epoch]) => [type, epoch]),
      );
      again.forEach(([, , loss], i) => expect(loss).toBeCloseTo(after[i][2] as number, 6));
      // best_now goes on from the best val loss before the checkpoint.
      const bestNow = (ls: Line[]): boolean[] =>
        ls.filter((l) => l.event_type === 'EventType.CHECKPOINT').map((l) => Boolean(l.best_now));
      expect(bestNow(resumed)).toEqual(bestNow(full).slice(3));

      const resumedDirs = checkpointDirs(resumedRoot, resumed);
      const diff = await maxWeightDifference(fullDirs.get(3)!, resumedDirs.get(3)!);
      // Reported by the test for the record: the resume is exact.
      process.stdout.write(`resume ${engine}: max |weight difference| = ${diff}\n`);
      expect(diff).toBeLessThanOrEqual(1e-6);
    },
    240_000,
  );

  it('without training_state.json or with another seed it starts at epoch 0, saying why', async () => {
    const fullRoot = await task({ ...CONFIG, epochs: 1, val_every: 0.5, train_engine: 'tfjs' });
    const mid = checkpointDirs(fullRoot, await train(fullRoot)).get(0.5)!;

    const otherSeed = await task(
      { ...CONFIG, epochs: 1, seed: 8, weights_init_type: 'continue_training' },
      mid,
    );
    const lines = await train(otherSeed);
    const warning = lines.find((l) => l.message === 'Not resuming exactly.');
    expect(String(warning?.reason)).toMatch(
      /training_state\.json: field "seed" is 7 in the checkpoint and 8/,
    );
    expect(metricLines(lines)[0][1]).toBe(0.25);

    const older = await task({ ...CONFIG, epochs: 1, weights_init_type: 'continue_training' }, mid);
    await fsp.rm(path.join(older, 'model', 'training_state.json'));
    const olderLines = await train(older);
    expect(olderLines.find((l) => l.message.startsWith('The optimizer state is restored'))).toBeDefined();
    expect(metricLines(olderLines)[0][1]).toBe(0.25);
  }, 240_000);

  it('refuses a state whose optimizer does not belong to the weights, naming the file and the field', async () => {
    const fullRoot = await task({ ...CONFIG, epochs: 1, train_engine: 'tfjs' });
    const mid = checkpointDirs(fullRoot, await train(fullRoot)).get(0.5)!;
    const root = await task({ ...CONFIG, weights_init_type: 'continue_training' }, mid);
    const file = path.join(root, 'model', 'training_state.json');
    const state = JSON.parse(await fsp.readFile(file, 'utf8'));
    state.optimizer.iterations = 5;
    await fsp.writeFile(file, JSON.stringify(state));
    const run = await runInProcess(root);
    expect(run.error).toBeInstanceOf(TaskError);
    expect((run.error as TaskError).kind).toBe('model');
    expect((run.error as TaskError).message).toMatch(
      /model\/training_state\.json: field "optimizer\.iterations": records 5 optimizer steps, but .* has 2/,
    );
  }, 240_000);
});
