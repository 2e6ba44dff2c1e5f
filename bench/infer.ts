/**
 * `npm run bench:infer`: inference speed of the bench U-Net (depth 4, 16 base filters doubling to at most 128,
 * 4 classes, random weights from src/model-state/init-weights.ts).
 * 1. Network only: batches of random normalised inputs through `engine.run` after a warm-up, for each engine
 *    that starts (onnx, tfjs).
 * 2. Stages: one sample image at a time, each step of the pipeline timed alone (decode, crop/resize,
 *    normalise, score resize, argmax, labels, annotation JSON, write, link), so the profile says where the time
 *    outside the network goes.
 * 3. End to end: a generated project of N JPEG images through `runInference` in-process (full_image mode).
 * Env: SIZE (128), BATCH (8), N (200), WIDTH/HEIGHT (640x480), TFJS_BACKEND, INFERENCE_ENGINE (default: what
 * the task chooses), THREADS (onnxruntime intra-op threads; default as the task: cores - 1 with the network in
 * its own thread), NETWORK_THREAD (0: network on the main thread), IN_FLIGHT (images in flight; default as the
 * task), NET_IMAGES (images timed per engine, 160), SAMPLES (images in the stage profile, 8),
 * SAVE_PROBABILITIES (0). Stage times are given as wall and as process CPU (all threads, so background GC
 * lands in whichever stage is awaiting); figures on a shared machine are noisy: compare CPU, and A/B back to back.
 * The synthetic images are noisy JPEGs (q95, 4:4:4, about 240 KB), slower to decode than photos; the random
 * network's class map is speckle, the worst case for labels and bitmaps: the `gtLike.` stages time the same
 * steps on ground-truth-like scores.
 * The last line is one JSON object.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { initBackend } from '../src/backend/select';
import { generateSyntheticProject } from '../src/example/synthetic-project';
import { serializeAnnotation } from '../src/format/annotation';
import type { Annotation, ImageSize } from '../src/format/model';
import { rasteriseAnnotation } from '../src/format/rasterise';
import { projectItems, readItemAnnotation, readSingleProject } from '../src/format/project-reader';
import { linkOrCopy, writeFileAtomic } from '../src/format/project-writer';
import { cropResizeRgb } from '../src/image/crop-resize';
import { decodeImage } from '../src/image/decode';
import { normaliseRgbInto } from '../src/image/normalise';
import { annotateImage } from '../src/inference/annotate-image';
import {
  loadCheckpointModel,
  readInferenceCheckpoint,
  type InferenceCheckpoint,
} from '../src/inference/checkpoint';
import {
  chooseEngine,
  parseEngineChoice,
  type EngineName,
  type SegmentationEngine,
} from '../src/inference/engine';
import { buildOutputMeta } from '../src/inference/output-meta';
import { outClassMapping } from '../src/inference/predictions';
import { defaultIntraOpThreads } from '../src/inference/network-runner';
import { imagesInFlight, runInference } from '../src/inference/run';
import { argmaxOfResized, resizeScores } from '../src/inference/score-resize';
import { argmaxMask, scoreMap, type ScoreMap } from '../src/inference/stitch';
import { initWeights } from '../src/model-state/init-weights';
import { loadNetworkPlugin } from '../src/network/load-plugin';
import { createLogger, memorySink } from '../src/protocol';
import { resolveInferenceConfig } from '../src/task/inference-config';
import { taskPathsAt } from '../src/task/paths';
import { PLUGIN_TASK_DEFAULTS } from '../src/task/plugin-defaults';

const MB = 1024 * 1024;

interface BenchEnv {
  size: number;
  batch: number;
  n: number;
  width: number;
  height: number;
  threads: number;
  netImages: number;
  samples: number;
  saveProbabilities: boolean;
  forced: EngineName | undefined;
  networkThread: 'auto' | 'never';
  inFlight: number | undefined;
}

function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  const v = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got ${raw}`);
  return v;
}

function readEnv(): BenchEnv {
  return {
    size: intEnv('SIZE', 128, 16),
    batch: intEnv('BATCH', 8, 1),
    n: intEnv('N', 200, 1),
    width: intEnv('WIDTH', 640, 16),
    height: intEnv('HEIGHT', 480, 16),
    threads: intEnv('THREADS', defaultIntraOpThreads(process.env.NETWORK_THREAD !== '0'), 1),
    netImages: intEnv('NET_IMAGES', 160, 1),
    samples: intEnv('SAMPLES', 8, 1),
    saveProbabilities: process.env.SAVE_PROBABILITIES === '1',
    forced: parseEngineChoice(process.env.INFERENCE_ENGINE),
    networkThread: process.env.NETWORK_THREAD === '0' ? 'never' : 'auto',
    inFlight: process.env.IN_FLIGHT === undefined ? undefined : intEnv('IN_FLIGHT', 1, 1),
  };
}

const round = (v: number, digits = 1): number => Number(v.toFixed(digits));

/** Seeded uniform values in [-2, 2): about the range of ImageNet-normalised pixels. */
function randomInput(length: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296) * 4 - 2;
  }
  return out;
}

