/**
 * Training clips for the tracker: a few frames of one clip (the given frame 0 and later ones at random gaps)
 * with one object's masks, and a damaged copy of frame 0's mask standing in for a previous prediction (FEELVOS
 * mask damaging: shifted, grown or shrunk). A batch packs several clips, frames NHWC normalised.
 */
import { normaliseRgbInto } from '../../image/normalise';
import type { Preprocessing } from '../../network/types';
import type { Random } from '../../util/random';

/** One clip, as a source yields it: RGB frames (at least 3) and their index masks, all width x height. */
export interface TrainingClip {
  width: number;
  height: number;
  rgb: Uint8Array[];
  ids: Uint8Array[];
}

export interface ClipBatch {
  n: number;
  height: number;
  width: number;
  /** Frame t of every clip: [n, height, width, 3], normalised. */
  frames: Float32Array[];
  /** The chosen object of every clip on frame t: [n, height, width], 1 or 0. */
  masks: Float32Array[];
  /** The damaged frame-0 mask: the "previous prediction" for frame 1. */
  damaged: Float32Array;
}

/** The object ids on a mask (not 0), ascending. */
export function objectIds(ids: Uint8Array): number[] {
  const seen = new Uint8Array(256);
  for (const v of ids) seen[v] = 1;
  const out: number[] = [];
  for (let v = 1; v < 256; v++) if (seen[v] === 1) out.push(v);
  return out;
}

/** Shift by up to `shift` pixels, then grow or shrink by up to `grow` pixels (a square neighbourhood). */
export function damageMask(
  mask: Float32Array,
  width: number,
  height: number,
  rand: Random,
  opts = { shift: 0.04, grow: 3 },
): Float32Array {
  const limit = Math.max(1, Math.round(opts.shift * Math.min(width, height)));
  const dx = Math.round((rand() * 2 - 1) * limit);
  const dy = Math.round((rand() * 2 - 1) * limit);
  let out: Float32Array = new Float32Array(mask.length);
  for (let y = 0; y < height; y++) {
    const sy = y - dy;
    if (sy < 0 || sy >= height) continue;
    for (let x = 0; x < width; x++) {
      const sx = x - dx;
      if (sx >= 0 && sx < width) out[y * width + x] = mask[sy * width + sx];
    }
  }
  const r = Math.round((rand() * 2 - 1) * opts.grow);
  if (r !== 0) {
    const grow = r > 0;
    const rad = Math.abs(r);
    // Separable max (grow) or min (shrink) filter.
    const pass = (src: Float32Array, horizontal: boolean): Float32Array => {
      const dst = new Float32Array(src.length);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          let v = grow ? 0 : 1;
          for (let k = -rad; k <= rad; k++) {
            const xx = horizontal ? x + k : x;
            const yy = horizontal ? y : y + k;
            const s = xx < 0 || yy < 0 || xx >= width || yy >= height ? (grow ? 0 : 1) : src[yy * width + xx];
            v = grow ? Math.max(v, s) : Math.min(v, s);
          }
          dst[y * width + x] = v;
        }
      }
      return dst;
    };
    out = pass(pass(out, true), false);
  }
  return out;
}

/** Packs clips into a batch, choosing one object of frame 0 per clip; clips without an object are skipped. */
export function packClips(
  clips: readonly TrainingClip[],
  pre: Preprocessing,
  rand: Random,
): ClipBatch | null {
  const usable = clips.filter((c) => objectIds(c.ids[0]).length > 0);
  if (usable.length === 0) return null;
  const { width, height } = usable[0];
  const n = usable.length;
  const hw = width * height;
  const length = usable[0].rgb.length;
  const frames = Array.from({ length }, () => new Float32Array(n * hw * 3));
  const masks = Array.from({ length }, () => new Float32Array(n * hw));
  const damaged = new Float32Array(n * hw);
  usable.forEach((clip, i) => {
    if (clip.width !== width || clip.height !== height || clip.rgb.length !== length) {
      throw new Error(
        `clips of one batch differ: ${clip.width}x${clip.height}x${clip.rgb.length}, ${width}x${height}x${length}`,
      );
    }
    const ids = objectIds(clip.ids[0]);
    const object = ids[Math.floor(rand() * ids.length)];
    for (let t = 0; t < length; t++) {
      normaliseRgbInto(clip.rgb[t], frames[t], i * hw * 3, pre);
      const m = clip.ids[t];
      for (let p = 0; p < hw; p++) masks[t][i * hw + p] = m[p] === object ? 1 : 0;
    }
    damaged.set(damageMask(masks[0].subarray(i * hw, (i + 1) * hw), width, height, rand), i * hw);
  });
  return { n, height, width, frames, masks, damaged };
}
