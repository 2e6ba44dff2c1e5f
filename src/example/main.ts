/**
 * `npm run example`: the whole plugin on a generated project, the way the agent runs it. It generates a small
 * project of coloured shapes, runs the training task (dist/src/train.js) in a task folder, then runs the
 * inference task (dist/src/inference.js) with the last checkpoint on fresh images, scores the predictions
 * against their ground truth, and prints where the checkpoint and the result project are.
 *
 * Then the click task: it trains a click network (`"network": "clicks"`) through the same entry point on another
 * generated project, runs the NoC protocol on every object of fresh images through `segmentFromClicks`, and
 * writes a mask and an overlay for one click.
 *
 * With `--tracker` (`npm run example -- --tracker`): the mask tracker instead (src/example/tracker.ts): trained
 * through the same entry point on generated clips, then scored on held-out clips beside the two baselines.
 *
 * Environment: EXAMPLE_DIR (default ./example-output), EXAMPLE_EPOCHS (default 10: with 6, some seeds' networks
 * were not done learning), EXAMPLE_SEED (the training config's seed, default 42), EXAMPLE_CLICKS (0 skips the
 * click task), EXAMPLE_CLICK_EPOCHS (default 24).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runTaskProcess, writeTrainTaskFolder, type AgentLine } from './run-task';
import { generateSyntheticProject } from './synthetic-project';
import { scoreResults } from './score';
import { clickExample } from './clicks';
import { trackerExample } from './tracker';

const DIST_SRC = path.resolve(__dirname, '..');
const CLASSES = ['circle', 'square', 'triangle'];
const SUFFIX = '_unet';

async function main(): Promise<void> {
  const root = path.resolve(process.env.EXAMPLE_DIR ?? 'example-output');
  const epochs = Number(process.env.EXAMPLE_EPOCHS ?? '10');
  const seed = Number(process.env.EXAMPLE_SEED ?? '42');
  if (process.argv.includes('--tracker')) {
    const dir = path.join(root, 'tracker');
    await fs.rm(dir, { recursive: true, force: true });
    await trackerExample({ root: dir, seed, runTask });
    return;
  }
  await fs.rm(root, { recursive: true, force: true });
  const started = Date.now();

  // 1. Training task folder: task_config.json, data/<project>, an empty model/ (train from scratch), results/.
  const trainDir = path.join(root, 'train-task');
  console.log(`Generating a training project in ${path.join(trainDir, 'data')} ...`);
  await generateSyntheticProject({
    dir: path.join(trainDir, 'data'),
    projectName: 'shapes',
    datasets: [
      { name: 'ds1', count: 48 },
      { name: 'ds2', count: 16 },
    ],
    width: 96,
    height: 64,
    neutral: true,
    folds: { val: 0.25 },
    seed: 1,
  });
  await writeTrainTaskFolder(trainDir, {
    input_size: { width: 64, height: 64 },
    batch_size: { train: 8, val: 8 },
    epochs,
    val_every: 1,
    lr: 0.01,
    custom_model_config: { depth: 3, base_filters: 16, max_filters: 32 },
    seed,
  });
  console.log(`Training for ${epochs} epochs (node dist/src/train.js, SLY_TASK_DATA=${trainDir}) ...`);
  const trainLines = await runTask('train.js', trainDir);
  const checkpoints = trainLines.filter((l) => l.event_type === 'EventType.CHECKPOINT');
  if (checkpoints.length === 0) throw new Error('training produced no checkpoint');
  const last = checkpoints[checkpoints.length - 1];
  const checkpointDir = path.join(trainDir, 'results', String(last.subdir));

  // 2. Inference task folder: fresh images, the last checkpoint as model/, a full-image config.
  const inferDir = path.join(root, 'inference-task');
  const truth = await generateSyntheticProject({
    dir: path.join(inferDir, 'data'),
    projectName: 'new shapes',
    datasets: [{ name: 'test', count: 16 }],
    width: 96,
    height: 64,
    neutral: true,
    seed: 99,
  });
  await fs.cp(checkpointDir, path.join(inferDir, 'model'), { recursive: true });
  await fs.mkdir(path.join(inferDir, 'results'));
  await writeJson(path.join(inferDir, 'task_config.json'), {
    model: { gpu_device: 0, batch_size: 8 },
    mode: { name: 'full_image', model_classes: { save_classes: '__all__', add_suffix: SUFFIX } },
  });
  console.log(
    `Applying checkpoint ${last.subdir} to ${truth.items.length} new images (node dist/src/inference.js) ...`,
  );
  const inferLines = await runTask('inference.js', inferDir);
  if (!inferLines.some((l) => l.event_type === 'EventType.MODEL_APPLIED')) {
    throw new Error('inference did not report "model applied"');
  }
  const resultsDir = path.join(inferDir, 'results', 'new shapes');
  const score = await scoreResults({
    truthDir: truth.projectDir,
    resultsDir,
    classes: ['bg', ...CLASSES],
    suffix: SUFFIX,
    ignoreClass: 'neutral',
  });

  const fmt = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(3));
  console.log('');
  console.log(`Semantic segmentation (U-Net) done in ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  console.log(`  checkpoint:      ${checkpointDir} (last of ${checkpoints.length})`);
  console.log(`  result project:  ${resultsDir}`);
  console.log(
    `  on the new images: pixel accuracy ${fmt(score.pixelAccuracy)}, mean IoU ${fmt(score.meanIou)} ` +
      `(${Object.entries(score.iou)
        .map(([c, v]) => `${c} ${fmt(v)}`)
        .join(', ')})`,
  );
  const served = [checkpointDir];
  if (process.env.EXAMPLE_CLICKS !== '0') {
    console.log('');
    served.push(await clickExample({ root, seed, runTask }));
  }
  console.log('');
  console.log('Serve them, with a page to click on images and track videos (sly-nn serve, see the README):');
  console.log(
    `  node dist/src/cli/main.js serve ${served.map((d) => `--checkpoint '${d}'`).join(' ')} --port 8000` +
      '   # then open http://localhost:8000/',
  );
}

/** Runs an entry point as the agent does (task folder in SLY_TASK_DATA), echoing a short view of its log. */
async function runTask(entry: string, taskDir: string): Promise<AgentLine[]> {
  const r = await runTaskProcess({
    script: path.join(DIST_SRC, entry),
    taskDir,
    onLine: echo,
    onText: (text) => console.log(`  | ${text}`),
  });
  if (r.code !== 0) throw new Error(`${entry} exited with ${r.code}; its log is above`);
  return r.lines;
}