/** Network-only throughput: warm-up batches, then enough batches for `images` images. */
async function networkThroughput(
  engine: SegmentationEngine,
  opts: { size: number; batch: number; images: number },
): Promise<{ imgPerSec: number; msPerBatch: number; batches: number; cpuMsPerImage: number }> {
  const x = randomInput(opts.batch * opts.size * opts.size * 3, 12345);
  for (let i = 0; i < 2; i++) await engine.run(x, opts.batch);
  const batches = Math.max(1, Math.ceil(opts.images / opts.batch));
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < batches; i++) await engine.run(x, opts.batch);
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  return {
    imgPerSec: (batches * opts.batch * 1000) / ms,
    msPerBatch: ms / batches,
    batches,
    cpuMsPerImage: (cpu.user + cpu.system) / 1000 / (batches * opts.batch),
  };
}

/** A model folder like a trained checkpoint's, with random weights. */
async function makeModel(
  root: string,
  env: BenchEnv,
  classes: Parameters<typeof initWeights>[0]['projectClasses'],
) {
  const dir = path.join(root, 'model');
  await initWeights({
    network: loadNetworkPlugin(require.resolve('../plugin/unet')),
    settings: {
      input_size: { height: env.size, width: env.size },
      special_classes: { background: 'bg', neutral: 'neutral' },
      custom_model_config: { depth: 4, base_filters: 16, max_filters: 128 },
    },
    projectClasses: classes,
    outDir: dir,
  });
  return dir;
}

type StageTimes = Record<string, number>;

/**
 * Softmax-like scores at the network's size from an item's ground truth: the class map (background where no
 * label is) sampled at the network's pixels, one-hot, blurred over 3x3 so borders are soft, then mixed with a
 * little uniform mass. Sums to 1 per pixel, like the network's softmax.
 */
function groundTruthScores(
  annotation: Annotation,
  checkpoint: InferenceCheckpoint,
  net: ImageSize,
): ScoreMap {
  const C = checkpoint.channels;
  const background = checkpoint.classToIndex.bg ?? 0;
  const mask = rasteriseAnnotation(annotation, { classToIndex: checkpoint.classToIndex, fill: background });
  const { height: H, width: W } = annotation.size;
  const onehot = new Float32Array(net.height * net.width * C);
  for (let i = 0; i < net.height; i++) {
    const sy = Math.min(H - 1, Math.floor(((i + 0.5) * H) / net.height));
    for (let j = 0; j < net.width; j++) {
      const sx = Math.min(W - 1, Math.floor(((j + 0.5) * W) / net.width));
      onehot[(i * net.width + j) * C + Math.min(C - 1, mask[sy * W + sx])] = 1;
    }
  }
  const out = new Float32Array(onehot.length);
  for (let i = 0; i < net.height; i++) {
    for (let j = 0; j < net.width; j++) {
      let n = 0;
      const acc = new Float64Array(C);
      for (let di = -1; di <= 1; di++) {
        for (let dj = -1; dj <= 1; dj++) {
          const y = i + di;
          const x = j + dj;
          if (y < 0 || x < 0 || y >= net.height || x >= net.width) continue;
          n++;
          for (let c = 0; c < C; c++) acc[c] += onehot[(y * net.width + x) * C + c];
        }
      }
      for (let c = 0; c < C; c++) out[(i * net.width + j) * C + c] = 0.9 * (acc[c] / n) + 0.1 / C;
    }
  }
  return scoreMap(net.height, net.width, C, out);
}

