/**
 * Test-time adaptation (OSVOS, Lucid Data Dreaming): before a video is tracked, a copy of the tracker is trained
 * for a few steps on pseudo-clips of that video's first frame and mask (project-clips.ts's random affine warps),
 * so it learns this object against this background: what generic training cannot know. Then the adapted models
 * track the video, on tfjs or exported to onnxruntime for it, and the next video starts again from the
 * checkpoint's weights. Measured on held-out generated clips (docs/benchmarks.md): 20 steps raise J&F most on
 * objects told from the background by texture alone, at seconds per video before its first frame.
 */
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { initBackend } from '../../backend/select';
import { resizeNearest } from '../../image/resize-nearest';
import type { OrtModule } from '../../onnx/runtime';
import type { Frame, FrameTracker, TrackerFactory } from './baselines';
import { MatchTracker, type MatchTrackerOptions } from './match-tracker';
import { pseudoClip, type ObjectsImage } from './project-clips';
import {
  loadTracker,
  loadTrackerModels,
  readTrackerConfig,
  trackerOptions,
  type LoadedTracker,
  type TrackerCheckpointConfig,
} from './tracker-checkpoint';
import { OrtTrackerEngine, TfjsTrackerEngine, type TrackerEngine } from './tracker-engines';
import { trackerOptimizers, trainTracker, type TrackerModels } from './train-tracker';

export interface AdaptOptions {
  /** Training steps on the first frame (0: no adaptation). */
  steps: number;
  /** Adam's rate (3e-4: J&F 0.716 on the example's held-out clips, 1e-3: 0.694, with 20 steps). */
  learningRate?: number;
  /** Pseudo-clips a step (default 4). */
  batchSize?: number;
  /** The pseudo-clips' short side (default 96, the training clips'); the long side keeps the frame's aspect. */
  clipShortSide?: number;
  seed?: number;
  /** After each step. */
  onStep?: (step: number, steps: number) => void;
}

export const ADAPT_DEFAULTS = { learningRate: 3e-4, batchSize: 4, clipShortSide: 96, seed: 1 };

/** The first frame and its mask at the pseudo-clips' size: short side `short`, sides multiples of 8. */
export async function firstFrameImage(first: Frame, mask: Uint8Array, short: number): Promise<ObjectsImage> {
  const scale = short / Math.min(first.width, first.height);
  const round8 = (v: number): number => Math.max(8, Math.round((v * scale) / 8) * 8);
  // The long side at most 2.5 times the short: a panorama must not make every step costly.
  const width = Math.min(round8(first.width), Math.round((2.5 * short) / 8) * 8);
  const height = Math.min(round8(first.height), Math.round((2.5 * short) / 8) * 8);
  const rgb = new Uint8Array(
    await sharp(first.rgb, { raw: { width: first.width, height: first.height, channels: 3 } })
      .resize(width, height, { fit: 'fill' })
      .raw()
      .toBuffer(),
  );
  return { width, height, rgb, ids: resizeNearest(mask, first, { width, height }) };
}

/** Trains `models` in place on pseudo-clips of the first frame; its Adam is made and freed here. */
export async function adaptToFirstFrame(
  models: TrackerModels,
  first: Frame,
  mask: Uint8Array,
  tracking: Pick<MatchTrackerOptions, 'preprocessing' | 'localRadius'>,
  opts: AdaptOptions,
): Promise<void> {
  if (opts.steps <= 0) return;
  const o = { ...ADAPT_DEFAULTS, ...opts };
  const image = await firstFrameImage(first, mask, o.clipShortSide);
  const optimizers = trackerOptimizers(o.learningRate);
  try {
    await trainTracker({
      models,
      preprocessing: tracking.preprocessing,
      steps: o.steps,
      batchSize: o.batchSize,
      clipSize: { width: image.width, height: image.height },
      learningRate: o.learningRate,
      localRadius: tracking.localRadius,
      seed: o.seed,
      nextClip: (rand) => pseudoClip(image, rand, 3),
      optimizers,
      onStep: (s) => opts.onStep?.(s.step, s.steps),
    });
  } finally {
    optimizers.encoder.dispose();
    optimizers.decoder.dispose();
  }
}

