/**
 * Simulated clicks for training, shaped like the evaluation protocol the model meets (clicks.ts `nextClick`):
 * - a first click alone: positive, deep inside the object, no previous mask (the first step of NoC);
 * - a later step: a previous mask that looks like an imperfect prediction (the object grown or shrunk, with
 *   blobs added or bitten out near its boundary), the clicks a user would already have made where that mask is
 *   right, and the newest click exactly where the protocol puts it: in the larger error region, at its
 *   distance-transform maximum.
 * Everything is drawn from the given random stream, so a sample is a function of (seed, epoch, index).
 */
import type { Random } from '../../util/random';
import { distanceToOutside, nextClick, type Click, type Grid } from './clicks';

export interface SimulatedClicks {
  clicks: Click[];
  /** The previous mask (0/1), or null for none (the first click). */
  previous: Uint8Array | null;
}

/** Share of samples that are a first click alone. */
const FIRST_CLICK_SHARE = 0.4;

/** A random pixel of `mask` whose value in `score` is at least `floor`; null when there is none. */
function pickPixel(
  mask: Uint8Array,
  score: Float32Array | null,
  floor: number,
  grid: Grid,
  rand: Random,
): Click | null {
  const candidates: number[] = [];
  for (let i = 0; i < mask.length; i++)
    if (mask[i] !== 0 && (score === null || score[i] >= floor)) candidates.push(i);
  if (candidates.length === 0) return null;
  const at = candidates[Math.floor(rand() * candidates.length)];
  return { x: at % grid.width, y: Math.floor(at / grid.width), positive: true };
}

/** A positive click near the object's centre: a pixel whose distance to the outside is at least half the largest. */
export function firstClick(gt: Uint8Array, grid: Grid, rand: Random): Click | null {
  const dt = distanceToOutside(gt, grid);
  let max = 0;
  for (const v of dt) if (v > max) max = v;
  return max === 0 ? null : pickPixel(gt, dt, max / 2, grid, rand);
}

/** Each pixel's distance to the mask (0 on it) and to the pixels off it (0 off it), the image border not counted. */
export interface MaskDistances {
  toMask: Float32Array;
  toOutside: Float32Array;
}

export function maskDistances(mask: Uint8Array, grid: Grid): MaskDistances {
  const inverse = mask.map((v) => (v === 0 ? 1 : 0));
  return {
    toMask: distanceToOutside(inverse, grid, 'inside'),
    toOutside: distanceToOutside(mask, grid, 'inside'),
  };
}

/** The mask grown (r > 0) or shrunk (r < 0) by |r| pixels; `d` is its maskDistances when the caller has them. */
export function morph(mask: Uint8Array, grid: Grid, r: number, d = maskDistances(mask, grid)): Uint8Array {
  const out = new Uint8Array(mask.length);
  if (r >= 0) for (let i = 0; i < out.length; i++) out[i] = mask[i] !== 0 || d.toMask[i] <= r ? 1 : 0;
  else for (let i = 0; i < out.length; i++) out[i] = d.toOutside[i] > -r ? 1 : 0;
  return out;
}

function countOnes(mask: Uint8Array): number {
  let n = 0;
  for (const v of mask) if (v !== 0) n++;
  return n;
}

/**
 * An imperfect prediction of `gt`: grown or shrunk, then blobs added or bitten out near the boundary. `d` is
 * gt's maskDistances when the caller has them.
 */
export function perturbMask(
  gt: Uint8Array,
  grid: Grid,
  rand: Random,
  d = maskDistances(gt, grid),
): Uint8Array {
  const radius = Math.sqrt(countOnes(gt) / Math.PI);
  const amount = Math.round(rand() * 0.35 * radius * (rand() < 0.5 ? -1 : 1));
  const mask = morph(gt, grid, amount, d);
  // Pixels within a few pixels of the true boundary, on either side: where predictions go wrong.
  const band = new Uint8Array(gt.length);
  const width = Math.max(2, 0.3 * radius);
  for (let i = 0; i < band.length; i++)
    band[i] = (gt[i] !== 0 ? d.toOutside[i] : d.toMask[i]) <= width ? 1 : 0;
  const blobs = Math.floor(rand() * 3);
  for (let b = 0; b < blobs; b++) {
    const centre = pickPixel(band, null, 0, grid, rand);
    if (centre === null) break;
    const r = Math.max(2, rand() * 0.45 * radius);
    const value = rand() < 0.5 ? 1 : 0;
    for (
      let y = Math.max(0, Math.floor(centre.y - r));
      y <= Math.min(grid.height - 1, Math.ceil(centre.y + r));
      y++
    ) {
      for (
        let x = Math.max(0, Math.floor(centre.x - r));
        x <= Math.min(grid.width - 1, Math.ceil(centre.x + r));
        x++
      ) {
        if ((x - centre.x) ** 2 + (y - centre.y) ** 2 <= r * r) mask[y * grid.width + x] = value;
      }
    }
  }
  return mask;
}

/** One training sample's clicks and previous mask for the object `gt` (0/1, non-empty). */
export function simulateClicks(gt: Uint8Array, grid: Grid, rand: Random): SimulatedClicks {
  const first = firstClick(gt, grid, rand);
  if (first === null) return { clicks: [], previous: null };
  if (rand() < FIRST_CLICK_SHARE) return { clicks: [first], previous: null };
  // Both the perturbation and the earlier clicks measure distances to the object: computed once.
  const d = maskDistances(gt, grid);
  const previous = perturbMask(gt, grid, rand, d);
  const clicks: Click[] = [first];
  // Earlier clicks where the previous mask is already right: positive on it, negative off it near the object.
  const earlier = Math.floor(rand() * 3);
  const agreeIn = new Uint8Array(gt.length);
  const agreeOut = new Uint8Array(gt.length);
  const near = d.toMask;
  const reach = Math.max(4, Math.sqrt(countOnes(gt) / Math.PI));
  for (let i = 0; i < gt.length; i++) {
    agreeIn[i] = gt[i] !== 0 && previous[i] !== 0 ? 1 : 0;
    agreeOut[i] = gt[i] === 0 && previous[i] === 0 && near[i] <= reach ? 1 : 0;
  }
  for (let k = 0; k < earlier; k++) {
    const positive = rand() < 0.5;
    const c = pickPixel(positive ? agreeIn : agreeOut, null, 0, grid, rand);
    if (c !== null) clicks.push({ ...c, positive });
  }
  const newest = nextClick(gt, previous, grid);
  if (newest !== null) clicks.push(newest);
  return { clicks, previous };
}
