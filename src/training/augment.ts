/**
 * Flips for training augmentation, applied consistently to an image and its mask so every pixel keeps its
 * label. Rasters are HWC, row-major, of any typed array (uint8 images, float images, int32 masks). Pure: new
 * arrays out, inputs untouched; randomness comes from a seeded `Random`.
 */

import type { Random } from '../util/random';

export type PixelArray =
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** HWC raster: `data[(y * width + x) * channels + c]`. */
export interface Raster<T extends PixelArray = PixelArray> {
  data: T;
  height: number;
  width: number;
  channels: number;
}

export interface Flips {
  horizontal: boolean;
  vertical: boolean;
}

/** Probabilities of each flip, in [0, 1]. */
export interface FlipProbabilities {
  horizontal: number;
  vertical: number;
}

export const NO_FLIPS: Readonly<Flips> = { horizontal: false, vertical: false };

function checkRaster(r: Raster, what: string): void {
  const { height, width, channels } = r;
  if (![height, width, channels].every((v) => Number.isInteger(v) && v > 0)) {
    throw new RangeError(
      `${what}: height, width and channels must be positive integers, got ${height}x${width}x${channels}`,
    );
  }
  if (r.data.length !== height * width * channels) {
    throw new RangeError(`${what}: ${r.data.length} values for ${height}x${width}x${channels}`);
  }
}

/** Mirror left-right. */
export function flipHorizontal<T extends PixelArray>(r: Raster<T>): Raster<T> {
  checkRaster(r, 'raster');
  const { data, height, width, channels } = r;
  const out = data.slice() as T;
  for (let y = 0; y < height; y += 1) {
    const row = y * width;
    for (let x = 0; x < width; x += 1) {
      const src = (row + width - 1 - x) * channels;
      const dst = (row + x) * channels;
      for (let c = 0; c < channels; c += 1) out[dst + c] = data[src + c];
    }
  }
  return { data: out, height, width, channels };
}

/** Mirror top-bottom. */
export function flipVertical<T extends PixelArray>(r: Raster<T>): Raster<T> {
  checkRaster(r, 'raster');
  const { data, height, width, channels } = r;
  const out = data.slice() as T;
  const rowLength = width * channels;
  for (let y = 0; y < height; y += 1) {
    const src = (height - 1 - y) * rowLength;
    out.set(data.subarray(src, src + rowLength), y * rowLength);
  }
  return { data: out, height, width, channels };
}

/** A new raster with the flips applied (a copy when there are none: callers may own the result). */
export function applyFlips<T extends PixelArray>(r: Raster<T>, flips: Flips): Raster<T> {
  if (!flips.horizontal && !flips.vertical) {
    checkRaster(r, 'raster');
    return { ...r, data: r.data.slice() as T };
  }
  const mirrored = flips.horizontal ? flipHorizontal(r) : r;
  return flips.vertical ? flipVertical(mirrored) : mirrored;
}

/** Draws which flips to apply: one number from `rand` per flip, always two, so streams stay in step. */
export function drawFlips(rand: Random, p: FlipProbabilities): Flips {
  for (const [name, v] of Object.entries(p)) {
    if (!(v >= 0 && v <= 1)) throw new RangeError(`flip probability ${name} must be in [0, 1], got ${v}`);
  }
  const h = rand();
  const v = rand();
  return { horizontal: h < p.horizontal, vertical: v < p.vertical };
}

/** The same random flips on an image and its mask, which must have the same height and width. */
export function augmentPair<I extends PixelArray, M extends PixelArray>(opts: {
  image: Raster<I>;
  mask: Raster<M>;
  flips: FlipProbabilities;
  rand: Random;
}): { image: Raster<I>; mask: Raster<M>; flips: Flips } {
  const { image, mask } = opts;
  if (image.height !== mask.height || image.width !== mask.width) {
    throw new RangeError(`image is ${image.height}x${image.width} but mask is ${mask.height}x${mask.width}`);
  }
  checkRaster(image, 'image');
  checkRaster(mask, 'mask');
  const flips = drawFlips(opts.rand, opts.flips);
  return { image: applyFlips(image, flips), mask: applyFlips(mask, flips), flips };
}