/** Times each pipeline step alone on a few images (ms per image, mean). */
async function stageProfile(opts: {
  projectDir: string;
  checkpoint: InferenceCheckpoint;
  engine: SegmentationEngine;
  samples: number;
  saveProbabilities: boolean;
  outDir: string;
}): Promise<{ wall: StageTimes; cpu: StageTimes }> {
  const { checkpoint } = opts;
  const project = await readSingleProject(opts.projectDir);
  const items = [...projectItems(project)].slice(0, opts.samples);
  const net = checkpoint.inputSize;
  const modeConfig = resolveInferenceConfig(
    { mode: { save_probabilities: opts.saveProbabilities } },
    { defaultModeConfig: PLUGIN_TASK_DEFAULTS.defaultModeConfig },
  ).modeConfig;
  const outputMeta = buildOutputMeta({
    inputMeta: project.meta,
    model: { classes: checkpoint.classes, tagMetas: [] },
    mode: modeConfig,
  });
  const classMapping = outClassMapping({
    classes: checkpoint.classes,
    classToIndex: checkpoint.classToIndex,
  });
  const sums: StageTimes = {};
  const cpuSums: StageTimes = {};
  const time = async <T>(stage: string, f: () => T | Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const v = await f();
    const c = process.cpuUsage(c0);
    sums[stage] = (sums[stage] ?? 0) + performance.now() - t0;
    cpuSums[stage] = (cpuSums[stage] ?? 0) + (c.user + c.system) / 1000;
    return v;
  };
  await fs.mkdir(opts.outDir, { recursive: true });
  for (const [k, item] of items.entries()) {
    const annotation = await time('readAnnotation', () => readItemAnnotation(project, item));
    const full = await time('decodeFull', () => decodeImage(item.imagePath));
    await time('decodeAtNetSize', () => decodeImage(item.imagePath, { resize: net }));
    const rect = { top: 0, left: 0, bottom: full.height - 1, right: full.width - 1 };
    const rgb = await time('cropResize', () => cropResizeRgb(full, rect, net));
    const x = new Float32Array(net.height * net.width * 3);
    await time('normalise', () => normaliseRgbInto(rgb, x, 0, checkpoint.preprocessing));
    const y = await time('network1', () => opts.engine.run(x, 1));
    const size = { height: full.height, width: full.width };
    // The random network's scores are near-uniform, so its class map is speckle (most pixels on a class
    // border): the worst case for labels and bitmaps. Scores made from the ground truth stand in for a
    // trained network (large regions, a few borders); the post-network steps are timed on both.
    const variants: [string, ScoreMap][] = [
      ['', scoreMap(net.height, net.width, checkpoint.channels, y)],
      ['gtLike.', groundTruthScores(annotation, checkpoint, net)],
    ];
    let text = '';
    for (const [prefix, netScores] of variants) {
      const scores = await time(`${prefix}scoreResize`, () => resizeScores(netScores, size));
      await time(`${prefix}argmax`, () => argmaxMask(scores));
      await time(`${prefix}argmaxOfResized`, () => argmaxOfResized(netScores, size));
      const result = await time(`${prefix}labels`, () =>
        annotateImage({
          mode: modeConfig,
          annotation,
          outputMeta,
          classMapping,
          scoreCrops: async () => [scores],
        }),
      );
      const json = await time(`${prefix}annotationJson`, () => serializeAnnotation(result.annotation));
      if (prefix === '') text = json;
    }
    await time('writeJson', () => writeFileAtomic(path.join(opts.outDir, `${k}.json`), text));
    await time('hardLink', () =>
      linkOrCopy(item.imagePath, path.join(opts.outDir, `${k}${path.extname(item.name)}`)),
    );
  }
  // `labels` includes an argmax of its own (annotateImage does it); report it without that.
  const perImage = (totals: StageTimes): StageTimes => {
    const out: StageTimes = {};
    for (const [stage, ms] of Object.entries(totals)) out[stage] = round(ms / items.length, 2);
    out.labelsWithoutArgmax = round(out.labels - out.argmax, 2);
    out['gtLike.labelsWithoutArgmax'] = round(out['gtLike.labels'] - out['gtLike.argmax'], 2);
    return out;
  };
  return { wall: perImage(sums), cpu: perImage(cpuSums) };
}

