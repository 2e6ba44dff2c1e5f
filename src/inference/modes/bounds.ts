/**
 * `"Npx"` / `"N%"` side offsets (spec F.3 `int_percent_or_px`), converted as the SDK's
 * `_rectangle_from_cropping_or_padding_bounds`: pixels as written, percent as `int(side * N / 100)` (truncation
 * toward zero, as Python's `int`).
 */

import { configError } from '../../errors';
import type { Size } from '../rect';
import type { SideBounds } from '../../task/config-types';

const PERCENT_OR_PX = /^(-?[0-9]+)(%|px)$/;

export interface SideOffsets {
  readonly top: number;
  readonly left: number;
  readonly bottom: number;
  readonly right: number;
}

/** One offset in pixels; `side` is the length the percentage refers to. */
export function offsetPixels(value: string, side: number, field: string): number {
  const m = PERCENT_OR_PX.exec(value);
  if (m === null) {
    throw configError(
      `expected "<integer>px" or "<integer>%", e.g. "10px" or "5%", found ${JSON.stringify(value)}`,
      {
        field,
      },
    );
  }
  const n = Number(m[1]);
  return m[2] === 'px' ? n : Math.trunc((side * n) / 100);
}

/** All four offsets: left/right relative to the width, top/bottom to the height of `size`. */
export function sideOffsets(bounds: SideBounds, size: Size, field: string): SideOffsets {
  return {
    top: offsetPixels(bounds.top, size.height, `${field}.top`),
    left: offsetPixels(bounds.left, size.width, `${field}.left`),
    bottom: offsetPixels(bounds.bottom, size.height, `${field}.bottom`),
    right: offsetPixels(bounds.right, size.width, `${field}.right`),
  };
}
