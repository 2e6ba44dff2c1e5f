/**
 * Training a tracker through train.py (network `tracker`, task `video_tracking`). The agent's view is the same
 * as for any training: progress lines, train and val metrics, checkpoints written atomically into results/ and
 * announced once complete. What differs is the data: clips, mixed from generated clips (textured shapes that
 * move, occlude, leave and return) and pseudo-clips warped from the objects of the input image project, by the
 * weights in `tracking.sources`. Validation tracks held-out clips (generated with texture families training
 * never sees, plus pseudo-clips of the val fold's images) and scores them with the DAVIS measures, beside the
 * two baselines, computed once.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend, type InitBackendOptions } from '../../backend/select';
import { configError, dataError, errorMessage } from '../../errors';
import {
  projectItems,
  readSingleProject,
  type ProjectItem,
  type ProjectListing,
} from '../../format/project-reader';
import { CheckpointWriter } from '../../model-state/checkpoint-writer';
import { dataDigest } from '../../model-state/manifest';
import { TRAINING_STATE_FILE, trainingStateBytes } from '../../model-state/training-state';
import { WEIGHTS_FILE } from '../../network/model-files';
import { withSeededRandom } from '../../network/seeded-build';
import type { AnyTrackerNetwork } from '../../network/types';
import { tryLoadOnnxRuntime, type OrtLoader } from '../../onnx/runtime';
import { reportCheckpoint, reportMetrics } from '../../protocol/events';
import { InterruptedError, stopRequests } from '../../protocol/stop';
import { Progress } from '../../protocol/progress';
import type { LrScheduleConfig } from '../../task/config-types';
import type { TrainTaskContext } from '../../task/context';
import type { JsonObject } from '../../task/update-recursively';
import { displayPath } from '../../task/paths';
import { splitByTags } from '../../training/folds';
import { scanProject } from '../../training/plan';
import {
  captureTrainingState,
  readResumePlan,
  restoreOptimizerForResume,
  startOfRun,
  type ResumePoint,
} from '../../training/resume';
import { mixSeed, mulberry32, type Random } from '../../util/random';
import { readSingleVideoProject, type VideoProjectListing } from '../../format/video-project-reader';
import { readVideoFrames } from '../../video/reader';
import { makeBaseline, type TrackerFactory } from './baselines';
import type { TrainingClip } from './clip-batch';
import { generatedClip } from './clip-sources';
import {
  ALL_TEXTURE_KINDS,
  renderClip,
  writeDavisList,
  writeDavisSequence,
  type ClipStyle,
  type TextureKind,
} from './generated-clips';
import { MatchTracker } from './match-tracker';
import { loadObjectsImage, pseudoClip, warpedFrames, type ObjectsImage } from './project-clips';
import {
  decodeAnnotatedVideo,
  validationFrames,
  videoClip,
  videoFolds,
  type DecodedVideo,
  type ScaledFrameSource,
  type VideoFolds,
} from './video-clips';
import { scoreTracker, type TrackerScore } from './track-davis';
import {
  readTrackerConfig,
  loadTrackerModels,
  TRACKER_MODEL_DIRS,
  saveTrackerModels,
  trackerModelConfig,
} from './tracker-checkpoint';
import { OrtTrackerEngine, TfjsTrackerEngine, type TrackerEngine } from './tracker-engines';
import {
  TRACKER_RANDOM_STREAMS,
  TRACKER_SCHEDULE,
  trackerOptimizers,
  trackerPreciseBn,
  trainTracker,
  type TrackerModels,
  type TrackerOptimizers,
} from './train-tracker';

export const TRACKER_TRAINING_SUBTASK = 'Model training: ';

/**
 * Texture families of training clips; validation's generated clips use the others (held out). Plaid, marble and
 * blotches were added for variety: the tracker's errors on held-out clips are mostly objects told from the
 * background by texture alone.
 */