async function main(): Promise<void> {
  const env = readEnv();
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-infer-'));
  try {
    const backend = await initBackend();
    const taskDir = path.join(root, 'task');
    const generateStart = performance.now();
    const generated = await generateSyntheticProject({
      dir: path.join(taskDir, 'data'),
      projectName: 'bench_infer',
      datasets: [
        { name: 'ds1', count: Math.ceil(env.n / 2) },
        { name: 'ds2', count: Math.floor(env.n / 2) },
      ].filter((d) => d.count > 0),
      width: env.width,
      height: env.height,
      imageFormat: 'jpeg',
      seed: 5,
    });
    console.log(
      `generated ${env.n} images of ${env.width}x${env.height} in ${round((performance.now() - generateStart) / 1000)} s`,
    );
    const modelDir = await makeModel(root, env, generated.meta.classes);
    await fs.cp(modelDir, path.join(taskDir, 'model'), { recursive: true });
    await fs.mkdir(path.join(taskDir, 'results'));

    // 1. Network only, the engine the task would use first.
    const checkpoint = await readInferenceCheckpoint({ dir: modelDir, displayName: 'model' });
    const model = await loadCheckpointModel(checkpoint, { dir: modelDir, displayName: 'model' });
    const net: Record<
      string,
      | { imgPerSec: number; msPerBatch: number; cpuMsPerImage: number; description: string }
      | { error: string }
    > = {};
    const first = await chooseEngine({
      model,
      ...(env.forced !== undefined ? { force: env.forced } : {}),
      intraOpNumThreads: env.threads,
    });
    const inUse = first.engine.name;
    const other: EngineName = inUse === 'onnx' ? 'tfjs' : 'onnx';
    let stages: { wall: StageTimes; cpu: StageTimes } = { wall: {}, cpu: {} };
    // onnx is also timed on every core, for comparison with onnxruntime's own figures (notes: 1 and 2 threads).
    const cores = os.availableParallelism();
    const runs: { key: string; name: EngineName; threads: number }[] = [
      { key: inUse, name: inUse, threads: env.threads },
      { key: other, name: other, threads: env.threads },
      ...(env.threads !== cores
        ? [{ key: `onnx@${cores}threads`, name: 'onnx' as const, threads: cores }]
        : []),
    ];
    for (const { key, name, threads } of runs) {
      let engine: SegmentationEngine;
      try {
        engine =
          key === inUse
            ? first.engine
            : (await chooseEngine({ model, force: name, intraOpNumThreads: threads })).engine;
      } catch (e) {
        net[key] = { error: (e as Error).message };
        continue;
      }
      const r = await networkThroughput(engine, { size: env.size, batch: env.batch, images: env.netImages });
      net[key] = {
        imgPerSec: round(r.imgPerSec),
        msPerBatch: round(r.msPerBatch),
        cpuMsPerImage: round(r.cpuMsPerImage),
        description: engine.description,
      };
      console.log(
        `network only, ${engine.description}: ${round(r.imgPerSec)} img/s (${round(r.msPerBatch)} ms per batch of ${env.batch})`,
      );
      // 2. Stage profile with the engine in use.
      if (key === inUse) {
        stages = await stageProfile({
          projectDir: path.join(taskDir, 'data'),
          checkpoint,
          engine,
          samples: env.samples,
          saveProbabilities: env.saveProbabilities,
          outDir: path.join(root, 'stage-out'),
        });
        console.log(
          `stages (ms per image, alone): wall ${JSON.stringify(stages.wall)}, cpu ${JSON.stringify(stages.cpu)}`,
        );
      }
      await engine.dispose();
    }
    model.dispose();

    // 3. End to end, in-process, as the task runs.
    const taskConfig = {
      model: { batch_size: env.batch },
      mode: { name: 'full_image', save_probabilities: env.saveProbabilities },
    };
    const { modelConfig, modeConfig } = resolveInferenceConfig(taskConfig, {
      defaultModeConfig: PLUGIN_TASK_DEFAULTS.defaultModeConfig,
    });
    const sink = memorySink();
    const logger = createLogger({ sink: sink.sink, level: 'info' });
    const cpu0 = process.cpuUsage();
    const summary = await runInference(
      { paths: taskPathsAt(taskDir), modelConfig, modeConfig, logger },
      {
        engine: inUse,
        threads: env.threads,
        networkThread: env.networkThread,
        imagesInFlight: env.inFlight ?? imagesInFlight(env.batch, 'full_image'),
      },
    );
    const cpu = process.cpuUsage(cpu0);
    const e2eCpuMsPerImage = (cpu.user + cpu.system) / 1000 / summary.items;
    const e2eImgPerSec = (summary.items * 1000) / summary.wallMs;
    const outsideNetworkShare = 1 - summary.networkMs / summary.wallMs;
    console.log(
      `end to end: ${summary.items} images in ${round(summary.wallMs / 1000, 2)} s = ${round(e2eImgPerSec)} img/s; ` +
        `network ${round(summary.networkMs / 1000, 2)} s (${round(100 * (1 - outsideNetworkShare))} %)`,
    );

    const netInUse = net[inUse];
    const netOther = net[other];
    const result = {
      backend: backend.name,
      engine: inUse,
      size: env.size,
      batch: env.batch,
      n: env.n,
      image: `${env.width}x${env.height}`,
      threads: env.threads,
      saveProbabilities: env.saveProbabilities,
      netImgPerSec: 'imgPerSec' in netInUse ? netInUse.imgPerSec : null,
      netImgPerSecOther: netOther !== undefined && 'imgPerSec' in netOther ? netOther.imgPerSec : null,
      otherEngine: other,
      e2eImgPerSec: round(e2eImgPerSec),
      e2eVsNet: 'imgPerSec' in netInUse ? round(e2eImgPerSec / netInUse.imgPerSec, 3) : null,
      outsideNetworkShare: round(outsideNetworkShare, 3),
      wallMs: round(summary.wallMs),
      e2eCpuMsPerImage: round(e2eCpuMsPerImage),
      networkThread: env.networkThread,
      imagesInFlight: env.inFlight ?? imagesInFlight(env.batch, 'full_image'),
      networkMs: round(summary.networkMs),
      stagesMsPerImage: stages.wall,
      stagesCpuMsPerImage: stages.cpu,
      network: net,
      peakRssMB: round((process.resourceUsage().maxRSS * 1024) / MB),
      loadavg: os.loadavg().map((v) => round(v, 2)),
    };
    console.log(JSON.stringify(result));
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
