/**
 * `npm run bench:infer`: inference speed of the bench U-Net (depth 4, 16 base filters doubling to at most 128,
 * 4 classes) at SIZE x SIZE, on two networks with that architecture:
 * - `trained`: a few epochs of the training task on generated images of the same kind (trained-checkpoint.ts;
 *   trained once, then cached). Its masks look like real predictions. **The headline figures are this one's.**
 * - `random`: seeded random weights with a small head. Its class map is speckle (every class scores about the
 *   same everywhere), the worst case for labels and bitmaps: reported as a bound, not as typical.
 * Steps:
 * 1. Network only: batches of random normalised inputs through `engine.run` after a warm-up, for each engine
 *    that starts (onnx, tfjs); through the network threads as inference runs them (a batch in each); and
 *    onnxruntime's own figure for the same exported graph (a bare `InferenceSession.run` on a prepared tensor)
 *    on 1 thread and on every core; and the same network in PyTorch on this CPU (pytorch-baseline.ts), the
 *    figure the issue's goal is relative to: `e2eVsPytorchOneThread` is end to end over PyTorch's best one-thread
 *    figure (the issue quotes a one-thread one), `e2eVsPytorch` over its best on any thread count.
 * 2. Stages: one sample image at a time, each step of the pipeline timed alone (decode, crop/resize,
 *    normalise, score resize, argmax, labels, annotation JSON, write, link), so the profile says where the time
 *    outside the network goes (trained network).
 * 3. End to end: a generated project of N JPEG images through `runInference` in-process (full_image mode),
 *    once per network.
 * Env: SIZE (128), BATCH (8), N (200), WIDTH/HEIGHT (640x480), TFJS_BACKEND, INFERENCE_ENGINE (default: what
 * the task chooses), THREADS (onnxruntime intra-op threads per network thread; default as the task),
 * NETWORK_THREADS (network threads; default as the task; 0: the network on the main thread), IN_FLIGHT (images
 * in flight; default as the task), NET_IMAGES (images timed per engine, 160), SAMPLES (images in the stage
 * profile, 8), SAVE_PROBABILITIES (0), NETWORKS (`trained,random`), TRAIN_EPOCHS (5), BENCH_CACHE (where the
 * trained checkpoint is kept), E2E_RUNS (end-to-end runs per network, 1; the figures are the run with the median
 * CPU per image, and every run is listed), E2E_ONLY=1 (step 3 only: quicker A/B), PYTORCH=0 (no PyTorch
 * baseline), PYTORCH_PYTHON (a Python with torch; default python3, then /usr/bin/python3). Stage times are given as wall
 * and as process CPU (all threads, so background GC lands in whichever stage is awaiting); this machine's speed
 * drifts by 10-20 % over minutes (other tenants): compare CPU per image, and A/B back to back, alternating.
 * The synthetic images are noisy JPEGs (q95, 4:4:4, about 240 KB), slower to decode than photos.
 * The last line is one JSON object.
 */