export const TRAINING_TEXTURES: readonly TextureKind[] = [
  'noise',
  'stripes',
  'checker',
  'dots',
  'plaid',
  'marble',
  'blotches',
];
export const HELD_OUT_TEXTURES: readonly TextureKind[] = ALL_TEXTURE_KINDS.filter(
  (k) => !TRAINING_TEXTURES.includes(k),
);

/** The style of training clips; speed and camouflage drawn per clip. */
export function trainingClipStyle(
  size: { width: number; height: number },
  rand: Random,
): Omit<ClipStyle, 'frames'> {
  return { ...size, textures: TRAINING_TEXTURES, camouflage: 0.4, speed: 0.5 + 1.5 * rand() };
}

/** Held-out generated clips: other texture families, faster motion, more camouflage. */
export function heldOutClipStyle(size: { width: number; height: number }, frames: number): ClipStyle {
  return { ...size, frames, textures: HELD_OUT_TEXTURES, camouflage: 0.5, speed: 1.5 };
}

/**
 * The learning-rate schedule the tracker trains with: the task config's `lr_schedule` when the task config sets
 * it (`given`: the file as written), else the tracker's own, cosine to a tenth (TRACKER_SCHEDULE: how the
 * bundled tracker was trained), not the schema's default (constant, which suits the image networks' short runs).
 */
export function trackerSchedule(
  configured: LrScheduleConfig,
  given: JsonObject,
): { schedule: LrScheduleConfig; from: string } {
  return Object.hasOwn(given, 'lr_schedule')
    ? { schedule: configured, from: 'lr_schedule' }
    : { schedule: TRACKER_SCHEDULE, from: 'the tracker default' };
}

export interface TrackerTrainingOptions {
  network: AnyTrackerNetwork;
  /** How a video project's files are decoded (default: ffmpeg through src/video/reader.ts). */
  openFrames?: ScaledFrameSource;
  backend?: InitBackendOptions;
  loadOrt?: OrtLoader;
}

export interface TrackerTrainingSummary {
  steps: number;
  checkpoints: number;
  /** The last validation's J&F, and the baselines'. */
  jf: number | null;
  baselines: Record<string, number>;
}

const VAL_SIZE = { width: 192, height: 112 };
/** Decoded project images kept in memory at clip size (a few MB), so a clip does not decode a JPEG. */
const IMAGE_CACHE = 512;

