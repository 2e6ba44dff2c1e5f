/**
 * Native-resolution sampling (`resolution.mode: native`): instead of squeezing the whole image into the network
 * input, which turns a 2 px pole of a 480x360 image into a fraction of a pixel at 128x128, the network sees
 * input-sized windows of the image at `resolution.scale` (1 = the image's own pixels), as the usual recipes for
 * small networks trained from scratch do (ENet, BiSeNet: random scale, crop, flip).
 *
 * - Training: one random window per image, at scale `scale * r`, r log-uniform in `augment.random_scale`.
 * - Validation: the image cut into a grid of windows at `scale`, so every image pixel is scored exactly once.
 * Where a window runs past the image (a small image, the grid's last column), the input is padded: the image
 * with zeros after normalisation (the data's mean colour) and the labels with PAD_LABEL, which neither the loss
 * nor the metrics count.
 *
 * Placements are pure functions of the sizes and a seeded Random, so a run repeats exactly.
 */
import type { ImageSize } from '../../format/model';
import type { PixelRect } from '../../image/crop-resize';
import type { Random } from '../../util/random';
import { UNCOUNTED_LABEL } from '../engine/types';

/** The label of padding pixels: every engine leaves it out of the loss and the metrics (prepareLabels). */
export const PAD_LABEL = UNCOUNTED_LABEL;

/** Where one axis of a window comes from in the image and where it lands in the input. */
export interface AxisPlacement {
  /** First image pixel and how many (at least 1). */
  srcStart: number;
  srcLength: number;
  /** First input pixel and how many (at least 1); the rest of the input axis is padding. */
  dstStart: number;
  dstLength: number;
}

/** A window: the image rectangle and the input rectangle it is resized into. */
export interface Placement {
  x: AxisPlacement;
  y: AxisPlacement;
}

/**
 * One random window along an axis: `input / scale` image pixels at a uniform offset when the image is longer;
 * else the whole axis, resized by `scale`, at a uniform offset in the input (the rest padded).
 */
export function randomAxisPlacement(
  rand: Random,
  image: number,
  input: number,
  scale: number,
): AxisPlacement {
  const window = input / scale;
  if (window <= image) {
    const srcLength = Math.max(1, Math.min(image, Math.round(window)));
    const srcStart = Math.floor(rand() * (image - srcLength + 1));
    return { srcStart, srcLength, dstStart: 0, dstLength: input };
  }
  const dstLength = Math.max(1, Math.min(input, Math.round(image * scale)));
  const dstStart = Math.floor(rand() * (input - dstLength + 1));
  return { srcStart: 0, srcLength: image, dstStart, dstLength };
}

/**
 * The grid along an axis at `scale`: consecutive windows of `input / scale` image pixels that partition the
 * axis; the last one, shorter, lands at the input's start with padding after it.
 */
export function gridAxisPlacements(image: number, input: number, scale: number): AxisPlacement[] {
  const window = input / scale;
  // Window boundaries in image pixels; rounding can make two meet, so the empty windows are dropped.
  const starts = new Set<number>();
  for (let i = 0; i * window < image; i += 1) starts.add(Math.round(i * window));
  const bounds = [...starts].filter((b) => b < image);
  bounds.push(image);
  const out: AxisPlacement[] = [];
  for (let i = 0; i + 1 < bounds.length; i += 1) {
    const srcLength = bounds[i + 1] - bounds[i];
    const last = i + 2 === bounds.length;
    const dstLength = last ? Math.max(1, Math.min(input, Math.round(srcLength * scale))) : input;
    out.push({ srcStart: bounds[i], srcLength, dstStart: 0, dstLength });
  }
  return out;
}

/** A training window at a random scale in `randomScale` (log-uniform: halving and doubling equally likely). */
export function randomPlacement(opts: {
  rand: Random;
  image: ImageSize;
  input: ImageSize;
  scale: number;
  randomScale: readonly [number, number];
}): Placement {
  const [lo, hi] = opts.randomScale;
  const r = Math.exp(Math.log(lo) + opts.rand() * (Math.log(hi) - Math.log(lo)));
  const scale = opts.scale * r;
  const x = randomAxisPlacement(opts.rand, opts.image.width, opts.input.width, scale);
  const y = randomAxisPlacement(opts.rand, opts.image.height, opts.input.height, scale);
  return { x, y };
}

/** The validation grid, rows then columns. */
export function gridPlacements(image: ImageSize, input: ImageSize, scale: number): Placement[] {
  const xs = gridAxisPlacements(image.width, input.width, scale);
  const ys = gridAxisPlacements(image.height, input.height, scale);
  return ys.flatMap((y) => xs.map((x) => ({ x, y })));
}

/** The image rectangle of a placement (inclusive, as the image crop takes it). */
export function sourceRect(p: Placement): PixelRect {
  return {
    left: p.x.srcStart,
    top: p.y.srcStart,
    right: p.x.srcStart + p.x.srcLength - 1,
    bottom: p.y.srcStart + p.y.srcLength - 1,
  };
}

/**
 * Random brightness, contrast and saturation, each a factor in [1 - strength, 1 + strength] (torchvision's
 * ColorJitter order), in place on RGB bytes. Three numbers are always drawn, so streams stay in step.
 */
export function colourJitter(rgb: Uint8Array, rand: Random, strength: number): void {
  const brightness = 1 + (2 * rand() - 1) * strength;
  const contrast = 1 + (2 * rand() - 1) * strength;
  const saturation = 1 + (2 * rand() - 1) * strength;
  if (strength === 0) return;
  let grey = 0;
  for (let i = 0; i < rgb.length; i += 3) grey += 0.299 * rgb[i] + 0.587 * rgb[i + 1] + 0.114 * rgb[i + 2];
  // Contrast pivots on the mean grey after brightness, as torchvision's adjust_contrast does.
  const mean = (grey / Math.max(1, rgb.length / 3)) * brightness;
  for (let i = 0; i < rgb.length; i += 3) {
    let r = rgb[i] * brightness;
    let g = rgb[i + 1] * brightness;
    let b = rgb[i + 2] * brightness;
    r = mean + (r - mean) * contrast;
    g = mean + (g - mean) * contrast;
    b = mean + (b - mean) * contrast;
    const l = 0.299 * r + 0.587 * g + 0.114 * b;
    rgb[i] = toByte(l + (r - l) * saturation);
    rgb[i + 1] = toByte(l + (g - l) * saturation);
    rgb[i + 2] = toByte(l + (b - l) * saturation);
  }
}

/** A Uint8Array wraps out-of-range values modulo 256: clamp and round first. */
function toByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}
