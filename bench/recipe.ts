/**
 * `npm run bench:recipe`: training recipes compared on a generated street-like project (src/example/
 * street-project.ts: thin poles and wires, small signs, rare people). Each recipe trains through the agent's entry
 * point (dist/src/train.js) from the same project and seed, its last checkpoint is applied to held-out images
 * through dist/src/inference.js (full_image), and the predictions are scored against the ground truth at the
 * images' own resolution: mean IoU, the rarest class's IoU, per-class IoU, and the training wall time.
 *
 * Recipes run A/B alternating (ROUNDS times each, round r with training seed 7 + r) because these machines drift. The arms: `old` is the defaults
 * before issue #17 (the whole image squeezed to the input, plain cross-entropy, constant lr); `new` is the
 * training config's defaults now (nothing set). RECIPES='{"name": {...config...}}' replaces the arms.
 *
 * Environment: RECIPE_DIR (default /tmp/bench-recipe), TRAIN_IMAGES (120), TEST_IMAGES (24), WIDTH x HEIGHT
 * (320 x 240), EPOCHS (12), ROUNDS (1), INPUT (128). The last line is one JSON object.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { generateStreetProject, STREET_CLASSES } from '../src/example/street-project';
import { runTaskProcess, writeTrainTaskFolder, type AgentLine } from '../src/example/run-task';
import { scoreResults, type Score } from '../src/example/score';

const DIST_SRC = path.resolve(__dirname, '..', 'src');
const SUFFIX = '_net';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? String(fallback));

/** The defaults before issue #17, spelled out so the arm stays the same whatever the defaults become. */
const OLD_RECIPE = {
  class_weights: 'none',
  lr_schedule: { name: 'constant', warmup_steps: 0, min_lr_ratio: 0, power: 0.9 },
  resolution: { mode: 'fit', scale: 1 },
  augment: { flip_horizontal: true, flip_vertical: false, random_scale: [1, 1], color_jitter: 0 },
};

interface ArmResult {
  arm: string;
  round: number;
  trainSeconds: number;
  inferSeconds: number;
  steps: number;
  score: Score;
}

async function main(): Promise<void> {
  const root = path.resolve(process.env.RECIPE_DIR ?? '/tmp/bench-recipe');
  const width = env('WIDTH', 320);
  const height = env('HEIGHT', 240);
  const input = env('INPUT', 128);
  const epochs = env('EPOCHS', 12);
  const rounds = env('ROUNDS', 1);
  const arms: Record<string, Record<string, unknown>> = process.env.RECIPES !== undefined
    ? (JSON.parse(process.env.RECIPES) as Record<string, Record<string, unknown>>)
    : { old: OLD_RECIPE, new: {} };

  await fs.rm(root, { recursive: true, force: true });
  const project = path.join(root, 'projects');
  const train = await generateStreetProject({
    dir: project,
    projectName: 'streets',
    count: env('TRAIN_IMAGES', 120),
    width,
    height,
    seed: 17,
    valShare: 0.2,
  });
  const test = await generateStreetProject({
    dir: project,
    projectName: 'held-out streets',
    count: env('TEST_IMAGES', 24),
    width,
    height,
    seed: 4242,
    valShare: 0,
  });
  const total = Object.values(train.classPixels).reduce((a, b) => a + b, 0);
  const shares = Object.fromEntries(
    Object.entries(train.classPixels).map(([c, n]) => [c, Number((n / total).toFixed(5))]),
  );
  console.log(`training project: ${JSON.stringify(shares)} of the labelled pixels`);

  const results: ArmResult[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const names = Object.keys(arms);
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const arm of order) {
      results.push(await runArm({ root, arm, round, recipe: arms[arm], train, test, input, epochs }));
      const r = results[results.length - 1];
      console.log(
        `${arm} round ${round}: mean IoU ${fmt(r.score.meanIou)}, person ${fmt(r.score.iou.person)}, ` +
          `pole ${fmt(r.score.iou.pole)}, wire ${fmt(r.score.iou.wire)}, sign ${fmt(r.score.iou.sign)} ` +
          `(train ${r.trainSeconds.toFixed(0)} s, ${r.steps} steps)`,
      );
    }
  }
  const summary = Object.fromEntries(
    Object.keys(arms).map((arm) => {
      const mine = results.filter((r) => r.arm === arm);
      const mean = (f: (r: ArmResult) => number | null): number =>
        mine.reduce((a, r) => a + (f(r) ?? 0), 0) / mine.length;
      return [
        arm,
        {
          meanIou: round3(mean((r) => r.score.meanIou)),
          iou: Object.fromEntries(
            ['bg', ...STREET_CLASSES].map((c) => [c, round3(mean((r) => r.score.iou[c]))]),
          ),
          trainSeconds: round3(mean((r) => r.trainSeconds)),
          inferSeconds: round3(mean((r) => r.inferSeconds)),
        },
      ];
    }),
  );
  console.log(
    JSON.stringify({ bench: 'recipe', width, height, input, epochs, rounds, shares, arms: summary }),
  );
}