export async function runTrackerTraining(
  ctx: TrainTaskContext,
  opts: TrackerTrainingOptions,
): Promise<TrackerTrainingSummary> {
  const { paths, config, logger } = ctx;
  const tracking = config.tracking;
  const size = config.input_size;
  if (size.width % 8 !== 0 || size.height % 8 !== 0) {
    throw configError(
      `a tracker trains on clips whose sides are multiples of 8, found ${size.width}x${size.height}`,
      {
        file: 'task_config.json',
        field: 'input_size',
      },
    );
  }
  const settings = opts.network.parseSettings(config.custom_model_config);
  const backend = await initBackend(opts.backend);
  logger.info('tfjs backend selected.', { backend: backend.name, reasons: backend.reasons });

  // The project: pseudo-clips from an image project's objects, or clips of a video project's annotated frames,
  // split into folds by the dataset tags.
  const folds = await projectFolds(ctx, {
    images: tracking.sources.project > 0,
    videos: tracking.sources.video > 0,
  });
  const videos = await decodeVideos(ctx, folds.videos, size, opts.openFrames ?? defaultScaledFrames);
  const weights = {
    generated: tracking.sources.generated,
    project: folds.train.length > 0 ? tracking.sources.project : 0,
    video: videos.train.length > 0 ? tracking.sources.video : 0,
  };
  if (weights.generated + weights.project + weights.video <= 0) {
    throw configError(
      'no clip source: tracking.sources.generated is 0 and the project gives no training images or videos with objects',
      { file: 'task_config.json', field: 'tracking.sources' },
    );
  }
  logger.info('Tracker training clips.', {
    generated_weight: weights.generated,
    project_weight: weights.project,
    video_weight: weights.video,
    project_train_images: folds.train.length,
    project_val_images: folds.val.length,
    project_train_videos: videos.train.length,
    project_val_videos: videos.val.length,
    video_frames_kept: videos.framesKept,
    clip_size: size,
  });

  // What the clips are drawn from besides the seed: the training images (none when only generated clips).
  const data = await dataDigest([
    ...folds.train.map((item) => ({
      name: `${item.dataset}/${item.name}`,
      files: [item.imagePath, item.annotationPath],
    })),
    ...(folds.videos?.folds.train ?? []).map(({ item }) => ({
      name: `${item.dataset}/${item.name}`,
      files: [item.videoPath, item.annotationPath],
    })),
  ]);
  logger.info('Data digest', { items: data.items, bytes: data.bytes, sha256: data.sha256 });
  const steps = config.epochs * tracking.steps_per_epoch;
  const stepsPerEpoch = tracking.steps_per_epoch;
  const batchSize = config.batch_size.train;
  // Before the models are built: a checkpoint whose run cannot go on under this config fails at once.
  const resume = await readResumePlan({
    paths,
    weightsInitType: config.weights_init_type,
    seed: config.seed,
    dataSha256: data.sha256,
    trainItems: folds.train.length + videos.train.length,
    batchSize,
    itersPerEpoch: stepsPerEpoch,
    epochs: config.epochs,
  });
  const optimizers = trackerOptimizers(config.lr);
  const { restoredOptimizer, ...models } = await initialModels(ctx, opts.network, settings, optimizers);
  const start = startTrackerRun({ ctx, resume, models, optimizers, restoredOptimizer });
  const valEvery = Math.max(1, Math.round(config.val_every * tracking.steps_per_epoch));
  const valRoot = await fsp.mkdtemp(path.join(await scratchDir(paths.tmp), 'tracker-val-'));
  const writer = await CheckpointWriter.create(paths.results);
  const ort = await tryLoadOnnxRuntime(opts.loadOrt);
  let checkpoints = 0;
  // A resumed run goes on with the stopped run's validations and best J&F (best_now continues).
  const bestScore = resume?.kind === 'exact' ? resume.state.validation.best_score : undefined;
  let best = bestScore?.value ?? -Infinity;
  let validations = start?.planner.performed ?? 0;
  const seenBefore = start?.seenCheckpoints ?? 0;
  let lastJf: number | null = null;
  try {
    const val = await writeValidationSet(valRoot, {
      generated: tracking.val_clips,
      frames: tracking.val_frames,
      seed: mixSeed(config.seed, 0x7661),
      project: folds.project,
      valItems: folds.val.slice(0, tracking.val_clips),
      videos: videos.val,
    });
    logger.info('Tracker validation clips.', { sequences: val.length, frames: tracking.val_frames });
    const score = (name: string, make: TrackerFactory): Promise<TrackerScore> =>
      scoreTracker({
        davisRoot: valRoot,
        outDir: path.join(valRoot, 'results', name),
        makeTracker: make,
        sequences: val,
      });
    const baselines: Record<string, number> = {};
    for (const name of ['copy', 'colour-nn'] as const) {
      baselines[name] = (await score(name, async (f, m) => makeBaseline(name, f, m))).jf;
    }
    logger.info('Baselines on the validation clips.', {
      'copy J&F': baselines.copy,
      'colour-nn J&F': baselines['colour-nn'],
    });

    const progress = Progress.start({ logger, subtask: TRACKER_TRAINING_SUBTASK, total: steps });
    if (start !== undefined) progress.setCurrent(start.startStep);
    const cache = new Map<ProjectItem, ObjectsImage>();
    const nextClip = async (
      rand: Random,
      clipSize: { width: number; height: number },
    ): Promise<TrainingClip> => {
      const pick = rand() * (weights.generated + weights.project + weights.video);
      if (pick < weights.video) {
        // decodeVideos kept only videos with clip_frames annotated frames, so a clip comes; a generated one otherwise.
        const video = videos.train[Math.floor(rand() * videos.train.length)];
        const clip = videoClip(video, rand, tracking.clip_frames, clipSize);
        if (clip !== null) return clip;
      }
      const useProject = pick >= weights.video && pick < weights.video + weights.project;
      if (!useProject)
        return generatedClip(trainingClipStyle(clipSize, rand), Math.floor(rand() * 2 ** 31), rand, {
          frames: tracking.clip_frames,
        });
      const item = folds.train[Math.floor(rand() * folds.train.length)];
      let image = cache.get(item);
      if (image === undefined) {
        image = await loadObjectsImage(folds.project as ProjectListing, item, clipSize);
        if (cache.size < IMAGE_CACHE) cache.set(item, image);
      }
      return pseudoClip(image, rand, tracking.clip_frames);
    };
    /** A checkpoint of the models as they are, announced (after a validation, or when a stop comes). */
    const saveCheckpoint = async (
      step: number,
      metrics: Record<string, number> | null,
      bestNow: boolean,
      interrupted?: string,
    ): Promise<void> => {
      const epoch = step / stepsPerEpoch;
      // Where the run is, for an exact continue_training from this checkpoint.
      const state = captureTrainingState({
        run: {
          globalStep: step,
          totalSteps: steps,
          epochs: config.epochs,
          itersPerEpoch: stepsPerEpoch,
          epochFloat: epoch,
        },
        train: {
          epoch: Math.floor(step / stepsPerEpoch),
          batchesDone: step % stepsPerEpoch,
          corruptedBefore: [],
          skippedInEpoch: [],
        },
        valCorrupted: [],
        batchSize,
        trainItems: folds.train.length + videos.train.length,
        planner: { performed: validations },
        bestLoss: null,
        ...(best > -Infinity ? { bestScore: { metric: 'J&F', value: best } } : {}),
        optimizer: { ...optimizers },
        seed: config.seed,
        dataSha256: data.sha256,
        engine: `tfjs (${backend.name})`,
        randomStreams: TRACKER_RANDOM_STREAMS,
      });
      const written = await writer.write({
        config: trackerModelConfig({
          config: {
            network: opts.network.name,
            settings,
            preprocessing: opts.network.preprocessing,
            tracker: {
              local_radius: tracking.local_radius,
              short_side: tracking.short_side,
              clip_size: Math.min(size.width, size.height),
              steps: step,
              ...(metrics === null ? {} : { metrics }),
            },
          },
          trainConfig: config as unknown as Record<string, unknown>,
        }),
        saveWeights: (dir) => saveTrackerModels(dir, models, optimizers),
        extraFiles: { [TRAINING_STATE_FILE]: trainingStateBytes(state) },
      });
      checkpoints += 1;
      reportCheckpoint(logger, {
        id: written.id,
        subdir: written.subdir,
        sizeb: written.sizeb,
        bestNow,
        optional: {
          epoch,
          ...(metrics === null ? {} : { val_metrics: metrics }),
          ...(interrupted === undefined ? {} : { interrupted }),
        },
      });
    };
    // SIGTERM / SIGINT: the step in progress finishes, then the models are saved and announced.
    let stopSignal: string | undefined;
    const stopListening = stopRequests.listen((signal) => (stopSignal ??= signal));
    let lossSum = 0;
    let iouSum = 0;
    let count = 0;
    const reportEvery = Math.max(1, Math.min(10, Math.floor(tracking.steps_per_epoch / 2)));
    const { schedule, from } = trackerSchedule(config.lr_schedule, ctx.given);
    logger.info('Tracker learning rate schedule.', { lr: config.lr, schedule, from });
    const done = await trainTracker({
      models,
      preprocessing: opts.network.preprocessing,
      steps,
      batchSize,
      clipSize: size,
      learningRate: config.lr,
      schedule,
      localRadius: tracking.local_radius,
      seed: config.seed,
      nextClip,
      optimizers,
      ...(start === undefined ? {} : { startStep: start.startStep }),
      validateEvery: valEvery,
      shouldStop: () => stopSignal !== undefined,
      onStep: (s) => {
        if (!Number.isFinite(s.loss)) {
          throw dataError(`the training loss became ${s.loss} at step ${s.step}; lower lr`, { field: 'lr' });
        }
        progress.iterDone(1);
        lossSum += s.loss;
        iouSum += s.iou;
        count += 1;
        if (s.step % reportEvery === 0) {
          reportMetrics(logger, {
            type: 'train',
            epoch: s.step / tracking.steps_per_epoch,
            metrics: { loss: lossSum / count, iou: iouSum / count },
          });
          lossSum = 0;
          iouSum = 0;
          count = 0;
        }
      },
      onValidate: async (step) => {
        if (tracking.precise_bn_batches > 0) {
          const started = Date.now();
          const bn = await trackerPreciseBn({
            models,
            preprocessing: opts.network.preprocessing,
            batches: tracking.precise_bn_batches,
            batchSize,
            clipSize: size,
            localRadius: tracking.local_radius,
            seed: config.seed,
            step,
            nextClip,
            shouldStop: () => stopSignal !== undefined,
          });
          logger.info('Precise batch norm: moving statistics averaged over training batches.', {
            step,
            layers: bn.layers,
            batches: bn.batches,
            seconds: Math.round((Date.now() - started) / 100) / 10,
          });
        }
        const engine: TrackerEngine = ort.ok
          ? await OrtTrackerEngine.create(
              ort.ort,
              { encoderModel: models.encoder, decoderModel: models.decoder },
              os.cpus().length,
            )
          : new TfjsTrackerEngine(models.encoder, models.decoder);
        let r;
        try {
          r = await score(`step-${step}`, (f, m) =>
            MatchTracker.create(engine, f, m, {
              shortSide: tracking.short_side,
              localRadius: tracking.local_radius,
              preprocessing: opts.network.preprocessing,
            }),
          );
        } finally {
          await engine.dispose();
        }
        lastJf = r.jf;
        validations += 1;
        const epoch = step / tracking.steps_per_epoch;
        const metrics = {
          'J&F': r.jf,
          J: r.j,
          F: r.f,
          'copy J&F': baselines.copy,
          'colour-nn J&F': baselines['colour-nn'],
        };
        reportMetrics(logger, { type: 'val', epoch, metrics });
        const bestNow = r.jf > best;
        if (bestNow) best = r.jf;
        await saveCheckpoint(step, metrics, bestNow);
      },
    });
    stopListening();
    const signal = stopRequests.signal;
    if (stopSignal !== undefined && signal !== undefined) {
      await saveCheckpoint(done.steps, null, seenBefore + checkpoints === 0, signal);
      throw new InterruptedError(
        signal,
        `training stopped at step ${done.steps} of ${steps}; its weights are in the last checkpoint announced: ` +
          'continue from it (model/ = that checkpoint)',
      );
    }
    logger.info('Training finished.', { steps, checkpoints, 'J&F': lastJf });
    return { steps, checkpoints, jf: lastJf, baselines };
  } finally {
    await fsp.rm(valRoot, { recursive: true, force: true });
    models.encoder.dispose();
    models.decoder.dispose();
    for (const o of Object.values(optimizers)) o.dispose();
  }
}

