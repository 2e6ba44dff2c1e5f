/**
 * A stop as the agent or Docker sends it: SIGTERM to the launcher (which execs node, so node gets it). Training
 * finishes the step in progress, writes a checkpoint of its weights, announces it, and exits with 143
 * ("interrupted"); inference stops between images, leaves nothing in results/ (not even a hidden temporary
 * folder) and exits 143. Both end with the crash line. Output read as the agent reads it.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { events, runAndStop } from '../helpers/launcher';
import { makeTask, removeTask, TINY_TRACKER_CONFIG, TINY_TRAIN_CONFIG } from '../training/e2e-helpers';

const PROJECT = {
  projectName: 'shapes',
  datasets: [{ name: 'ds1', count: 40 }],
  width: 64,
  height: 64,
  folds: { val: 0.25 },
  seed: 5,
};

let root: string | undefined;
afterEach(() => removeTask(root));

describe('SIGTERM', () => {
  it('during training: the step finishes, a checkpoint is written and announced, exit 143 with the crash line', async () => {
    // Validation only at the end: the checkpoint can only be the one the stop writes.
    root = await makeTask({
      project: PROJECT,
      config: { ...TINY_TRAIN_CONFIG, epochs: 200, val_every: 200 },
    });
    const run = await runAndStop(root, 'train', (l) => l.includes('"metrics"') && l.includes('"train"'));
    expect(run.status).toBe(143);
    // The preflight ran, and says nothing of the background class (what no label covers) as absent.
    const preflight = run.lines.find((l) => l.message === 'Preflight');
    expect(preflight?.fields.report).toMatchObject({ folds: { train: { images: 30 }, val: { images: 10 } } });
    expect(run.lines.filter((l) => l.message.startsWith('Preflight: no')).map((l) => l.message)).toEqual([]);
    const checkpoints = events(run.lines, 'CHECKPOINT');
    expect(checkpoints).toHaveLength(1);
    const cp = checkpoints[0].fields;
    expect(cp).toMatchObject({ best_now: true, optional: { interrupted: 'SIGTERM' } });
    const dir = path.join(root, 'results', String(cp.subdir));
    for (const f of ['config.json', 'model.json', 'weights.bin'])
      await expect(fsp.stat(path.join(dir, f))).resolves.toBeDefined();
    // The reproducibility manifest travels with every checkpoint.
    const manifest = JSON.parse(await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ network: 'unet', data: { items: 40 }, config: { epochs: 200 } });
    expect(manifest.data.sha256).toMatch(/^[0-9a-f]{64}$/);
    // Nothing half-written beside it.
    expect((await fsp.readdir(path.join(root, 'results'))).filter((n) => n.startsWith('.'))).toEqual([]);
    const crash = events(run.lines, 'TASK_CRASHED');
    expect(crash).toHaveLength(1);
    expect(String(crash[0].fields.exc_str)).toMatch(/stopped by SIGTERM/);
    expect(run.lines[run.lines.length - 1]).toBe(crash[0]);
    expect(run.stopMs).toBeLessThan(8000);
  });

  it('during tracker training: the models are saved and announced, exit 143; continue_training goes on', async () => {
    const trackerConfig = {
      ...TINY_TRACKER_CONFIG,
      input_size: { width: 64, height: 64 },
      epochs: 50,
      val_every: 50,
      // Generated clips only: they come without I/O, so the signal is heard only if the loop gives it a turn.
      tracking: {
        steps_per_epoch: 20,
        val_clips: 1,
        val_frames: 3,
        sources: { generated: 1, project: 0, video: 0 },
      },
    };
    root = await makeTask({
      project: PROJECT,
      config: trackerConfig,
    });
    const run = await runAndStop(root, 'train', (l) => l.includes('"metrics"') && l.includes('"train"'));
    expect(run.status).toBe(143);
    expect(run.stopMs).toBeLessThan(8000);
    const checkpoints = events(run.lines, 'CHECKPOINT');
    expect(checkpoints).toHaveLength(1);
    expect(checkpoints[0].fields).toMatchObject({ best_now: true, optional: { interrupted: 'SIGTERM' } });
    const dir = path.join(root, 'results', String(checkpoints[0].fields.subdir));
    for (const f of ['config.json', 'encoder.onnx', 'decoder.onnx']) {
      await expect(fsp.stat(path.join(dir, f))).resolves.toBeDefined();
    }
    const config = JSON.parse(await fsp.readFile(path.join(dir, 'config.json'), 'utf8'));
    expect(config.tracker.steps).toBeGreaterThan(0);
    expect(String(events(run.lines, 'TASK_CRASHED')[0].fields.exc_str)).toMatch(
      /stopped by SIGTERM: training stopped at step/,
    );
    // The stop's checkpoint carries where the run was: continue_training goes on from that step (the weights
    // that gives are those of a run that never stopped: test/tasks/video-tracking/tracker-resume.e2e.test.ts).
    const state = JSON.parse(await fsp.readFile(path.join(dir, 'training_state.json'), 'utf8'));
    expect(state).toMatchObject({ global_step: config.tracker.steps, total_steps: 1000 });
    expect(state.optimizer.iterations).toBe(config.tracker.steps);
    const { runLauncher } = await import('../helpers/launcher');
    const resumeRoot = await makeTask({
      project: PROJECT,
      // 40 steps in all, with one validation at the end: those left after the stop (at about step 10).
      config: { ...trackerConfig, epochs: 2, val_every: 2, weights_init_type: 'continue_training' },
      modelFrom: dir,
    });
    try {
      const resumed = runLauncher(resumeRoot);
      expect(resumed.status).toBe(0);
      expect(
        resumed.lines.find((l) => l.message.startsWith('Resuming training exactly'))?.fields,
      ).toMatchObject({ global_step: config.tracker.steps, optimizer_iterations: config.tracker.steps });
      expect(events(resumed.lines, 'CHECKPOINT').at(-1)?.fields.optional).toMatchObject({ epoch: 2 });
    } finally {
      await removeTask(resumeRoot);
    }
  }, 240_000);

  it('during inference: no results project and no temporary folder left, exit 143 with the crash line', async () => {
    root = await makeTask({ project: PROJECT, config: { ...TINY_TRAIN_CONFIG, epochs: 1 } });
    const { runLauncher } = await import('../helpers/launcher');
    const trained = runLauncher(root);
    expect(trained.status).toBe(0);
    const subdir = String(events(trained.lines, 'CHECKPOINT').at(-1)?.fields.subdir);
    const inferRoot = await makeTask({
      project: { ...PROJECT, datasets: [{ name: 'ds1', count: 60 }], width: 320, height: 240 },
      config: {
        model: { batch_size: 2 },
        mode: {
          name: 'sliding_window',
          window: { width: 32, height: 32 },
          model_classes: { add_suffix: '_nn' },
        },
      },
      modelFrom: path.join(root, 'results', subdir),
    });
    try {
      const run = await runAndStop(
        inferRoot,
        'inference',
        (l) => l.includes('Model applying') && l.includes('"current"'),
      );
      expect(run.status).toBe(143);
      expect(events(run.lines, 'MODEL_APPLIED')).toEqual([]);
      expect(await fsp.readdir(path.join(inferRoot, 'results'))).toEqual([]);
      const crash = events(run.lines, 'TASK_CRASHED');
      expect(crash).toHaveLength(1);
      expect(String(crash[0].fields.exc_str)).toMatch(/stopped by SIGTERM.*no results project/);
    } finally {
      await removeTask(inferRoot);
    }
  }, 240_000);
});
