/**
 * One training or validation sample, from the project on disk to the numbers the step engine takes (spec E.5,
 * G.2): the annotation is read and checked against the project meta; the image is decoded and resized to the
 * network input (bilinear); the ground truth is drawn at the annotation's size with the drawing class map
 * (the neutral class at the ignore index) and resized to the input by nearest neighbour; seeded flips are
 * applied to both; the image is normalised with the network's statistics. `collateSamples` stacks samples
 * into the engine's Batch.
 *
 * `prepareSample` is the pure part (tested on its own); `loadSample` adds the reading and decoding.
 */

import { TaskError } from '../../errors';
import type { Annotation, ImageSize } from '../../format/model';
import type { ProjectItem, ProjectListing } from '../../format/project-reader';
import { projectDisplayPath, readItemAnnotation } from '../../format/project-reader';
import type { ClassIndexMap } from '../../format/rasterise';
import { rasteriseAnnotation } from '../../format/rasterise';
import { decodeImage, type DecodedImage } from '../../image/decode';
import type { ChannelStats } from '../../image/normalise';
import { normaliseRgbInto } from '../../image/normalise';
import { resizeNearest } from '../../image/resize-nearest';
import type { FlipProbabilities, Flips } from '../augment';
import { applyFlips, drawFlips, NO_FLIPS } from '../augment';
import type { Batch } from '../engine/types';
import { mixSeed, mulberry32 } from '../../util/random';
import { cropResizeRgb } from '../../image/crop-resize';
import {
  colourJitter,
  gridPlacements,
  PAD_LABEL,
  randomPlacement,
  sourceRect,
  type Placement,
} from './native-crops';

/** How every sample of a run is made; the same for all samples of a fold. */
export interface SampleRecipe {
  /** The network input size: images and masks are resized to it. */
  inputSize: ImageSize;
  /** Class title -> pixel value for drawing the ground truth (the neutral class at the ignore index). */
  drawingClassToIdx: ClassIndexMap;
  /** The value of pixels no object covers: the background index, or the ignore index without a background. */
  fill: number;
  /** The network's input normalisation. */
  preprocessing: ChannelStats;
  /** Flip probabilities (0 or 0.5 from the config); validation passes none. */
  flips?: FlipProbabilities;
  /**
   * Native-resolution windows instead of the whole image squeezed to the input (native-crops.ts): one random
   * window at `scale` times a log-uniform factor in `randomScale` (training), or the grid at `scale` when
   * `randomScale` is absent (validation).
   */
  native?: { scale: number; randomScale?: readonly [number, number] };
  /** Colour jitter strength in [0, 1] (training only; 0 or absent: none). */
  colourJitter?: number;
}

/** Where a sample's randomness comes from: the config seed, the epoch and the sample's index in its fold. */
export interface SampleSeed {
  seed: number;
  epoch: number;
  index: number;
}

/** One sample, ready to be batched: HWC float image and HW class indices at the input size. */
export interface Sample {
  x: Float32Array;
  y: Int32Array;
  height: number;
  width: number;
  /** The flips that were applied (for tests and debugging). */
  flips: Flips;
}

/** The probabilities the config's `augment` switches stand for: a fair coin when on. */
export function flipProbabilities(augment: {
  flip_horizontal: boolean;
  flip_vertical: boolean;
}): FlipProbabilities {
  return { horizontal: augment.flip_horizontal ? 0.5 : 0, vertical: augment.flip_vertical ? 0.5 : 0 };
}

/** The flips of one sample: a function of (seed, epoch, index) only, so a run can be repeated exactly. */
export function sampleFlips(probabilities: FlipProbabilities | undefined, seed: SampleSeed): Flips {
  if (probabilities === undefined || (probabilities.horizontal === 0 && probabilities.vertical === 0)) {
    return { ...NO_FLIPS };
  }
  return drawFlips(mulberry32(mixSeed(seed.seed, seed.epoch, seed.index)), probabilities);
}

/**
 * The pure part of a sample: `rgb` is already at the input size; `mask` is at `maskSize` (the annotation's
 * size) and is resized here by nearest neighbour.
 */