// First: libuv's pool is sized before any module (sharp) starts it.
import { libuvThreads } from './libuv-pool';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { constants, performance, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { initBackend } from '../src/backend/select';
import { generateSyntheticProject } from '../src/example/synthetic-project';
import { serializeAnnotation } from '../src/format/annotation';
import { projectItems, readItemAnnotation, readSingleProject } from '../src/format/project-reader';
import { linkOrCopy } from '../src/format/project-writer';
import { cropResizeRgb } from '../src/image/crop-resize';
import { decodeImage } from '../src/image/decode';
import { normaliseRgbInto } from '../src/image/normalise';
import { annotateImage } from '../src/inference/annotate-image';
import {
  loadCheckpointModel,
  checkpointPreprocessing,
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
import { defaultIntraOpThreads, defaultNetworkThreads, startNetwork } from '../src/inference/network-runner';
import { imagesInFlight, runInference } from '../src/inference/run';
import { argmaxOfResized, resizeScores } from '../src/inference/score-resize';
import { argmaxMask, scoreMap } from '../src/inference/stitch';
import { createLogger, memorySink } from '../src/protocol';
import { resolveInferenceConfig } from '../src/task/inference-config';
import { taskPathsAt } from '../src/task/paths';
import { UNET_DEFAULT_MODE } from '../plugin/unet/mode';
import { writeFileAtomic } from '../src/util/atomic';
import { exportToOnnx } from '../src/onnx';
import * as ort from 'onnxruntime-node';
import { intEnv } from './env';
import { pytorchBaseline, type PytorchBaseline } from './pytorch-baseline';
import { seededUnetCheckpoint } from './seeded-unet';
import { threadCpu } from './thread-cpu';
import { trainedCheckpoint } from './trained-checkpoint';

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
  networkThreads: number | undefined;
  inFlight: number | undefined;
  networks: string[];
  trainEpochs: number;
  e2eOnly: boolean;
  e2eRuns: number;
  pytorch: boolean;
}

function readEnv(): BenchEnv {
  const networkThreads =
    process.env.NETWORK_THREADS === undefined ? undefined : intEnv('NETWORK_THREADS', 0, 0);
  const networks = (process.env.NETWORKS ?? 'trained,random').split(',').filter((v) => v !== '');
  if (networks.length === 0 || networks.some((v) => v !== 'trained' && v !== 'random')) {
    throw new Error(`NETWORKS must list trained and/or random, got ${process.env.NETWORKS}`);
  }
  return {
    size: intEnv('SIZE', 128, 16),
    batch: intEnv('BATCH', 8, 1),
    n: intEnv('N', 200, 1),
    width: intEnv('WIDTH', 640, 16),
    height: intEnv('HEIGHT', 480, 16),
    threads: intEnv('THREADS', defaultIntraOpThreads(networkThreads ?? defaultNetworkThreads()), 1),
    netImages: intEnv('NET_IMAGES', 160, 1),
    samples: intEnv('SAMPLES', 8, 1),
    saveProbabilities: process.env.SAVE_PROBABILITIES === '1',
    forced: parseEngineChoice(process.env.INFERENCE_ENGINE, {
      onDeprecated: (given, use) =>
        console.error(`INFERENCE_ENGINE=${given} is deprecated; use INFERENCE_ENGINE=${use}`),
    }),
    networkThreads,
    inFlight: process.env.IN_FLIGHT === undefined ? undefined : intEnv('IN_FLIGHT', 1, 1),
    networks,
    trainEpochs: intEnv('TRAIN_EPOCHS', 5, 1),
    e2eOnly: process.env.E2E_ONLY === '1',
    e2eRuns: intEnv('E2E_RUNS', 1, 1),
    pytorch: process.env.PYTORCH !== '0',
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

type StageTimes = Record<string, number>;

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
    { defaultModeConfig: UNET_DEFAULT_MODE },
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
  const stats = checkpointPreprocessing(checkpoint, undefined).stats;
  for (const [k, item] of items.entries()) {
    const annotation = await time('readAnnotation', () => readItemAnnotation(project, item));
    const full = await time('decodeFull', () => decodeImage(item.imagePath));
    await time('decodeAtNetSize', () => decodeImage(item.imagePath, { resize: net }));
    const rect = { top: 0, left: 0, bottom: full.height - 1, right: full.width - 1 };
    const rgb = await time('cropResize', () => cropResizeRgb(full, rect, net));
    const x = new Float32Array(net.height * net.width * 3);
    await time('normalise', () => normaliseRgbInto(rgb, x, 0, stats));
    const y = await time('network1', () => opts.engine.run(x, 1));
    const size = { height: full.height, width: full.width };
    const netScores = scoreMap(net.height, net.width, checkpoint.channels, y);
    const scores = await time('scoreResize', () => resizeScores(netScores, size));
    await time('argmax', () => argmaxMask(scores));
    await time('argmaxOfResized', () => argmaxOfResized(netScores, size));
    const result = await time('labels', () =>
      annotateImage({
        mode: modeConfig,
        annotation,
        outputMeta,
        classMapping,
        scoreCrops: async () => [scores],
      }),
    );
    const text = await time('annotationJson', () => serializeAnnotation(result.annotation));
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
    return out;
  };
  return { wall: perImage(sums), cpu: perImage(cpuSums) };
}

async function main(): Promise<void> {
  const env = readEnv();
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-infer-'));
  try {
    const backend = await initBackend();
    const dataDir = path.join(root, 'data');
    const generateStart = performance.now();
    const generated = await generateSyntheticProject({
      dir: dataDir,
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
    const trained = env.networks.includes('trained')
      ? await trainedCheckpoint({
          size: env.size,
          width: env.width,
          height: env.height,
          epochs: env.trainEpochs,
        })
      : undefined;
    if (trained !== undefined) {
      console.log(
        `trained network: ${trained.dir} (${trained.cached ? 'cached' : `trained in ${trained.trainSeconds} s`}), ` +
          `val ${JSON.stringify(trained.valMetrics)}`,
      );
    }
    const modelDirs: Record<string, string> = {};
    for (const name of env.networks) {
      modelDirs[name] =
        name === 'trained' && trained !== undefined
          ? trained.dir
          : await seededUnetCheckpoint({
              dir: path.join(root, 'model'),
              size: env.size,
              classes: generated.meta.classes,
              seed: 7,
            });
    }
    const headline = env.networks[0];

    const figures = env.e2eOnly
      ? null
      : await networkFigures({ env, modelDir: modelDirs[headline], dataDir, root, backend });
    const inUse: EngineName = figures?.inUse ?? env.forced ?? 'onnxruntime';
    const pytorchRuns: PytorchBaseline[] = [];
    if (!env.e2eOnly) pytorchRuns.push(await measurePytorch(env, modelDirs[headline], root, 'before'));

    // 3. End to end, in-process, as the task runs, once per network.
    const e2e: Record<string, E2eResult> = {};
    const e2eRuns: Record<string, E2eResult[]> = {};
    for (const name of env.networks) {
      const runs: E2eResult[] = [];
      for (let run = 1; run <= env.e2eRuns; run++) {
        const r = await endToEnd({
          root,
          dataDir,
          modelDir: modelDirs[name],
          name: `${name}-${run}`,
          env,
          engine: inUse,
          libuvThreads,
        });
        runs.push(r);
        console.log(
          `end to end, ${name} network${env.e2eRuns > 1 ? ` (run ${run})` : ''}: ${r.items} images in ` +
            `${round(r.wallMs / 1000, 2)} s = ${r.imgPerSec} img/s; network busy ` +
            `${round(100 * (1 - r.outsideNetworkShare))} % of the time (start-up ${round(r.startupMs)} ms); ` +
            `CPU ${r.cpuMsPerImage} ms per image (by thread: ${JSON.stringify(r.cpuMsPerImageByThread)}, ` +
            `other by name: ${JSON.stringify(r.otherCpuMsPerImageByThreadName)}; ` +
            `main-thread GC ${r.mainThreadGcMsPerImage} ms per image, ${r.fullGcs} full collections)`,
        );
      }
      e2eRuns[name] = runs;
      e2e[name] = [...runs].sort((a, b) => a.cpuMsPerImage - b.cpuMsPerImage)[(runs.length - 1) >> 1];
    }

    if (pytorchRuns.length > 0 && !('skipped' in pytorchRuns[0])) {
      pytorchRuns.push(await measurePytorch(env, modelDirs[headline], root, 'after'));
    }
    const pytorchFigures = pytorchRuns.filter(
      (r): r is Exclude<PytorchBaseline, { skipped: string }> => !('skipped' in r),
    );
    const pytorchBest =
      pytorchFigures.length > 0 ? Math.max(...pytorchFigures.map((r) => r.bestImgPerSec)) : null;
    // The issue's PyTorch figure is the one-thread one; the best on any thread count is the stricter bar.
    const pytorchOneThread =
      pytorchFigures.length > 0 ? Math.max(...pytorchFigures.map((r) => r.best.threads1.imgPerSec)) : null;
    const netInUse = figures?.net[figures.inUse];
    const netOther = figures?.net[figures.other];
    const head = e2e[headline];
    const ortOwnInUse = figures?.ortOwn[`threads${env.threads}`];
    const netImgPerSec = netInUse !== undefined && 'imgPerSec' in netInUse ? netInUse.imgPerSec : null;
    const result = {
      backend: backend.name,
      engine: inUse,
      size: env.size,
      batch: env.batch,
      n: env.n,
      image: `${env.width}x${env.height}`,
      threads: env.threads,
      networkThreads: head.networkThreads,
      saveProbabilities: env.saveProbabilities,
      headlineNetwork: headline,
      trainedVal: trained?.valMetrics ?? null,
      netImgPerSec,
      netImgPerSecOther: netOther !== undefined && 'imgPerSec' in netOther ? netOther.imgPerSec : null,
      otherEngine: figures?.other ?? null,
      netImgPerSecAsRun: figures === null ? null : round(figures.asRun.imgPerSec),
      ortOwnImgPerSec: figures?.ortOwn ?? null,
      netVsOrtOwn:
        netImgPerSec !== null && ortOwnInUse !== undefined ? round(netImgPerSec / ortOwnInUse, 3) : null,
      e2eImgPerSec: head.imgPerSec,
      // The goal's ratio: end to end against PyTorch's best figure for the network alone (any thread count,
      // before or after the end-to-end runs).
      pytorchImgPerSec: pytorchBest,
      e2eVsPytorch: pytorchBest !== null ? round(head.imgPerSec / pytorchBest, 3) : null,
      pytorchOneThreadImgPerSec: pytorchOneThread,
      e2eVsPytorchOneThread: pytorchOneThread !== null ? round(head.imgPerSec / pytorchOneThread, 3) : null,
      e2eVsNet: netImgPerSec !== null ? round(head.imgPerSec / netImgPerSec, 3) : null,
      e2eVsNetAsRun: figures === null ? null : round(head.imgPerSec / figures.asRun.imgPerSec, 3),
      outsideNetworkShare: head.outsideNetworkShare,
      e2eCpuMsPerImage: head.cpuMsPerImage,
      e2e,
      ...(env.e2eRuns > 1
        ? {
            e2eRuns: Object.fromEntries(
              Object.entries(e2eRuns).map(([k, runs]) => [
                k,
                runs.map((r) => ({ imgPerSec: r.imgPerSec, cpuMsPerImage: r.cpuMsPerImage })),
              ]),
            ),
          }
        : {}),
      stagesMsPerImage: figures?.stages.wall ?? null,
      stagesCpuMsPerImage: figures?.stages.cpu ?? null,
      network: figures?.net ?? null,
      pytorch: pytorchRuns.length > 0 ? pytorchRuns : null,
      peakRssMB: round((process.resourceUsage().maxRSS * 1024) / MB),
      loadavg: os.loadavg().map((v) => round(v, 2)),
    };
    console.log(JSON.stringify(result));
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

type NetFigure =
  | { imgPerSec: number; msPerBatch: number; cpuMsPerImage: number; description: string }
  | { error: string };

interface NetworkFigures {
  net: Record<string, NetFigure>;
  inUse: EngineName;
  other: EngineName;
  stages: { wall: StageTimes; cpu: StageTimes };
  asRun: { imgPerSec: number; threads: number };
  ortOwn: Record<string, number>;
}

/**
 * The same network in PyTorch (pytorch-baseline.ts), timed once before the end-to-end runs and once after, so
 * that the comparison brackets them (this machine drifts); the higher figure of the two counts.
 */
async function measurePytorch(
  env: BenchEnv,
  modelDir: string,
  root: string,
  when: string,
): Promise<PytorchBaseline> {
  if (!env.pytorch) return { skipped: 'PYTORCH=0' };
  const checkpoint = await readInferenceCheckpoint({ dir: modelDir, displayName: 'model' });
  const model = await loadCheckpointModel(checkpoint, { dir: modelDir, displayName: 'model' });
  let onnxBytes: Uint8Array;
  try {
    onnxBytes = exportToOnnx(model).bytes;
  } finally {
    model.dispose();
  }
  const r = await pytorchBaseline({
    modelDir,
    onnxBytes,
    size: env.size,
    batch: env.batch,
    images: env.netImages,
    threads: [...new Set([1, os.availableParallelism()])],
    workDir: root,
    checkInput: randomInput(env.batch * env.size * env.size * 3, 777),
  });
  console.log(
    'skipped' in r
      ? `PyTorch baseline skipped: ${r.skipped}`
      : `the same network in PyTorch ${r.torch}, ${when} (max |score difference| from onnxruntime ` +
          `${r.maxAbsDiffVsOnnx.toExponential(1)}), best of eager/channels-last/frozen TorchScript: ` +
          `${JSON.stringify(r.best)}`,
  );
  return r;
}

/** Steps 1 and 2: the network alone on each engine, the stage profile, and onnxruntime's own figures. */
async function networkFigures(opts: {
  env: BenchEnv;
  modelDir: string;
  dataDir: string;
  root: string;
  backend: Awaited<ReturnType<typeof initBackend>>;
}): Promise<NetworkFigures> {
  const { env, modelDir, dataDir, root, backend } = opts;
  // 1. Network only (the weights do not change the speed): the engine the task would use first.
  const checkpoint = await readInferenceCheckpoint({ dir: modelDir, displayName: 'model' });
  const model = await loadCheckpointModel(checkpoint, { dir: modelDir, displayName: 'model' });
  const net: Record<string, NetFigure> = {};
  const first = await chooseEngine({
    model,
    ...(env.forced !== undefined ? { force: env.forced } : {}),
    intraOpNumThreads: env.threads,
  });
  const inUse = first.engine.name;
  const other: EngineName = inUse === 'onnxruntime' ? 'tfjs' : 'onnxruntime';
  let stages: { wall: StageTimes; cpu: StageTimes } = { wall: {}, cpu: {} };
  // onnx is also timed on every core, for comparison with onnxruntime's own figures on 1 and 2 threads.
  const cores = os.availableParallelism();
  const runs: { key: string; name: EngineName; threads: number }[] = [
    { key: inUse, name: inUse, threads: env.threads },
    { key: other, name: other, threads: env.threads },
    ...(env.threads !== cores
      ? [{ key: `onnxruntime@${cores}threads`, name: 'onnxruntime' as const, threads: cores }]
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
        projectDir: dataDir,
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
  // The network as inference runs it: its network threads (one engine each), a batch in every thread.
  const pipelineThreads = env.networkThreads ?? defaultNetworkThreads();
  const asRun = await networkThreadsThroughput({
    checkpoint,
    modelDir,
    backend,
    engine: inUse,
    networkThreads: pipelineThreads,
    intraOpNumThreads: env.threads,
    size: env.size,
    batch: env.batch,
    images: env.netImages,
  });
  console.log(
    `network only, as inference runs it (${asRun.threads} network threads x ${env.threads} intra-op): ` +
      `${round(asRun.imgPerSec)} img/s`,
  );
  const ortOwn: Record<string, number> = {};
  for (const threads of [...new Set([1, cores])]) {
    const r = await bareOrtThroughput(model, {
      size: env.size,
      batch: env.batch,
      images: env.netImages,
      threads,
    });
    ortOwn[`threads${threads}`] = round(r);
    console.log(`onnxruntime's own figure for the exported graph, ${threads} threads: ${round(r)} img/s`);
  }
  model.dispose();

  return { net, inUse, other, stages, asRun, ortOwn };
}

interface E2eResult {
  items: number;
  imgPerSec: number;
  wallMs: number;
  startupMs: number;
  networkMs: number;
  /** The share of the run's wall time when no batch was in the network. */
  outsideNetworkShare: number;
  cpuMsPerImage: number;
  /** Linux only: main thread, network threads, the rest (decoding pools, GC helpers). */
  cpuMsPerImageByThread: Record<string, number>;
  /** The `other` threads by name: libuv's pool (decoding), V8's helpers (GC), onnxruntime's, ... */
  otherCpuMsPerImageByThreadName: Record<string, number>;
  /** The main thread's GC pauses (included in its CPU), and how many were full collections. */
  mainThreadGcMsPerImage: number;
  fullGcs: number;
  networkThreads: number;
  imagesInFlight: number;
}

/**
 * Samples thread CPU while `run` runs (threads that end, like the network threads, are caught by their last
 * sample) and splits it: the main thread, the `node` threads started meanwhile (the network threads), and the
 * rest (libuv's pool and libvips decoding, V8's GC helpers).
 */
async function cpuByThread<T>(
  run: () => Promise<T>,
): Promise<{ result: T; ms: Record<string, number>; otherByName: Record<string, number> }> {
  const before = threadCpu();
  const last = new Map(before);
  const sample = (): void => threadCpu().forEach((v, tid) => last.set(tid, v));
  const timer = setInterval(sample, 50);
  try {
    const result = await run();
    sample();
    const ms = { main: 0, networkThreads: 0, other: 0 };
    const otherByName: Record<string, number> = {};
    for (const [tid, v] of last) {
      const used = v.ms - (before.get(tid)?.ms ?? 0);
      if (tid === String(process.pid)) ms.main += used;
      else if (!before.has(tid) && v.name === 'node') ms.networkThreads += used;
      else {
        ms.other += used;
        otherByName[v.name] = (otherByName[v.name] ?? 0) + used;
      }
    }
    return { result, ms, otherByName };
  } finally {
    clearInterval(timer);
  }
}

/** One inference task over the generated project with the given checkpoint, in a task folder of its own. */
async function endToEnd(opts: {
  root: string;
  dataDir: string;
  modelDir: string;
  name: string;
  env: BenchEnv;
  engine: EngineName;
  libuvThreads: number;
}): Promise<E2eResult> {
  const { env } = opts;
  const taskDir = path.join(opts.root, `task-${opts.name}`);
  await fs.mkdir(path.join(taskDir, 'results'), { recursive: true });
  await fs.symlink(opts.dataDir, path.join(taskDir, 'data'));
  await fs.cp(opts.modelDir, path.join(taskDir, 'model'), { recursive: true });
  const taskConfig = {
    model: { batch_size: env.batch },
    mode: { name: 'full_image', save_probabilities: env.saveProbabilities },
  };
  const { modelConfig, modeConfig } = resolveInferenceConfig(taskConfig, {
    defaultModeConfig: UNET_DEFAULT_MODE,
  });
  const sink = memorySink();
  const logger = createLogger({ sink: sink.sink, level: 'info' });
  const inFlight = env.inFlight ?? imagesInFlight(env.batch, 'full_image');
  const cpu0 = process.cpuUsage();
  const gc = mainThreadGc();
  const {
    result: summary,
    ms: byThread,
    otherByName,
  } = await cpuByThread(() =>
    runInference(
      { paths: taskPathsAt(taskDir), modelConfig, modeConfig, logger },
      {
        engine: opts.engine,
        threads: env.threads,
        ...(env.networkThreads !== undefined ? { networkThreads: env.networkThreads } : {}),
        imagesInFlight: inFlight,
        libuvThreads: opts.libuvThreads,
      },
    ),
  );
  const cpu = process.cpuUsage(cpu0);
  const gcTotals = gc.stop();
  await fs.rm(taskDir, { recursive: true, force: true });
  return {
    items: summary.items,
    imgPerSec: round((summary.items * 1000) / summary.wallMs),
    wallMs: round(summary.wallMs),
    startupMs: round(summary.startupMs),
    networkMs: round(summary.networkMs),
    outsideNetworkShare: round(1 - summary.networkMs / summary.wallMs, 3),
    cpuMsPerImage: round((cpu.user + cpu.system) / 1000 / summary.items, 1),
    cpuMsPerImageByThread: Object.fromEntries(
      Object.entries(byThread).map(([k, v]) => [k, round(v / summary.items, 1)]),
    ),
    otherCpuMsPerImageByThreadName: Object.fromEntries(
      Object.entries(otherByName)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => [k, round(v / summary.items, 2)]),
    ),
    mainThreadGcMsPerImage: round(gcTotals.ms / summary.items, 2),
    fullGcs: gcTotals.full,
    networkThreads: summary.networkThreads,
    imagesInFlight: inFlight,
  };
}

/**
 * The main thread's garbage-collection pauses from now until `stop` (perf_hooks `gc` entries): their total time
 * and the number of full (mark-compact) collections. Part of the main thread's CPU; large ArrayBuffers that die
 * young (file bytes, batch buffers) are what drives full collections here.
 */
function mainThreadGc(): { stop: () => { ms: number; full: number } } {
  let ms = 0;
  let full = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      ms += e.duration;
      const detail = (e as PerformanceEntry & { detail?: { kind?: number } }).detail;
      if (detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) full += 1;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop: () => {
      observer.disconnect();
      return { ms, full };
    },
  };
}

/** Network-only throughput through `startNetwork`, as inference runs it: one batch in flight per thread. */
async function networkThreadsThroughput(opts: {
  checkpoint: InferenceCheckpoint;
  modelDir: string;
  backend: Awaited<ReturnType<typeof initBackend>>;
  engine: EngineName;
  networkThreads: number;
  intraOpNumThreads: number;
  size: number;
  batch: number;
  images: number;
}): Promise<{ imgPerSec: number; threads: number }> {
  const network = await startNetwork({
    checkpoint: opts.checkpoint,
    modelDir: opts.modelDir,
    backend: opts.backend.name,
    engine: opts.engine,
    intraOpNumThreads: opts.intraOpNumThreads,
    threads: opts.networkThreads,
  });
  try {
    const x = randomInput(opts.batch * opts.size * opts.size * 3, 12345);
    const lanes = Math.max(1, network.threads);
    const batches = Math.max(lanes, Math.ceil(opts.images / opts.batch));
    const lane = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) await network.run({ image: x.slice() }, opts.batch);
    };
    await Promise.all(Array.from({ length: lanes }, () => lane(1))); // warm-up
    const started = performance.now();
    await Promise.all(Array.from({ length: lanes }, () => lane(Math.ceil(batches / lanes))));
    const images = lanes * Math.ceil(batches / lanes) * opts.batch;
    return { imgPerSec: (images * 1000) / (performance.now() - started), threads: network.threads };
  } finally {
    await network.close();
  }
}

/** onnxruntime on its own: the exported graph in a bare session, one prepared input tensor, after a warm-up. */
async function bareOrtThroughput(
  model: Parameters<typeof exportToOnnx>[0],
  opts: { size: number; batch: number; images: number; threads: number },
): Promise<number> {
  const session = await ort.InferenceSession.create(exportToOnnx(model).bytes, {
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  try {
    const x = randomInput(opts.batch * opts.size * opts.size * 3, 12345);
    const feeds = {
      [session.inputNames[0]]: new ort.Tensor('float32', x, [opts.batch, opts.size, opts.size, 3]),
    };
    for (let i = 0; i < 2; i++) await session.run(feeds);
    const batches = Math.max(1, Math.ceil(opts.images / opts.batch));
    const started = performance.now();
    for (let i = 0; i < batches; i++) await session.run(feeds);
    return (batches * opts.batch * 1000) / (performance.now() - started);
  } finally {
    await session.release();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