export interface AdaptingTrackerOptions {
  engine: 'onnxruntime' | 'tfjs';
  /** With engine onnxruntime. */
  ort?: OrtModule;
  threads?: number;
  shortSide?: number;
  adapt: AdaptOptions;
}

/** A checkpoint's trackers, one video after another, and what they were read from. */
export interface CheckpointTracker {
  make: TrackerFactory;
  close: () => Promise<void>;
  config: TrackerCheckpointConfig;
  options: MatchTrackerOptions;
}

/**
 * The trackers of a checkpoint: with `adapt.steps` > 0 an adapted copy per video (adaptingTrackerFactory), else
 * one engine for every video. It brings the tfjs backend up when the engine is tfjs or adaptation is asked for
 * (adaptation trains on tfjs); onnxruntime alone never starts one.
 */
export async function openCheckpointTracker(
  dir: string,
  opts: Omit<AdaptingTrackerOptions, 'adapt'> & { adapt?: AdaptOptions },
): Promise<CheckpointTracker> {
  const adapt = opts.adapt !== undefined && opts.adapt.steps > 0 ? opts.adapt : undefined;
  if (opts.engine === 'tfjs' || adapt !== undefined) await initBackend();
  if (adapt !== undefined) return adaptingTrackerFactory(dir, { ...opts, adapt });
  const shortSide = opts.shortSide === undefined ? {} : { shortSide: opts.shortSide };
  let loaded: LoadedTracker;
  if (opts.engine === 'onnxruntime') {
    if (opts.ort === undefined) throw new Error('engine onnxruntime needs the onnxruntime module');
    loaded = await loadTracker(dir, {
      engine: 'onnxruntime',
      ort: opts.ort,
      threads: opts.threads ?? 1,
      ...shortSide,
    });
  } else {
    loaded = await loadTracker(dir, { engine: 'tfjs', ...shortSide });
  }
  return {
    make: (first, mask) => MatchTracker.create(loaded.engine, first, mask, loaded.options),
    close: () => loaded.engine.dispose(),
    config: loaded.config,
    options: loaded.options,
  };
}

/**
 * A TrackerFactory over a checkpoint that adapts to each video's first frame before tracking it. One video at a
 * time (its models are the adapted copy): a second tracker while one is open is an error.
 */
export async function adaptingTrackerFactory(
  dir: string,
  opts: AdaptingTrackerOptions,
): Promise<CheckpointTracker> {
  const config = await readTrackerConfig(dir);
  const options = trackerOptions(config, opts.shortSide);
  const { encoder, decoder } = await loadTrackerModels(dir);
  // The checkpoint's weights (BatchNorm statistics included), put back before each video.
  const original = {
    encoder: encoder.getWeights().map((w) => w.clone()),
    decoder: decoder.getWeights().map((w) => w.clone()),
  };
  let open = false;
  const make: TrackerFactory = async (first, mask) => {
    if (open) throw new Error('an adapting tracker follows one video at a time; dispose the last one first');
    open = true;
    let engine: TrackerEngine | undefined;
    try {
      encoder.setWeights(original.encoder);
      decoder.setWeights(original.decoder);
      await adaptToFirstFrame({ encoder, decoder }, first, mask, options, opts.adapt);
      if (opts.engine === 'onnxruntime') {
        if (opts.ort === undefined) throw new Error('engine onnxruntime needs the onnxruntime module');
        engine = await OrtTrackerEngine.create(
          opts.ort,
          { encoderModel: encoder, decoderModel: decoder },
          opts.threads ?? 1,
        );
      } else {
        engine = new TfjsTrackerEngine(encoder, decoder);
      }
      const tracker = await MatchTracker.create(engine, first, mask, options);
      const owned = engine;
      const wrapped: FrameTracker = {
        next: (frame, added) => tracker.next(frame, added),
        dispose: async () => {
          await tracker.dispose();
          // The tfjs engine's models are the factory's: only the per-video onnxruntime sessions go.
          if (owned instanceof OrtTrackerEngine) await owned.dispose();
          open = false;
        },
      };
      return wrapped;
    } catch (e) {
      if (engine instanceof OrtTrackerEngine) await engine.dispose();
      open = false;
      throw e;
    }
  };
  return {
    make,
    config,
    options,
    close: () => {
      tf.dispose([...original.encoder, ...original.decoder]);
      encoder.dispose();
      decoder.dispose();
      return Promise.resolve();
    },
  };
}