async function runArm(opts: {
  root: string;
  arm: string;
  round: number;
  recipe: Record<string, unknown>;
  train: { projectDir: string };
  test: { projectDir: string };
  input: number;
  epochs: number;
}): Promise<ArmResult> {
  const dir = path.join(opts.root, `${opts.arm}-${opts.round}`);
  const trainDir = path.join(dir, 'train');
  await fs.mkdir(path.join(trainDir, 'data'), { recursive: true });
  await fs.symlink(opts.train.projectDir, path.join(trainDir, 'data', 'streets'));
  await writeTrainTaskFolder(trainDir, {
    input_size: { width: opts.input, height: opts.input },
    batch_size: { train: 8, val: 8 },
    epochs: opts.epochs,
    val_every: opts.epochs,
    lr: 0.005,
    // Each round another seed (initial weights, order, augmentations): rounds measure the spread, not a repeat.
    seed: 7 + opts.round,
    export_onnx: true,
    special_classes: { background: 'bg' },
    ...opts.recipe,
  });
  const t0 = Date.now();
  const trained = await runTask('train.js', trainDir);
  const trainSeconds = (Date.now() - t0) / 1000;
  const checkpoints = trained.filter((l) => l.event_type === 'EventType.CHECKPOINT');
  const last = checkpoints[checkpoints.length - 1];
  const steps = trained.filter((l) => l.event_type === 'EventType.METRICS' && l.type === 'train').length;

  const inferDir = path.join(dir, 'infer');
  await fs.mkdir(path.join(inferDir, 'data'), { recursive: true });
  await fs.symlink(opts.test.projectDir, path.join(inferDir, 'data', 'held-out streets'));
  await fs.cp(path.join(trainDir, 'results', String(last.subdir)), path.join(inferDir, 'model'), {
    recursive: true,
  });
  await fs.mkdir(path.join(inferDir, 'results'));
  await fs.writeFile(
    path.join(inferDir, 'task_config.json'),
    JSON.stringify({
      model: { gpu_device: 0, batch_size: 8 },
      mode: { name: 'full_image', model_classes: { save_classes: '__all__', add_suffix: SUFFIX } },
    }),
  );
  const t1 = Date.now();
  await runTask('inference.js', inferDir);
  const inferSeconds = (Date.now() - t1) / 1000;
  const score = await scoreResults({
    truthDir: opts.test.projectDir,
    resultsDir: path.join(inferDir, 'results', 'held-out streets'),
    classes: ['bg', ...STREET_CLASSES],
    suffix: SUFFIX,
  });
  return { arm: opts.arm, round: opts.round, trainSeconds, inferSeconds, steps, score };
}

async function runTask(entry: string, taskDir: string): Promise<AgentLine[]> {
  const r = await runTaskProcess({ script: path.join(DIST_SRC, entry), taskDir, stderr: 'collect' });
  if (r.code !== 0) {
    const crash = r.lines.filter((l) => l.level === 'error' || l.level === 'fatal').map((l) => l.message);
    throw new Error(
      `${entry} in ${taskDir} exited with ${r.code}: ${crash.join('; ')} ${r.stderr.slice(-2000)}`,
    );
  }
  return r.lines;
}

function fmt(v: number | null | undefined): string {
  return v === null || v === undefined ? 'n/a' : v.toFixed(3);
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