/**
 * Says how the run starts (training/resume.ts's line), and for an exact resume checks each model's restored Adam
 * against training_state.json. Returns where a resumed run goes on.
 */
function startTrackerRun(opts: {
  ctx: TrainTaskContext;
  resume: Awaited<ReturnType<typeof readResumePlan>>;
  models: TrackerModels;
  optimizers: TrackerOptimizers;
  restoredOptimizer: boolean;
}): ResumePoint | undefined {
  const { ctx, models, optimizers, restoredOptimizer } = opts;
  return startOfRun({
    resume: opts.resume,
    restoredOptimizer,
    continueTraining: ctx.config.weights_init_type === 'continue_training',
    logger: ctx.logger,
    paths: ctx.paths,
    checkOptimizer: (state, file) => {
      for (const name of TRACKER_MODEL_DIRS) {
        restoreOptimizerForResume({
          state,
          optimizer: optimizers[name],
          trainable: models[name].trainableWeights.map((w) => ({ name: w.originalName, shape: w.shape })),
          restored: restoredOptimizer,
          file,
          weightsFile: displayPath(ctx.paths, path.join(ctx.paths.model, name, WEIGHTS_FILE)),
        });
      }
    },
  });
}

async function scratchDir(tmp: string): Promise<string> {
  try {
    await fsp.mkdir(tmp, { recursive: true });
    return tmp;
  } catch {
    return os.tmpdir();
  }
}

