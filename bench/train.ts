/**
 * `npm run bench:train`: trains the bench U-Net (the U-Net plugin's defaults: depth 4, 16 base filters
 * doubling to at most 128, two 3x3 conv+BN+ReLU per block, 2x2 transposed-conv upsampling, 1x1 head, here 4
 * classes: 1.29 M parameters) on generated tensors, with Adam and softmax cross-entropy, through the training
 * engine the runtime chooses. Env: SIZE (128), BATCH (8), TFJS_BACKEND (best available), TRAIN_ENGINE
 * (auto|onnxruntime|tfjs; auto as the task), ONNX_THREADS (onnxruntime intra-op threads; the cores),
 * ONNX_SPINNING (0: idle onnxruntime threads sleep instead of spinning),
 * WORKERS (tfjs engine: worker threads besides the main thread; by default one per extra core on wasm),
 * STEPS (timed, 5), WARMUP (2), PROFILE=1 (onnxruntime: time per op type over the timed steps),
 * NETWORK_PLUGIN (a plugin module path), CLASS_WEIGHTS (comma-separated, one per class: the class-weighted
 * loss; unweighted by default). The last line is one JSON object.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select';
import { loadNetworkPlugin } from '../src/network/load-plugin';
import { workersForCores } from '../src/training/engine';
import type { ReplicaSpec } from '../src/training/engine/messages';
import { OnnxTrainEngine } from '../src/training/engine/onnx-engine';
import type { Batch, StepTiming } from '../src/training/engine/types';
import { singleInputBatch } from '../src/training/engine/batch';
import { makeEngineFactory, parseTrainEngine } from '../src/training/engine-factory';

const SIZE = Number(process.env.SIZE ?? 128);
const BATCH = Number(process.env.BATCH ?? 8);
const STEPS = Number(process.env.STEPS ?? 5);
const WARMUP = Number(process.env.WARMUP ?? 2);
const CLASSES = 4;
const CLASS_WEIGHTS = process.env.CLASS_WEIGHTS?.split(',').map(Number);

/** Seeded synthetic batch: blobs of one class over another, so the loss has something to fall on. */
function syntheticBatch(n: number, size: number, seed: number): Batch {
  let s = seed >>> 0;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  const x = new Float32Array(n * size * size * 3);
  const y = new Int32Array(n * size * size);
  for (let b = 0; b < n; b++) {
    const cls = 1 + Math.floor(rnd() * (CLASSES - 1));
    const [cy, cx, r] = [rnd() * size, rnd() * size, size * (0.15 + 0.2 * rnd())];
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        const p = (b * size + i) * size + j;
        const inside = (i - cy) ** 2 + (j - cx) ** 2 < r * r;
        y[p] = inside ? cls : 0;
        for (let c = 0; c < 3; c++) x[p * 3 + c] = (inside ? (c === cls - 1 ? 1 : -0.5) : 0) + (rnd() - 0.5);
      }
    }
  }
  return singleInputBatch({ x, y, n, height: size, width: size });
}

