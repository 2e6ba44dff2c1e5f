/**
 * The cluster recipes in deploy/ (README, "Sharded inference"), run as their schedulers would run them, with the
 * image played by this checkout (`runInImage`): every pod of the Kubernetes Indexed Job with the environment the
 * manifest and Kubernetes give it, then the merge Job; every task of the SLURM array script, through a stand-in
 * `apptainer` that records what the script asks it to run, then the merge script. Both merged projects must be,
 * byte for byte, what one run over the whole project writes. Needs `npm run build`.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { builtFile, REPO_ROOT } from '../contract/built';
import { runLauncher } from '../helpers/launcher';
import { expectSameFiles, smallProject } from '../inference/helpers/sharding';
import { tinyUnetCheckpoint } from '../inference/helpers/tiny-checkpoint';
import { makeTask, removeTask } from '../training/e2e-helpers';

const yaml = jest.requireActual<{ loadAll(text: string): unknown[] }>('js-yaml');

const PROJECT = 'deployed';
/** Where the image expects the task folder (the agent's mount, spec A.1; SLY_TASK_DATA's default). */
const TASK_MOUNT = '/sly_task_data';

interface Container {
  image: string;
  command: string[];
  env?: { name: string; value: string }[];
  volumeMounts: { name: string; mountPath: string }[];
}

interface Job {
  kind: string;
  metadata: { name: string };
  spec: {
    completionMode?: string;
    completions?: number;
    template: {
      spec: {
        restartPolicy: string;
        containers: Container[];
        volumes: { name: string; persistentVolumeClaim: { claimName: string } }[];
      };
    };
  };
}

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * What the image does with `command` (Dockerfile: the launchers in /workdir/src, sly-nn on the PATH), done by this
 * checkout, with the task folder `host` mounted at `mountPath`.
 */
function runInImage(
  command: readonly string[],
  env: NodeJS.ProcessEnv,
  host: string,
  mountPath: string,
): Ran {
  const onHost = (arg: string): string =>
    arg === mountPath || arg.startsWith(`${mountPath}/`) ? host + arg.slice(mountPath.length) : arg;
  const [program, ...args] = command;
  if (program === 'python' && args[0] === '-u' && args[1] === '/workdir/src/inference.py') {
    expect(mountPath).toBe(TASK_MOUNT);
    return runLauncher(
      host,
      { INFERENCE_ENGINE: 'onnxruntime', ...env },
      120_000,
      'inference',
      args.slice(2),
    );
  }
  if (program === 'sly-nn') {
    return spawnSync(process.execPath, [builtFile('src/cli/main.ts'), ...args.map(onHost)], {
      encoding: 'utf8',
    });
  }
  throw new Error(`the image runs no "${command.join(' ')}"`);
}

function succeeded(what: string, run: Ran): void {
  if (run.status !== 0)
    throw new Error(`${what} exited ${run.status}\n${run.stdout.slice(-2000)}${run.stderr}`);
}

let modelDir: string;
let single: string;
const tasks: string[] = [];

async function task(): Promise<string> {
  const root = await makeTask({
    project: smallProject(PROJECT, [2, 4], 21),
    config: { model: { gpu_device: 0, batch_size: 2 }, mode: { name: 'full_image' } },
    ...(modelDir !== undefined ? { modelFrom: modelDir } : {}),
  });
  tasks.push(root);
  return root;
}

/** The merged project is the single run's, file for file and byte for byte. */
function expectSameAsSingleRun(root: string): Promise<void> {
  return expectSameFiles(path.join(root, 'results', PROJECT), path.join(single, 'results', PROJECT));
}

beforeAll(async () => {
  builtFile('src/inference.ts');
  modelDir = path.join(await task(), 'tiny-model');
  await tinyUnetCheckpoint({ outDir: modelDir, size: 32, seed: 5 });
  single = await task();
  succeeded(
    'the single run',
    runInImage(['python', '-u', '/workdir/src/inference.py'], {}, single, TASK_MOUNT),
  );
}, 120_000);

afterAll(async () => {
  for (const root of tasks) await removeTask(root);
});