/** The project's items with objects, by fold; empty folds when the project is not used or has none. */
interface ProjectFolds {
  train: ProjectItem[];
  val: ProjectItem[];
  project?: ProjectListing;
  /** When data/ holds a video project instead. */
  videos?: { project: VideoProjectListing; folds: VideoFolds };
}

/** The image project's folds, or the video project's: data/ holds one or the other (or nothing usable). */
async function projectFolds(
  ctx: TrainTaskContext,
  wanted: { images: boolean; videos: boolean },
): Promise<ProjectFolds> {
  const empty = { train: [], val: [] };
  if (!wanted.images && !wanted.videos) return empty;
  let project: ProjectListing;
  try {
    project = await readSingleProject(ctx.paths.data);
  } catch (imageError) {
    if (wanted.videos) {
      let videoProject: VideoProjectListing | undefined;
      try {
        videoProject = await readSingleVideoProject(ctx.paths.data);
      } catch {
        videoProject = undefined; // neither kind: the image reader's reason is the one to report
      }
      if (videoProject !== undefined) {
        const folds = await videoFolds(videoProject, ctx.config.dataset_tags);
        if (folds.train.length === 0) {
          ctx.logger.warn(
            `No video tagged "${ctx.config.dataset_tags.train}" has objects to track; training without the video project.`,
            { videos: folds.train.length + folds.val.length + folds.unused },
          );
        }
        return { ...empty, videos: { project: videoProject, folds } };
      }
    }
    ctx.logger.warn('No input project to make clips from; training on generated clips only.', {
      reason: errorMessage(imageError),
    });
    return empty;
  }
  if (!wanted.images) return empty;
  const scanned = (await scanProject(project)).filter((s) => s.objectCount > 0);
  const split = splitByTags(scanned, ctx.config.dataset_tags);
  if (split.train.length === 0) {
    ctx.logger.warn(
      `No image tagged "${ctx.config.dataset_tags.train}" has objects; training on generated clips only.`,
      { images: [...projectItems(project)].length },
    );
  }
  return { train: split.train.map((s) => s.item), val: split.val.map((s) => s.item), project };
}