export function prepareSample(opts: {
  rgb: Uint8Array;
  mask: Uint8Array | Int32Array;
  maskSize: ImageSize;
  recipe: SampleRecipe;
  flips: Flips;
}): Sample {
  const { height, width } = opts.recipe.inputSize;
  if (opts.rgb.length !== height * width * 3) {
    throw new RangeError(`image has ${opts.rgb.length} bytes, expected ${width}x${height}x3`);
  }
  const resized = resizeNearest(opts.mask, opts.maskSize, opts.recipe.inputSize);
  const image = applyFlips({ data: opts.rgb, height, width, channels: 3 }, opts.flips);
  const mask = applyFlips({ data: resized, height, width, channels: 1 }, opts.flips);
  const x = new Float32Array(height * width * 3);
  normaliseRgbInto(image.data, x, 0, opts.recipe.preprocessing);
  const y = mask.data instanceof Int32Array ? mask.data : Int32Array.from(mask.data);
  return { x, y, height, width, flips: { ...opts.flips } };
}

/**
 * An item's annotation (checked against the project meta) and its image decoded at `size` (checked against the
 * annotation's size), or at its own size when `size` is absent. Errors name the file; callers add the item.
 */
export async function readItemAtSize(
  project: ProjectListing,
  item: ProjectItem,
  size?: { width: number; height: number },
): Promise<{ annotation: Annotation; image: DecodedImage }> {
  const annotation = await readItemAnnotation(project, item);
  const image = await decodeImage(item.imagePath, {
    expectedSize: annotation.size,
    ...(size === undefined ? {} : { resize: size }),
    displayName: projectDisplayPath(project, item.imagePath),
  });
  return { annotation, image };
}

/**
 * `readItemAtSize` plus the item's ground truth at the annotation's size, drawn with the recipe's class map, and
 * `use` applied to them. Failures are data errors naming the file and the item.
 */
async function withItemGroundTruth<T>(
  opts: { project: ProjectListing; item: ProjectItem; recipe: SampleRecipe; size?: ImageSize },
  use: (read: {
    annotation: Annotation;
    image: DecodedImage;
    mask: Uint8Array | Int32Array;
  }) => Promise<T> | T,
): Promise<T> {
  const { project, item, recipe } = opts;
  try {
    const { annotation, image } = await readItemAtSize(project, item, opts.size);
    const mask = rasteriseAnnotation(annotation, {
      classToIndex: recipe.drawingClassToIdx,
      fill: recipe.fill,
      file: projectDisplayPath(project, item.annotationPath),
    });
    return await use({ annotation, image, mask });
  } catch (e) {
    // The format and image layers name the file; the item (dataset/image) is added for the reader.
    throw e instanceof TaskError ? e.withContext({ item: `${item.dataset}/${item.name}` }) : e;
  }
}

/**
 * Reads one item: its annotation (checked against the project meta), its image (decoded at the input size)
 * and its ground truth. Failures are data errors naming the file and the item.
 */
export function loadSample(opts: {
  project: ProjectListing;
  item: ProjectItem;
  recipe: SampleRecipe;
  seed: SampleSeed;
}): Promise<Sample> {
  const { recipe } = opts;
  return withItemGroundTruth({ ...opts, size: recipe.inputSize }, ({ annotation, image, mask }) =>
    prepareSample({
      rgb: image.data,
      mask,
      maskSize: annotation.size,
      recipe,
      flips: sampleFlips(recipe.flips, opts.seed),
    }),
  );
}

/** Where a sample's crop and colour randomness comes from: apart from the flips' stream, so those stay as they were. */
const CROP_STREAM = 0x6372_6f70;

/**
 * Native-resolution samples of one item (`recipe.native`): one random window (training) or the validation grid,
 * each an input-sized sample whose padding is labelled PAD_LABEL. Errors name the file and the item.
 */