function echo(line: AgentLine): void {
  const num = (v: unknown): string => (typeof v === 'number' ? v.toFixed(3) : 'n/a');
  if (line.event_type === 'EventType.METRICS' && line.type === 'val') {
    const m = line.metrics as Record<string, number | null>;
    console.log(
      'J&F' in m
        ? `  epoch ${num(line.epoch)}: val J&F ${num(m['J&F'])} (copy ${num(m['copy J&F'])}, colour-nn ${num(m['colour-nn J&F'])})`
        : 'noc85' in m
          ? `  epoch ${num(line.epoch)}: val NoC@85 ${num(m.noc85)}, NoC@90 ${num(m.noc90)}, IoU after 1 click ${num(m.iou_at_1)}`
          : `  epoch ${num(line.epoch)}: val loss ${num(m.loss)}, accuracy ${num(m.accuracy)}, mean IoU ${num(m.mean_iou)}`,
    );
  } else if (line.event_type === 'EventType.CHECKPOINT') {
    console.log(
      `  checkpoint ${String(line.subdir)} written (${String(line.sizeb)} bytes, best: ${String(line.best_now)})`,
    );
  } else if (line.level === 'warn' || line.level === 'error' || line.level === 'fatal') {
    console.log(
      `  ${line.level}: ${line.message}${line.exc_str !== undefined ? ` ${String(line.exc_str)}` : ''}`,
    );
  } else if (line.message === 'TensorFlow.js backend' || line.message === 'Inference engine') {
    console.log(`  ${line.message}: ${String(line.backend ?? line.engine)}`);
  }
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await fs.writeFile(file, JSON.stringify(value, null, 2));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