/** Decoded frames of a video project kept for training and validation, at most this many bytes (RGB + mask). */
const VIDEO_FRAME_BUDGET = 512 * 2 ** 20;

/** Decodes from a file at a short side: ffmpeg through src/video's reader. */
const defaultScaledFrames: ScaledFrameSource = (file, shortSide) => readVideoFrames(file, { shortSide });

/**
 * Decodes the training videos' annotated frames (short side: the clip's longer side, so a clip is a window of
 * the frame) and the first val_frames annotated frames of up to val_clips val videos, within VIDEO_FRAME_BUDGET.
 */
async function decodeVideos(
  ctx: TrainTaskContext,
  videos: ProjectFolds['videos'],
  size: { width: number; height: number },
  open: ScaledFrameSource,
): Promise<{ train: DecodedVideo[]; val: DecodedVideo[]; framesKept: number }> {
  const out = { train: [] as DecodedVideo[], val: [] as DecodedVideo[], framesKept: 0 };
  if (videos === undefined || videos.folds.train.length === 0) return out;
  const { project, folds } = videos;
  const budget = { bytes: VIDEO_FRAME_BUDGET };
  const shortSide = Math.max(size.width, size.height);
  const tracking = ctx.config.tracking;
  let dropped = 0;
  // Validation first: its few frames must not be crowded out by long training videos.
  for (const video of folds.val.slice(0, tracking.val_clips)) {
    const r = await decodeAnnotatedVideo(project, video, open, shortSide, budget, tracking.val_frames);
    if (r.decoded !== null && r.decoded.frames.length >= 2) out.val.push(r.decoded);
  }
  for (const video of folds.train) {
    const r = await decodeAnnotatedVideo(project, video, open, shortSide, budget);
    dropped += r.dropped;
    if (r.decoded !== null && r.decoded.frames.length >= tracking.clip_frames) out.train.push(r.decoded);
    else if (r.decoded !== null) {
      ctx.logger.warn(
        `Video ${r.decoded.name} has ${r.decoded.frames.length} annotated frames, fewer than tracking.clip_frames (${tracking.clip_frames}); not used for training.`,
      );
    }
  }
  if (dropped > 0) {
    ctx.logger.warn(
      `The video project's annotated frames exceed the ${VIDEO_FRAME_BUDGET / 2 ** 20} MB kept for training; ${dropped} frames were left out.`,
      { dropped_frames: dropped },
    );
  }
  out.framesKept = [...out.train, ...out.val].reduce((n, v) => n + v.frames.length, 0);
  return out;
}