export async function loadNativeSamples(opts: {
  project: ProjectListing;
  item: ProjectItem;
  recipe: SampleRecipe;
  seed: SampleSeed;
}): Promise<Sample[]> {
  const { recipe } = opts;
  const native = recipe.native;
  if (native === undefined) throw new Error('loadNativeSamples needs recipe.native');
  return withItemGroundTruth(opts, async ({ image, mask }) => {
    const size = { width: image.width, height: image.height };
    const rand = mulberry32(mixSeed(opts.seed.seed, opts.seed.epoch, opts.seed.index, CROP_STREAM));
    const placements =
      native.randomScale === undefined
        ? gridPlacements(size, recipe.inputSize, native.scale)
        : [
            randomPlacement({
              rand,
              image: size,
              input: recipe.inputSize,
              scale: native.scale,
              randomScale: native.randomScale,
            }),
          ];
    const flips = sampleFlips(recipe.flips, opts.seed);
    const out: Sample[] = [];
    for (const placement of placements) {
      const rgb = await cropResizeRgb(image, sourceRect(placement), {
        width: placement.x.dstLength,
        height: placement.y.dstLength,
      });
      if (recipe.colourJitter !== undefined && recipe.colourJitter > 0) {
        colourJitter(rgb, rand, recipe.colourJitter);
      }
      out.push(placeSample({ rgb, mask, maskSize: size, placement, recipe, flips }));
    }
    return out;
  });
}

/**
 * One window as an input-sized sample: the resized crop `rgb` (dst size) normalised into place, the mask's
 * source rectangle resized by nearest neighbour beside it, padding 0 (the mean colour) and PAD_LABEL; then flips.
 */
export function placeSample(opts: {
  rgb: Uint8Array;
  mask: Uint8Array | Int32Array;
  maskSize: ImageSize;
  placement: Placement;
  recipe: SampleRecipe;
  flips: Flips;
}): Sample {
  const { placement: p, recipe } = opts;
  const { height, width } = recipe.inputSize;
  const dstW = p.x.dstLength;
  const dstH = p.y.dstLength;
  if (opts.rgb.length !== dstW * dstH * 3) {
    throw new RangeError(`the crop has ${opts.rgb.length} bytes, expected ${dstW}x${dstH}x3`);
  }
  const crop = new Int32Array(p.x.srcLength * p.y.srcLength);
  for (let y = 0; y < p.y.srcLength; y += 1) {
    const from = (p.y.srcStart + y) * opts.maskSize.width + p.x.srcStart;
    for (let x = 0; x < p.x.srcLength; x += 1) crop[y * p.x.srcLength + x] = opts.mask[from + x];
  }
  const labels = resizeNearest(
    crop,
    { width: p.x.srcLength, height: p.y.srcLength },
    { width: dstW, height: dstH },
  );
  const rows = new Float32Array(dstW * dstH * 3);
  normaliseRgbInto(opts.rgb, rows, 0, recipe.preprocessing);
  const x = new Float32Array(height * width * 3);
  const y = new Int32Array(height * width).fill(PAD_LABEL);
  for (let r = 0; r < dstH; r += 1) {
    const at = (p.y.dstStart + r) * width + p.x.dstStart;
    x.set(rows.subarray(r * dstW * 3, (r + 1) * dstW * 3), at * 3);
    y.set(labels.subarray(r * dstW, (r + 1) * dstW), at);
  }
  const image = applyFlips({ data: x, height, width, channels: 3 }, opts.flips);
  const mask = applyFlips({ data: y, height, width, channels: 1 }, opts.flips);
  return { x: image.data, y: mask.data, height, width, flips: { ...opts.flips } };
}

/** What collating needs of a sample: an HWC float input (any channel count) and HW labels. */
export interface CollatableSample {
  x: Float32Array;
  y: Int32Array;
  height: number;
  width: number;
}

/**
 * Stacks samples of one size into the engine's batch: their inputs as one NHWC tensor named `inputName`, their
 * labels as NHW.
 */
export function collateSamples(samples: readonly CollatableSample[], inputName: string): Batch {
  if (samples.length === 0) throw new RangeError('cannot make a batch of no samples');
  const { height, width } = samples[0];
  const pixels = height * width;
  const values = samples[0].x.length;
  const x = new Float32Array(samples.length * values);
  const y = new Int32Array(samples.length * pixels);
  samples.forEach((s, i) => {
    if (s.height !== height || s.width !== width || s.x.length !== values) {
      throw new RangeError(
        `sample ${i} is ${s.width}x${s.height}x${s.x.length / (s.height * s.width)}, ` +
          `the batch is ${width}x${height}x${values / pixels}`,
      );
    }
    x.set(s.x, i * values);
    y.set(s.y, i * pixels);
  });
  const n = samples.length;
  return {
    inputs: { [inputName]: { data: x, shape: [n, height, width, values / pixels] } },
    labels: { data: y, shape: [n, height, width] },
  };
}
