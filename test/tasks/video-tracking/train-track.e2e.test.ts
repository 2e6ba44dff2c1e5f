/**
 * @jest-environment ./test/onnx/ort-environment.js
 *
 * The tracker end to end, as users meet it: trained by the real launcher (`python3 -u src/train.py` with
 * `"network": "tracker"`) on generated clips and pseudo-clips of a small image project, its stdout read as the
 * agent reads it (progress, train and val metrics with the baselines beside J&F, checkpoints announced once
 * complete); the checkpoint then tracks generated clips through the built CLI (`sly-nn track --checkpoint`) on
 * onnxruntime, scored by `sly-nn eval-davis`. Needs the build (`npm test` builds).
 */
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateSyntheticClips } from '../../../src/tasks/video-tracking/generated-clips';
import { builtFile } from '../../contract/built';
import { events, runLauncher, type LauncherRun } from '../../helpers/launcher';
import { makeTask, removeTask, TINY_TRACKER_CONFIG, TRACKER_PROJECT } from '../../training/e2e-helpers';

const CONFIG = TINY_TRACKER_CONFIG;
const PROJECT = TRACKER_PROJECT;

let root: string;
let run: LauncherRun;

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [builtFile('src/cli/main.ts'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, TFJS_BACKEND: 'wasm' },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  root = await makeTask({ project: PROJECT, config: CONFIG });
  run = runLauncher(root);
}, 300_000);

afterAll(() => removeTask(root));

describe('a tracker trained through train.py', () => {
  it('exits 0 with progress, train metrics, val J&F beside both baselines, and a checkpoint per validation', async () => {
    if (run.status !== 0) throw new Error(`exit ${run.status}\n${run.stdout.slice(-3000)}\n${run.stderr}`);
    expect(events(run.lines, 'TASK_CRASHED')).toEqual([]);
    const progress = events(run.lines, 'PROGRESS').filter((l) => l.fields.subtask === 'Model training: ');
    expect(progress.at(-1)?.fields).toMatchObject({ current: 6, total: 6 });
    const metrics = events(run.lines, 'METRICS');
    const train = metrics.filter((l) => l.fields.type === 'train');
    const val = metrics.filter((l) => l.fields.type === 'val');
    expect(train.length).toBeGreaterThan(0);
    expect(val).toHaveLength(2);
    for (const line of val) {
      const m = line.fields.metrics as Record<string, number>;
      expect(Object.keys(m).sort()).toEqual(['F', 'J', 'J&F', 'colour-nn J&F', 'copy J&F'].sort());
      for (const v of Object.values(m)) expect(v).toBeGreaterThanOrEqual(0);
      expect(m['J&F']).toBeCloseTo((m.J + m.F) / 2, 6);
    }
    // Precise BN before each validation: the config's batches, on every batch-norm layer of the tracker.
    const preciseBn = run.lines.filter((l) => l.message.startsWith('Precise batch norm'));
    expect(preciseBn.map((l) => [l.fields.step, l.fields.batches])).toEqual([
      [3, CONFIG.tracking.precise_bn_batches],
      [6, CONFIG.tracking.precise_bn_batches],
    ]);
    for (const l of preciseBn) expect(l.fields.layers).toBeGreaterThan(0);
    const ckpts = events(run.lines, 'CHECKPOINT');
    expect(ckpts.map((c) => c.fields.subdir)).toEqual(['00000000', '00000001']);
    for (const c of ckpts) {
      const dir = path.join(root, 'results', String(c.fields.subdir));
      const files = await fsp.readdir(dir);
      expect(files.sort()).toEqual([
        'config.json',
        'decoder',
        'decoder.onnx',
        'encoder',
        'encoder.onnx',
        'training_state.json',
      ]);
      const config = JSON.parse(await fsp.readFile(path.join(dir, 'config.json'), 'utf8'));
      expect(config).toMatchObject({ network: 'tracker', task: 'video_tracking', out_classes: [] });
      expect(config.tracker.steps).toBeGreaterThan(0);
    }
    // Nothing temporary left in results/.
    expect((await fsp.readdir(path.join(root, 'results'))).sort()).toEqual(['00000000', '00000001']);
  });

  it('the checkpoint tracks a DAVIS-layout folder through sly-nn track and is scored by eval-davis', async () => {
    const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'tracker-cli-'));
    try {
      const davis = path.join(work, 'davis');
      await generateSyntheticClips({ dir: davis, clips: 2, frames: 5, width: 64, height: 48, seed: 8 });
      const ckpt = path.join(root, 'results', '00000001');
      const out = path.join(work, 'out');
      const t = cli(['track', '--davis', davis, '--out', out, '--checkpoint', ckpt]);
      expect(t.stderr).toBe('');
      expect(t.status).toBe(0);
      expect((await fsp.readdir(path.join(out, 'clip000'))).sort()).toEqual([
        '00000.png',
        '00001.png',
        '00002.png',
        '00003.png',
        '00004.png',
      ]);
      const e = cli(['eval-davis', out, davis]);
      expect(e.status).toBe(0);
      const last = JSON.parse(e.stdout.trim().split('\n').at(-1) as string);
      expect(last['J&F-Mean']).toBeGreaterThanOrEqual(0);
      expect(last.sequences).toBe(2);
      // Adapted to each sequence's first frame first: the steps are announced, every frame is written.
      const adapted = path.join(work, 'adapted');
      const a = cli([
        'track',
        '--davis',
        davis,
        '--out',
        adapted,
        '--checkpoint',
        ckpt,
        '--adapt-steps',
        '2',
      ]);
      expect(a.status).toBe(0);
      expect(a.stderr.match(/adapting to the first frame: step 2\/2/g)).toHaveLength(2);
      expect(await fsp.readdir(path.join(adapted, 'clip001'))).toHaveLength(5);
      const bad = cli(['track', '--davis', davis, '--out', path.join(work, 'bad'), '--checkpoint', work]);
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toMatch(/config\.json/);
      await expect(fsp.stat(path.join(work, 'bad', 'clip000'))).rejects.toThrow();
    } finally {
      await fsp.rm(work, { recursive: true, force: true });
    }
  });
});
