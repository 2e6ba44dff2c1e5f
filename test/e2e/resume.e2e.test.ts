/**
 * Nothing lost: a training stopped by SIGTERM (through the launcher, as the agent or Docker stops it) and then
 * continued with continue_training from the checkpoint the stop wrote ends with the weights of a run that was
 * never stopped (to 1e-6), and its metric lines go on counting epochs from the stop. Output read as the agent
 * reads it.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { AgentLogLine } from '../helpers/agent';
import { events, runAndStop, runLauncher } from '../helpers/launcher';
import { maxWeightDifference, RESUME_PROJECT, tasksOn, TINY_TRAIN_CONFIG } from '../training/e2e-helpers';

/** 16 train images in batches of 4: 4 steps an epoch, 24 in all; validation only at the end. */
const CONFIG = { ...TINY_TRAIN_CONFIG, epochs: 6, val_every: 6, seed: 3, train_engine: 'tfjs' };
const ENV = { TFJS_BACKEND: 'wasm' };

const task = tasksOn(RESUME_PROJECT);

function lastCheckpoint(root: string, lines: readonly AgentLogLine[]): { dir: string; epoch: number } {
  const cp = events(lines, 'CHECKPOINT').at(-1);
  if (cp === undefined) throw new Error('no checkpoint announced');
  return {
    dir: path.join(root, 'results', String(cp.fields.subdir)),
    epoch: Number((cp.fields.optional as { epoch: number }).epoch),
  };
}

function trainEpochs(lines: readonly AgentLogLine[]): number[] {
  return events(lines, 'METRICS')
    .filter((l) => l.fields.type === 'train')
    .map((l) => Number(l.fields.epoch));
}

/** A train metrics line at epoch 1 or later: the stop comes mid-run. */
function trainLineFromEpoch1(line: string): boolean {
  try {
    const j = JSON.parse(line) as { event_type?: string; type?: string; epoch?: number };
    return j.event_type === 'EventType.METRICS' && j.type === 'train' && (j.epoch ?? 0) >= 1;
  } catch {
    return false;
  }
}

it('stopped by SIGTERM, then continued from the stop checkpoint: the weights of the run that never stopped', async () => {
  const fullRoot = await task(CONFIG);
  const full = runLauncher(fullRoot, ENV);
  expect(full.status).toBe(0);
  const fullEnd = lastCheckpoint(fullRoot, full.lines);
  expect(fullEnd.epoch).toBe(6);

  const stoppedRoot = await task(CONFIG);
  const stopped = await runAndStop(stoppedRoot, 'train', trainLineFromEpoch1, ENV);
  expect(stopped.status).toBe(143);
  const stop = lastCheckpoint(stoppedRoot, stopped.lines);
  expect(stop.epoch).toBeGreaterThanOrEqual(1);
  expect(stop.epoch).toBeLessThan(6);
  const state = JSON.parse(await fsp.readFile(path.join(stop.dir, 'training_state.json'), 'utf8'));
  expect(state.global_step).toBe(Math.round(stop.epoch * 4));
  expect(state.optimizer.iterations).toBe(state.global_step);

  const resumedRoot = await task({ ...CONFIG, weights_init_type: 'continue_training' }, stop.dir);
  const resumed = runLauncher(resumedRoot, ENV);
  expect(resumed.status).toBe(0);
  // The epochs go on from the stop, step by step to the end.
  const epochs = trainEpochs(resumed.lines);
  expect(epochs[0]).toBe(stop.epoch + 0.25);
  expect(epochs.at(-1)).toBe(6);
  expect(epochs).toHaveLength(24 - state.global_step);
  // The progress bar jumps to the step the run goes on from.
  const progress = resumed.lines
    .filter((l) => l.fields.subtask === 'Model training: ' && l.fields.total === 24)
    .map((l) => Number(l.fields.current));
  expect(progress.filter((c) => c > 0)[0]).toBe(state.global_step);
  expect(progress.at(-1)).toBe(24);

  const worst = await maxWeightDifference(fullEnd.dir, lastCheckpoint(resumedRoot, resumed.lines).dir);
  process.stdout.write(`SIGTERM at epoch ${stop.epoch}, resumed: max |weight difference| = ${worst}\n`);
  expect(worst).toBeLessThanOrEqual(1e-6);
}, 300_000);

it('data-parallel (2 worker threads): continued from a checkpoint written mid-epoch, the same weights', async () => {
  // Checkpoints every 1.5 epochs: the one at 1.5 is in the middle of the second epoch.
  const config = { ...CONFIG, epochs: 3, val_every: 1.5, compute_workers: 2 };
  const fullRoot = await task(config);
  const full = runLauncher(fullRoot, ENV);
  expect(full.status).toBe(0);
  expect(full.lines.find((l) => l.message === 'Training engine ready.')?.fields.engine).toMatch(
    /data-parallel/,
  );
  const dirs = events(full.lines, 'CHECKPOINT').map((l) =>
    path.join(fullRoot, 'results', String(l.fields.subdir)),
  );
  expect(dirs).toHaveLength(2);

  const resumedRoot = await task({ ...config, weights_init_type: 'continue_training' }, dirs[0]);
  const resumed = runLauncher(resumedRoot, ENV);
  expect(resumed.status).toBe(0);
  expect(trainEpochs(resumed.lines)[0]).toBe(1.75);
  const worst = await maxWeightDifference(dirs[1], lastCheckpoint(resumedRoot, resumed.lines).dir);
  process.stdout.write(`data-parallel, resumed at epoch 1.5: max |weight difference| = ${worst}\n`);
  expect(worst).toBeLessThanOrEqual(1e-6);
}, 300_000);