function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function main(): Promise<void> {
  const backend = await initBackend();
  const cores = os.availableParallelism();
  const workers =
    process.env.WORKERS !== undefined ? Number(process.env.WORKERS) : workersForCores(cores, backend.name);
  const pluginModule = process.env.NETWORK_PLUGIN ?? require.resolve('../plugin/unet');
  const network = loadNetworkPlugin(pluginModule);
  const replica: ReplicaSpec = {
    pluginModule,
    buildOptions: {
      inputSize: { height: SIZE, width: SIZE },
      numClasses: CLASSES,
      settings: network.parseSettings({}),
    },
  };
  const model = network.build(replica.buildOptions);
  console.log(`backend ${backend.name}${backend.reasons.length ? ` (${backend.reasons.join('; ')})` : ''}`);
  console.log(
    `network ${network.name}: ${model.countParams()} parameters; ${SIZE}x${SIZE}, batch ${BATCH}, ${cores} cores`,
  );
  const profileDir =
    process.env.PROFILE === '1' ? await fs.mkdtemp(path.join(os.tmpdir(), 'ort-prof-')) : null;
  const { engine, reason } = await makeEngineFactory({
    onnxThreads: process.env.ONNX_THREADS !== undefined ? Number(process.env.ONNX_THREADS) : undefined,
    onnxProfilePrefix: profileDir !== null ? path.join(profileDir, 'step') : undefined,
    onnxAllowSpinning:
      process.env.ONNX_SPINNING !== undefined ? process.env.ONNX_SPINNING !== '0' : undefined,
  })({
    model,
    optimizer: tf.train.adam(1e-3),
    learningRate: 1e-3,
    numClasses: CLASSES,
    ignoreIndex: null,
    ...(CLASS_WEIGHTS === undefined ? {} : { classWeights: CLASS_WEIGHTS }),
    engine: parseTrainEngine(process.env.TRAIN_ENGINE) ?? 'auto',
    computeWorkers: workers + 1,
    backend: backend.name,
    batchSize: BATCH,
    replica,
  });
  console.log(`engine: ${engine.description} (${reason})`);
  const batches = [0, 1, 2].map((i) => syntheticBatch(BATCH, SIZE, 17 + i));

  const losses: number[] = [];
  for (let i = 0; i < WARMUP; i++) losses.push((await engine.trainStep(batches[i % batches.length])).loss);
  const tensorsBefore = tf.memory().numTensors;
  const timings: StepTiming[] = [];
  const wall0 = performance.now();
  const cpu0 = cpuMs();
  for (let i = 0; i < STEPS; i++) {
    const t = performance.now();
    const r = await engine.trainStep(batches[(WARMUP + i) % batches.length]);
    losses.push(r.loss);
    if (r.timing) timings.push(r.timing);
    console.log(`step ${i + 1}/${STEPS}: ${round(performance.now() - t)} ms, loss ${r.loss.toFixed(4)}`);
  }
  const msPerStep = (performance.now() - wall0) / STEPS;
  const cpuPerStep = (cpuMs() - cpu0) / STEPS;
  const leak = (tf.memory().numTensors - tensorsBefore) / STEPS;
  const mean = (k: keyof StepTiming) =>
    round(timings.reduce((a, t) => a + t[k], 0) / Math.max(1, timings.length));
  let opProfile: { op: string; msPerStep: number; share: number }[] | undefined;
  if (profileDir !== null && engine instanceof OnnxTrainEngine) {
    await engine.endProfiling();
    opProfile = await opTimes(profileDir, WARMUP + STEPS);
    printProfile(opProfile);
  }
  await engine.dispose();
  model.dispose();
  const result = {
    bench: 'train',
    backend: backend.name,
    engine: engine.description,
    size: SIZE,
    batch: BATCH,
    workers: engine instanceof OnnxTrainEngine ? 0 : workers,
    steps: STEPS,
    imgPerSec: round((BATCH * 1000) / msPerStep, 2),
    msPerStep: round(msPerStep),
    cpuMsPerStep: round(cpuPerStep),
    mainThread: { computeMs: mean('computeMs'), waitMs: mean('waitMs'), combineMs: mean('combineMs') },
    peakRssMB: round(process.resourceUsage().maxRSS / 1024),
    tensorsPerStepLeak: leak,
    firstLoss: round(losses[0], 4),
    lastLoss: round(losses[losses.length - 1], 4),
    loadAverage1m: round(os.loadavg()[0], 2),
    ...(opProfile !== undefined ? { ops: opProfile.slice(0, 12) } : {}),
  };
  console.log(JSON.stringify(result));
}

/**
 * onnxruntime's trace (Chrome format): one `<node>_kernel_time` event per op run, with its type in
 * `args.op_name` and its duration in microseconds. Summed by op type, per step (warm-up steps included).
 */
async function opTimes(
  dir: string,
  steps: number,
): Promise<{ op: string; msPerStep: number; share: number }[]> {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.json'));
  const byOp = new Map<string, number>();
  for (const f of files) {
    const events = JSON.parse(await fs.readFile(path.join(dir, f), 'utf8')) as {
      name?: string;
      dur?: number;
      args?: { op_name?: string };
    }[];
    for (const e of events) {
      if (!e.name?.endsWith('_kernel_time') || e.args?.op_name === undefined) continue;
      byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + (e.dur ?? 0) / 1000);
    }
  }
  await fs.rm(dir, { recursive: true, force: true });
  const total = [...byOp.values()].reduce((a, b) => a + b, 0);
  return [...byOp.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([op, ms]) => ({ op, msPerStep: round(ms / steps), share: round(ms / total, 3) }));
}

function printProfile(rows: { op: string; msPerStep: number; share: number }[]): void {
  console.log('\nonnxruntime time per op type (ms per step: wall time of each op, its threads together):');
  for (const r of rows)
    console.log(
      `  ${String(r.msPerStep).padStart(8)} ms  ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.op}`,
    );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
