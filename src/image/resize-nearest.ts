/**
 * Nearest-neighbour resize for class-index masks, as the SDK's `resize_inter_nearest` (skimage, order=0):
 * output pixel i samples input pixel floor((i + 0.5) * in / out), the pixel under its centre.
 */

import type { ImageSize } from '../format/model';

export function nearestSourceIndex(i: number, inSize: number, outSize: number): number {
  // Integer arithmetic: (2i + 1) * in / (2 * out), floored, never past the last pixel.
  return Math.min(Math.floor(((2 * i + 1) * inSize) / (2 * outSize)), inSize - 1);
}

export function resizeNearest<T extends Uint8Array | Int32Array>(mask: T, from: ImageSize, to: ImageSize): T {
  if (mask.length !== from.width * from.height) {
    throw new Error(`mask has ${mask.length} pixels, expected ${from.width}x${from.height}`);
  }
  if (to.width < 1 || to.height < 1) throw new Error(`cannot resize to ${to.width}x${to.height}`);
  const out = new (mask.constructor as new (n: number) => T)(to.width * to.height);
  const columns = Array.from({ length: to.width }, (_, x) => nearestSourceIndex(x, from.width, to.width));
  for (let y = 0; y < to.height; y++) {
    const src = nearestSourceIndex(y, from.height, to.height) * from.width;
    const dst = y * to.width;
    for (let x = 0; x < to.width; x++) out[dst + x] = mask[src + columns[x]];
  }
  return out;
}