/**
 * Fresh models (seeded), or the checkpoint in model/ when it is a tracker's; with continue_training, its Adam
 * states too when it has them (`restoredOptimizer`).
 */
async function initialModels(
  ctx: TrainTaskContext,
  network: AnyTrackerNetwork,
  settings: unknown,
  optimizers: TrackerOptimizers,
): Promise<TrackerModels & { restoredOptimizer: boolean }> {
  const hasModel = await fsp
    .stat(ctx.paths.modelConfig)
    .then(() => true)
    .catch(() => false);
  if (hasModel) {
    await readTrackerConfig(ctx.paths.model); // a checkpoint of another task is an error naming its config.json
    ctx.logger.info('Building model: from the tracker checkpoint in model/.', {
      weights_init_type: ctx.config.weights_init_type,
    });
    const continueTraining = ctx.config.weights_init_type === 'continue_training';
    return loadTrackerModels(ctx.paths.model, continueTraining ? optimizers : undefined);
  }
  ctx.logger.info('Building model: a fresh tracker.', { settings });
  return withSeededRandom(ctx.config.seed, () => ({
    encoder: network.buildEncoder(settings),
    decoder: network.buildDecoder(settings),
    restoredOptimizer: false,
  }));
}

/** Writes the validation sequences in DAVIS layout; returns their names. */
async function writeValidationSet(
  dir: string,
  opts: {
    generated: number;
    frames: number;
    seed: number;
    project?: ProjectListing;
    valItems: ProjectItem[];
    videos: readonly DecodedVideo[];
  },
): Promise<string[]> {
  const names: string[] = [];
  const style = heldOutClipStyle(VAL_SIZE, opts.frames);
  for (let c = 0; c < opts.generated; c++) {
    const name = `generated-${String(c).padStart(3, '0')}`;
    await writeDavisSequence(dir, name, VAL_SIZE, renderClip(style, mixSeed(opts.seed, c)));
    names.push(name);
  }
  if (opts.project !== undefined) {
    for (const [i, item] of opts.valItems.entries()) {
      const image = await loadObjectsImage(opts.project, item, VAL_SIZE);
      const name = `project-${String(i).padStart(3, '0')}`;
      await writeDavisSequence(
        dir,
        name,
        VAL_SIZE,
        warpedFrames(image, opts.frames, mulberry32(mixSeed(opts.seed, 1, i))),
      );
      names.push(name);
    }
  }
  for (const [i, video] of opts.videos.entries()) {
    const name = `video-${String(i).padStart(3, '0')}`;
    await writeDavisSequence(dir, name, video, validationFrames(video, opts.frames));
    names.push(name);
  }
  await writeDavisList(dir, 'val', names);
  return names;
}