describe('deploy/kubernetes: an Indexed Job, then the merge Job', () => {
  const read = async (file: string): Promise<Job> => {
    const docs = yaml.loadAll(await fs.readFile(path.join(REPO_ROOT, 'deploy', 'kubernetes', file), 'utf8'));
    expect(docs).toHaveLength(1);
    return docs[0] as Job;
  };

  it('each pod writes its shard, told by JOB_COMPLETION_INDEX and SLY_SHARD_COUNT; the merge Job joins them', async () => {
    const job = await read('inference-shards.yaml');
    const merge = await read('merge-results.yaml');
    expect([job.kind, job.spec.completionMode, job.spec.template.spec.restartPolicy]).toEqual([
      'Job',
      'Indexed',
      'Never',
    ]);
    const count = job.spec.completions!;
    const [pod] = job.spec.template.spec.containers;
    const [mergePod] = merge.spec.template.spec.containers;
    const env = Object.fromEntries((pod.env ?? []).map((e) => [e.name, e.value]));
    // The count Kubernetes does not export, stated again, must be the Job's.
    expect(env.SLY_SHARD_COUNT).toBe(String(count));
    // One image, one claim, mounted where the image reads the task folder.
    expect(mergePod.image).toBe(pod.image);
    const claim = (j: Job): string[] =>
      j.spec.template.spec.volumes.map((v) => v.persistentVolumeClaim.claimName);
    expect(claim(merge)).toEqual(claim(job));
    for (const c of [pod, mergePod]) expect(c.volumeMounts.map((m) => m.mountPath)).toEqual([TASK_MOUNT]);

    const root = await task();
    for (let k = 0; k < count; k++) {
      succeeded(
        `pod ${k}`,
        runInImage(pod.command, { ...env, JOB_COMPLETION_INDEX: String(k) }, root, TASK_MOUNT),
      );
    }
    succeeded('the merge Job', runInImage(mergePod.command, {}, root, TASK_MOUNT));
    await expectSameAsSingleRun(root);
  });
});

describe('deploy/slurm: a job array, then the merge job', () => {
  const script = (name: string): string => path.join(REPO_ROOT, 'deploy', 'slurm', name);
  let stubDir: string;

  beforeAll(async () => {
    // A stand-in for apptainer: records its arguments and the SLURM variables it sees, runs nothing.
    stubDir = path.join(single, 'stub-bin');
    await fs.mkdir(stubDir);
    await fs.writeFile(
      path.join(stubDir, 'apptainer'),
      '#!/usr/bin/env node\n' +
        "const slurm = Object.entries(process.env).filter(([k]) => k.startsWith('SLURM_'));\n" +
        'require("fs").writeFileSync(process.env.STUB_RECORD, ' +
        'JSON.stringify({ args: process.argv.slice(2), env: Object.fromEntries(slurm) }));\n',
      { mode: 0o755 },
    );
  });

  /** `sbatch` as far as the script goes: bash runs it with SLURM's variables; what it asks apptainer to run. */
  async function sbatch(
    name: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ): Promise<Ran & { exec?: string[] }> {
    const record = path.join(stubDir, 'record.json');
    await fs.rm(record, { force: true });
    const r = spawnSync('bash', [script(name), ...args], {
      env: {
        PATH: `${stubDir}:${process.env.PATH}`,
        STUB_RECORD: record,
        SLY_NN_IMAGE: 'sly-nn.sif',
        ...env,
      },
      encoding: 'utf8',
    });
    const recorded = await fs.readFile(record, 'utf8').catch(() => undefined);
    if (recorded === undefined) return r;
    const { args: execArgs, env: seen } = JSON.parse(recorded) as {
      args: string[];
      env: Record<string, string>;
    };
    expect(seen).toEqual(Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('SLURM_'))));
    return { ...r, exec: execArgs };
  }

  /** `apptainer exec --bind HOST:MOUNT IMAGE COMMAND...` run as the image would run it. */
  function apptainerExec(exec: readonly string[], env: NodeJS.ProcessEnv): Ran {
    const [verb, bindFlag, bind, image, ...command] = exec;
    expect([verb, bindFlag, image]).toEqual(['exec', '--bind', 'sly-nn.sif']);
    const [host, mountPath] = bind.split(':');
    return runInImage(command, env, host, mountPath);
  }

  it('each array task writes its shard, told by SLURM_ARRAY_TASK_ID from 1; the merge job joins them', async () => {
    const text = await fs.readFile(script('inference-shards.sbatch'), 'utf8');
    const [, first, last] = /^#SBATCH --array=(\d+)-(\d+)$/m.exec(text) ?? [];
    const ids = Array.from({ length: Number(last) - Number(first) + 1 }, (_, k) => Number(first) + k);
    expect(ids.length).toBeGreaterThan(1);
    const root = await task();
    for (const id of ids) {
      const env = {
        SLURM_ARRAY_JOB_ID: '4242',
        SLURM_ARRAY_TASK_ID: String(id),
        SLURM_ARRAY_TASK_MIN: first,
        SLURM_ARRAY_TASK_MAX: last,
        SLURM_ARRAY_TASK_STEP: '1',
        SLURM_ARRAY_TASK_COUNT: String(ids.length),
      };
      const r = await sbatch('inference-shards.sbatch', [root], env);
      succeeded(`array task ${id}`, r);
      succeeded(`array task ${id} in the image`, apptainerExec(r.exec!, env));
    }
    const merge = await sbatch('merge-results.sbatch', [root], { SLURM_JOB_ID: '4243' });
    succeeded('the merge job', merge);
    succeeded('the merge job in the image', apptainerExec(merge.exec!, {}));
    await expectSameAsSingleRun(root);
  });

  it('without the task folder, each script stops with its usage and runs nothing', async () => {
    for (const name of ['inference-shards.sbatch', 'merge-results.sbatch']) {
      const r = await sbatch(name, [], {});
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`usage: sbatch ${name} TASK_DIR`);
      expect(r.exec).toBeUndefined();
    }
  });
});
