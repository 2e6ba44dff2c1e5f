/** The `sliding_window` mode's windows, exactly as the SDK's `SlidingWindows` (spec F.3). */

import { configError } from '../../errors';
import type { Rect, Size } from '../rect';

export interface SlidingWindowOptions {
  readonly image: Size;
  /** `mode.window`. */
  readonly window: { readonly width: number; readonly height: number };
  /** `mode.min_overlap`. */
  readonly minOverlap: { readonly x: number; readonly y: number };
}

/**
 * Window positions, rows then columns. Along each axis the starts are `0, s, 2s, ...` below `limit + s`
 * (`limit` = image side - window side, `s` = window - overlap), each clamped to `limit`, so the last window
 * touches the far edge and the image is covered.
 */
export function slidingWindows(opts: SlidingWindowOptions): Rect[] {
  const { image, window, minOverlap } = opts;
  checkPositiveInt(window.width, 'mode.window.width');
  checkPositiveInt(window.height, 'mode.window.height');
  checkNonNegativeInt(minOverlap.x, 'mode.min_overlap.x');
  checkNonNegativeInt(minOverlap.y, 'mode.min_overlap.y');
  const strideY = window.height - minOverlap.y;
  const strideX = window.width - minOverlap.x;
  if (strideY < 1 || strideX < 1) {
    const field = strideY < 1 ? 'mode.min_overlap.y' : 'mode.min_overlap.x';
    throw configError(
      `overlap is too high: the window (${window.width}x${window.height}, width x height) minus the overlap ` +
        `(x ${minOverlap.x}, y ${minOverlap.y}) must leave a step of at least 1 pixel`,
      { field },
    );
  }
  if (window.height > image.height || window.width > image.width) {
    throw configError(
      `the window is larger than the image: window ${window.width}x${window.height}, image ` +
        `${image.width}x${image.height} (width x height); use a window no larger than the smallest image`,
      { field: 'mode.window' },
    );
  }
  const tops = axisStarts(image.height - window.height, strideY);
  const lefts = axisStarts(image.width - window.width, strideX);
  const out: Rect[] = [];
  for (const top of tops) {
    for (const left of lefts) {
      out.push({ top, left, bottom: top + window.height - 1, right: left + window.width - 1 });
    }
  }
  return out;
}

/** `min(p, limit) for p in range(0, limit + stride, stride)`. */
export function axisStarts(limit: number, stride: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < limit + stride; p += stride) out.push(Math.min(p, limit));
  return out;
}

function checkPositiveInt(v: number, field: string): void {
  if (!Number.isInteger(v) || v < 1) throw configError(`expected an integer >= 1, found ${v}`, { field });
}

function checkNonNegativeInt(v: number, field: string): void {
  if (!Number.isInteger(v) || v < 0) throw configError(`expected an integer >= 0, found ${v}`, { field });
}
