/**
 * Sharded inference as a cluster runs it (README, "Sharded inference"): three runs of the inference launcher
 * share one task folder (the shared volume), each told its shard the way its scheduler tells it (SLY_SHARD, a
 * SLURM array that starts at 1, a Kubernetes Indexed Job); the built `sly-nn merge-results` joins the parts,
 * and the merged project is byte for byte what a single run writes. Bad shard settings fail the task with a
 * config error (exit 2) naming the variable, before any image is read. Needs `npm run build`.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { builtFile } from '../contract/built';
import type { AgentLogLine } from '../helpers/agent';
import { events, runLauncher, type LauncherRun } from '../helpers/launcher';
import { writeTrackerCheckpoint } from '../helpers/tiny-checkpoints';
import { makeTask, removeTask, type TaskSetup } from '../training/e2e-helpers';
import { expectSameFiles, smallProject } from './helpers/sharding';
import { tinyUnetCheckpoint } from './helpers/tiny-checkpoint';

const PROJECT = 'shapes';
let modelDir: string;
let single: string;
let sharded: string;
const runs: LauncherRun[] = [];
const tasks: string[] = [];

async function task(modelFrom = modelDir): Promise<string> {
  const setup: TaskSetup = {
    project: { ...smallProject(PROJECT, [4, 3], 9), imageFormat: 'jpeg' },
    config: { model: { gpu_device: 0, batch_size: 2 }, mode: { name: 'full_image' } },
    modelFrom,
  };
  const root = await makeTask(setup);
  tasks.push(root);
  return root;
}

const infer = (root: string, env: NodeJS.ProcessEnv = {}, args: string[] = []): LauncherRun =>
  runLauncher(root, { INFERENCE_ENGINE: 'onnxruntime', ...env }, 120_000, 'inference', args);

function sly(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [builtFile('src/cli/main.ts'), ...args], { encoding: 'utf8' });
}

function succeeded(run: LauncherRun): void {
  if (run.status !== 0) throw new Error(`inference exited ${run.status}\n${run.stdout.slice(-3000)}`);
}

beforeAll(async () => {
  builtFile('src/inference.ts');
  builtFile('src/cli/commands/merge-results.ts');
  modelDir = path.join(await task(), 'tiny-model');
  await tinyUnetCheckpoint({ outDir: modelDir, size: 32, seed: 3 });
  single = await task();
  succeeded(infer(single));
  sharded = await task();
  // Shard 0 by our variable, 1 as the second task of a SLURM array --array=1-3, 2 as index 2 of an Indexed Job.
  runs.push(infer(sharded, { SLY_SHARD: '0/3' }));
  runs.push(
    infer(sharded, { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '3' }),
  );
  runs.push(infer(sharded, { JOB_COMPLETION_INDEX: '2', SLY_SHARD_COUNT: '3' }));
}, 300_000);

afterAll(async () => {
  for (const root of tasks) await removeTask(root);
});

const shardLine = (lines: readonly AgentLogLine[]): AgentLogLine | undefined =>
  lines.find((l) => l.message.startsWith('Sharded inference'));

describe('three shards through the launcher, merged by sly-nn merge-results', () => {
  it('each shard is told its shard by its scheduler, writes its part and says "model applied"', async () => {
    runs.forEach(succeeded);
    expect(runs.map((r) => shardLine(r.lines)?.fields.from)).toEqual([
      'SLY_SHARD=0/3',
      'SLURM_ARRAY_TASK_ID=2, SLURM_ARRAY_TASK_COUNT=3, SLURM_ARRAY_TASK_MIN=1',
      'JOB_COMPLETION_INDEX=2, SLY_SHARD_COUNT=3',
    ]);
    for (const run of runs) expect(events(run.lines, 'MODEL_APPLIED')).toHaveLength(1);
    expect((await fs.readdir(path.join(sharded, 'results'))).sort()).toEqual(
      [0, 1, 2].map((i) => `${PROJECT}.shard-${i}-of-3`),
    );
  });

  it("the merged project is byte for byte the single run's (annotations, meta.json, images)", async () => {
    const out = path.join(sharded, 'merged');
    const r = sly(['merge-results', '--out', out, path.join(sharded, 'results')]);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe(
      `Merged 3 parts of "${PROJECT}": 7 items in 2 datasets, into ${path.join(out, PROJECT)}\n`,
    );
    await expectSameFiles(path.join(out, PROJECT), path.join(single, 'results', PROJECT));
  });

  it('refuses a missing part: exit 3 (the data is incomplete), the error on stderr, nothing written', async () => {
    const out = path.join(sharded, 'partial');
    const parts = [0, 2].map((i) => path.join(sharded, 'results', `${PROJECT}.shard-${i}-of-3`));
    const r = sly(['merge-results', '--out', out, ...parts]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(
      /^sly-nn merge-results: error: shapes: field "shard.index": 1 of 3 parts missing: shard 1 /,
    );
    await expect(fs.access(out)).rejects.toThrow(); // checked before --out is even created
    const usage = sly(['merge-results', path.join(sharded, 'results')]);
    expect([usage.status, usage.stderr]).toEqual([2, expect.stringMatching(/--out DIR is required/)]);
  });
});

describe('bad shard settings: a config error (exit 2) naming the variable, no part written', () => {
  const refused = async (
    env: NodeJS.ProcessEnv,
    args: string[],
    message: RegExp,
    root?: string,
  ): Promise<void> => {
    const dir = root ?? (await task());
    const run = infer(dir, env, args);
    expect(run.status).toBe(2);
    const [crash] = events(run.lines, 'TASK_CRASHED');
    expect(String(crash?.fields.exc_str)).toMatch(message);
    expect(await fs.readdir(path.join(dir, 'results'))).toEqual([]);
  };

  it('an Indexed Job without SLY_SHARD_COUNT; --shard past the count; a stray argument', async () => {
    const root = await task();
    await refused(
      { JOB_COMPLETION_INDEX: '0' },
      [],
      /field "SLY_SHARD_COUNT": .*Kubernetes does not export/,
      root,
    );
    await refused({}, ['--shard', '3/3'], /field "--shard": --shard=3\/3: /, root);
    await refused({}, ['--shards', '1/3'], /field "command line": .*only --shard i\/n/, root);
  });

  it('a tracker checkpoint: video projects are not sharded', async () => {
    const trackerModel = path.join(modelDir, '..', 'tracker-model');
    await writeTrackerCheckpoint(trackerModel);
    await refused(
      { SLY_SHARD: '1/2' },
      [],
      /sharded inference applies to image projects; .*"tracker"/,
      await task(trackerModel),
    );
  });
});
