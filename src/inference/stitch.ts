/**
 * Score maps: per-pixel class scores as Float32Array HWC buffers. Stitching per-window scores into one map of
 * the image (spec F.3 sliding_window), resizing a network-sized map back to its crop, and argmax.
 */

import type { Blending } from '../task/config-types';
import {
  containsRect,
  describeRect,
  rectFromSize,
  rectHeight,
  rectWidth,
  type Rect,
  type Size,
} from './rect';
import type { ScoreMap as EncodedScoreMap } from '../format/multichannel-bitmap';

/** The format's score map (HWC, channel fastest), held as float32 while inference works on it. */
export interface ScoreMap extends EncodedScoreMap {
  /** Row-major HWC: `data[(y * width + x) * channels + c]`. */
  readonly data: Float32Array;
}

export function scoreMap(height: number, width: number, channels: number, data?: Float32Array): ScoreMap {
  const n = height * width * channels;
  if (data !== undefined && data.length !== n) {
    throw new Error(`score map ${height}x${width}x${channels} needs ${n} values, got ${data.length}`);
  }
  return { height, width, channels, data: data ?? new Float32Array(n) };
}

/**
 * 1-D feather profile of a window side: a tent `min(i + 1, n - i)`, scaled so the centre is 1. It falls off
 * toward both ends but never reaches zero, so every pixel a window covers keeps some weight (a pixel on the
 * image border is covered only by windows whose edge lies there).
 */
export function featherProfile(n: number): Float32Array {
  const out = new Float32Array(n);
  const peak = Math.ceil(n / 2);
  for (let i = 0; i < n; i++) out[i] = Math.min(i + 1, n - i) / peak;
  return out;
}

/**
 * Accumulates window scores into an image-sized map. `sum` is the SDK's plain per-class sum (its mean is the
 * SDK's saved probability map; argmax is the same either way). `feather` weights each window by the product of
 * two feather profiles, so where windows overlap the result slides from one window to the next instead of
 * jumping at a window edge. Either way the result is normalised by the summed weights.
 */
export class ScoreStitcher {
  private readonly size: Size;
  private readonly channels: number;
  private readonly blending: Blending;
  private readonly acc: Float32Array;
  private readonly weight: Float32Array;
  private readonly profiles = new Map<number, Float32Array>();
  private done = false;

  constructor(opts: { size: Size; channels: number; blending: Blending }) {
    this.size = opts.size;
    this.channels = opts.channels;
    this.blending = opts.blending;
    this.acc = new Float32Array(opts.size.height * opts.size.width * opts.channels);
    this.weight = new Float32Array(opts.size.height * opts.size.width);
  }

  /** Adds one window's scores; `scores` must be exactly the window's size. */
  add(window: Rect, scores: ScoreMap): void {
    if (this.done) throw new Error('ScoreStitcher.add() after result()');
    const h = rectHeight(window);
    const w = rectWidth(window);
    if (!containsRect(rectFromSize(this.size), window)) {
      throw new Error(
        `window ${describeRect(window)} is outside the ${this.size.width}x${this.size.height} image`,
      );
    }
    if (scores.height !== h || scores.width !== w || scores.channels !== this.channels) {
      throw new Error(
        `window scores are ${scores.height}x${scores.width}x${scores.channels}, expected ${h}x${w}x${this.channels}`,
      );
    }
    const C = this.channels;
    const W = this.size.width;
    const wy = this.blending === 'feather' ? this.profile(h) : null;
    const wx = this.blending === 'feather' ? this.profile(w) : null;
    const src = scores.data;
    for (let y = 0; y < h; y++) {
      const ky = wy === null ? 1 : wy[y];
      const rowPix = (window.top + y) * W + window.left;
      for (let x = 0; x < w; x++) {
        const k = wx === null ? ky : ky * wx[x];
        const pix = rowPix + x;
        this.weight[pix] += k;
        const d = pix * C;
        const s = (y * w + x) * C;
        for (let c = 0; c < C; c++) this.acc[d + c] += k * src[s + c];
      }
    }
  }

  /**
   * The weighted mean per pixel, normalised in place (no second image-sized buffer), so the stitcher is done
   * afterwards. A pixel no window covered is an implementation error (the SDK's "Wrong sliding window moving"):
   * the window plan always covers the image.
   */
  result(): ScoreMap {
    this.finish();
    return scoreMap(this.size.height, this.size.width, this.channels, this.acc);
  }

  private finish(): void {
    if (this.done) throw new Error('ScoreStitcher.result() was already called');
    this.done = true;
    const C = this.channels;
    for (let pix = 0; pix < this.weight.length; pix++) {
      const k = this.weight[pix];
      if (!(k > 0)) {
        const y = Math.floor(pix / this.size.width);
        throw new Error(
          `Wrong sliding window moving, implementation error: pixel (row ${y}, column ${pix - y * this.size.width}) is in no window`,
        );
      }
      const d = pix * C;
      for (let c = 0; c < C; c++) this.acc[d + c] /= k;
    }
  }

  private profile(n: number): Float32Array {
    let p = this.profiles.get(n);
    if (p === undefined) {
      p = featherProfile(n);
      this.profiles.set(n, p);
    }
    return p;
  }
}

/** A class-index mask, H*W, row-major (Int32Array when there are more than 256 classes). */
export type ClassIndexMask = Uint8Array | Int32Array;

/** Per-pixel index of the highest score; ties go to the lowest index (numpy argmax). */
export function argmaxMask(scores: ScoreMap): ClassIndexMask {
  const C = scores.channels;
  const n = scores.height * scores.width;
  const out = C <= 256 ? new Uint8Array(n) : new Int32Array(n);
  const d = scores.data;
  for (let p = 0; p < n; p++) {
    const base = p * C;
    let best = 0;
    let bestV = d[base];
    for (let c = 1; c < C; c++) {
      const v = d[base + c];
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    out[p] = best;
  }
  return out;
}
