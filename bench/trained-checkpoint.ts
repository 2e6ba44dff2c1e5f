/**
 * A briefly trained bench U-Net for bench:infer. A network with random weights scores every class about
 * equally, so its class map is speckle: nearly every pixel lies on a class border, which makes labels and
 * bitmaps 2-4x dearer than a real network's. A few epochs of the training task on a generated project of the
 * same kind of images give a network whose masks look like real predictions (large regions, smooth borders).
 *
 * The checkpoint is made by the plugin's own training task (dist/src/train.js in a task folder, as the agent
 * runs it) and cached under BENCH_CACHE (default <os tmp>/sly-bench-infer), keyed by everything that shapes it
 * (the exporter's version too, as the checkpoint carries the model.onnx training wrote),
 * so only the first run pays for the training (about 100 s on 2 cores).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTaskProcess, type AgentLine } from '../src/example/run-task';
import { generateSyntheticProject } from '../src/example/synthetic-project';
import { EXPORTER_VERSION } from '../src/onnx/export';

export interface TrainedCheckpointOptions {
  readonly size: number;
  readonly width: number;
  readonly height: number;
  readonly epochs: number;
}

export interface TrainedCheckpoint {
  /** The checkpoint folder (config.json, model.json, weights.bin, ...). */
  readonly dir: string;
  /** Validation metrics of the last epoch, as the training task reported them. */
  readonly valMetrics: Readonly<Record<string, number | null>>;
  readonly cached: boolean;
  readonly trainSeconds: number;
}

const MARKER = 'bench-checkpoint.json';

export async function trainedCheckpoint(opts: TrainedCheckpointOptions): Promise<TrainedCheckpoint> {
  const taskConfig = {
    input_size: { width: opts.size, height: opts.size },
    batch_size: { train: 8, val: 8 },
    epochs: opts.epochs,
    val_every: 1,
    lr: 0.01,
    custom_model_config: { depth: 4, base_filters: 16, max_filters: 128 },
  };
  const project = { count: 64, width: opts.width, height: opts.height, seed: 7 };
  const key = createHash('sha256')
    .update(JSON.stringify({ taskConfig, project, version: 3, exporter: EXPORTER_VERSION }))
    .digest('hex')
    .slice(0, 16);
  const cacheRoot = process.env.BENCH_CACHE ?? path.join(os.tmpdir(), 'sly-bench-infer');
  const dir = path.join(cacheRoot, key);
  try {
    const marker = JSON.parse(await fs.readFile(path.join(dir, MARKER), 'utf8')) as {
      valMetrics: Record<string, number | null>;
      trainSeconds: number;
    };
    return { dir: path.join(dir, 'checkpoint'), ...marker, cached: true };
  } catch {
    // not cached yet (or incomplete): train below
  }
  await fs.rm(dir, { recursive: true, force: true });
  const taskDir = path.join(dir, 'train-task');
  await generateSyntheticProject({
    dir: path.join(taskDir, 'data'),
    projectName: 'bench_train',
    datasets: [{ name: 'ds1', count: project.count }],
    width: project.width,
    height: project.height,
    imageFormat: 'jpeg',
    folds: { val: 0.25 },
    seed: project.seed,
  });
  await fs.mkdir(path.join(taskDir, 'model'));
  await fs.mkdir(path.join(taskDir, 'results'));
  await fs.writeFile(path.join(taskDir, 'task_config.json'), JSON.stringify(taskConfig));
  console.log(`training the bench U-Net for ${opts.epochs} epochs (cached in ${dir}) ...`);
  const started = performance.now();
  const lines = await runTrainTask(taskDir);
  const trainSeconds = Number(((performance.now() - started) / 1000).toFixed(1));
  const checkpoints = lines.filter((l) => l.event_type === 'EventType.CHECKPOINT');
  const val = lines.filter((l) => l.event_type === 'EventType.METRICS' && l.type === 'val');
  if (checkpoints.length === 0) throw new Error('the training task wrote no checkpoint');
  const last = String(checkpoints[checkpoints.length - 1].subdir);
  await fs.rename(path.join(taskDir, 'results', last), path.join(dir, 'checkpoint'));
  await fs.rm(taskDir, { recursive: true, force: true });
  const valMetrics = (val[val.length - 1]?.metrics ?? {}) as Record<string, number | null>;
  await fs.writeFile(path.join(dir, MARKER), JSON.stringify({ valMetrics, trainSeconds }));
  return { dir: path.join(dir, 'checkpoint'), valMetrics, cached: false, trainSeconds };
}

/** dist/src/train.js in `taskDir`, as the agent runs it; resolves with its JSON log lines. */
async function runTrainTask(taskDir: string): Promise<AgentLine[]> {
  const r = await runTaskProcess({ script: path.join(__dirname, '..', 'src', 'train.js'), taskDir });
  if (r.code !== 0) {
    const last = r.lines.filter((l) => l.level === 'error' || l.level === 'fatal').pop();
    throw new Error(`the training task exited with ${r.code}: ${JSON.stringify(last ?? {})}`);
  }
  return r.lines;
}
