/**
 * Score maps from the network's size to a crop's size, faster than stitch.ts and with the same results:
 * - `resizeScores`: the bilinear resize as two passes (rows, then columns); bit for bit stitch.ts
 *   `resizeScores` (same taps, same double-precision expressions, the row pass kept in float64).
 * - `argmaxOfResized`: the class mask `argmaxMask(resizeScores(src, size))` without making the resized map,
 *   for when only labels are needed (no saved probabilities): a pixel whose four source pixels agree on their
 *   class with a clear margin gets that class, since a convex combination of score vectors that all rank class
 *   L first by more than the rounding error ranks L first too; every other pixel (class borders, near ties) is
 *   computed exactly as the full path does.
 */
import { argmaxMask, scoreMap, type ClassIndexMask, type ScoreMap } from './stitch';
import type { Size } from './rect';

interface AxisTaps {
  readonly i0: Int32Array;
  readonly i1: Int32Array;
  /** Weight of the second tap; float32 like stitch.ts, so the results match exactly. */
  readonly f: Float32Array;
}

/** For each destination index: the two source indices and the weight of the second (cv2 INTER_LINEAR). */
function axisTaps(srcLen: number, dstLen: number): AxisTaps {
  const i0 = new Int32Array(dstLen);
  const i1 = new Int32Array(dstLen);
  const f = new Float32Array(dstLen);
  const scale = srcLen / dstLen;
  for (let d = 0; d < dstLen; d++) {
    const s = Math.min(Math.max((d + 0.5) * scale - 0.5, 0), srcLen - 1);
    const lo = Math.floor(s);
    i0[d] = lo;
    i1[d] = Math.min(lo + 1, srcLen - 1);
    f[d] = s - lo;
  }
  return { i0, i1, f };
}

/**
 * Bilinear resize of a score map, pixel centres aligned as cv2.resize INTER_LINEAR (`src = (dst + 0.5) * scale
 * - 0.5`, clamped to the edge). The SDK's UNet resizes with INTER_CUBIC; bilinear keeps scores inside [0, 1]
 * and sums at 1, which cubic overshoot does not.
 */
export function resizeScores(src: ScoreMap, size: Size): ScoreMap {
  const { height: H, width: W } = size;
  const C = src.channels;
  if (H === src.height && W === src.width) return scoreMap(H, W, C, src.data.slice());
  const xs = axisTaps(src.width, W);
  const ys = axisTaps(src.height, H);
  const sd = src.data;
  const srcRow = src.width * C;
  const dstRow = W * C;

  // Row pass, only for the source rows some output row reads. Output rows read source rows in non-decreasing
  // order, so the last two rows computed are all that is ever reused (memory stays two rows, whatever the size).
  const cache: { r: number; row: Float64Array }[] = [];
  const rowPass = (r: number, keep?: Float64Array): Float64Array => {
    const hit = cache.find((e) => e.r === r);
    if (hit !== undefined) return hit.row;
    let row: Float64Array;
    if (cache.length < 2) row = new Float64Array(dstRow);
    else {
      // Reuse the buffer of the entry the caller does not hold.
      const evict = cache[0].row === keep ? 1 : 0;
      row = cache[evict].row;
      cache.splice(evict, 1);
    }
    const base = r * srcRow;
    for (let x = 0; x < W; x++) {
      const a = base + xs.i0[x] * C;
      const b = base + xs.i1[x] * C;
      const fx = xs.f[x];
      const gx = 1 - fx; // a double, as stitch.ts computes it inline
      const d = x * C;
      for (let c = 0; c < C; c++) row[d + c] = sd[a + c] * gx + sd[b + c] * fx;
    }
    cache.push({ r, row });
    return row;
  };

  const out = new Float32Array(H * dstRow);
  for (let y = 0; y < H; y++) {
    const top = rowPass(ys.i0[y]);
    const bottom = rowPass(ys.i1[y], top);
    const fy = ys.f[y];
    const gy = 1 - fy;
    const o = y * dstRow;
    for (let k = 0; k < dstRow; k++) out[o + k] = top[k] * gy + bottom[k] * fy;
  }
  return scoreMap(H, W, C, out);
}

let labelScratch = new Int32Array(0);

/**
 * A source pixel's class (first maximum, as numpy's argmax), or -1 when some other class is within `threshold`
 * of it: such pixels, and any output pixel that reads one, take the exact path.
 */
function clearLabels(src: ScoreMap, threshold: number): Int32Array {
  const C = src.channels;
  const n = src.height * src.width;
  const d = src.data;
  // Scratch, not a new array per call (one image's worth of allocation less): argmaxOfResized is synchronous
  // and the only reader, so no other call can see or change it meanwhile.
  if (labelScratch.length < n) labelScratch = new Int32Array(n);
  const out = labelScratch;
  // One pass per pixel for the first maximum and the largest other score. NaN never compares greater, so as in
  // argmaxMask a NaN score never wins; a NaN first score leaves bestV NaN, and the pixel unclear.
  for (let p = 0; p < n; p++) {
    const base = p * C;
    let best = 0;
    let bestV = d[base];
    let second = -Infinity;
    for (let c = 1; c < C; c++) {
      const v = d[base + c];
      if (v > bestV) {
        second = bestV;
        bestV = v;
        best = c;
      } else if (v > second) {
        second = v;
      }
    }
    out[p] = C === 1 || bestV - second > threshold ? best : -1;
  }
  return out;
}

/**
 * Exactly `argmaxMask(resizeScores(src, size))`, written into `reuse` when it is a mask of that size and the
 * type this function would make (the caller gives up what it held there), else into a new mask. The margin for the shortcut is 2^-20 of the largest score
 * magnitude: float32 rounding of the resized values moves each by at most 2^-24 of it, so a margin that large
 * cannot be undone by rounding.
 */
export function argmaxOfResized(src: ScoreMap, size: Size, reuse?: ClassIndexMask): ClassIndexMask {
  const { height: H, width: W } = size;
  // At the same size the resize is a copy: interpolating would turn an infinite score into NaN (Inf * 0).
  if (H === src.height && W === src.width) return argmaxMask(src);
  const C = src.channels;
  const sd = src.data;
  let magnitude = 0;
  // Not Math.max, which is several times slower here; a NaN is skipped (its pixel is never clear anyway).
  for (let i = 0; i < sd.length; i++) {
    const a = Math.abs(sd[i]);
    if (a > magnitude) magnitude = a;
  }
  const xs = axisTaps(src.width, W);
  const pass: PairPass = {
    src: sd,
    channels: C,
    labels: clearLabels(src, magnitude * 2 ** -20),
    xs,
    runEnd: runEnds(xs),
    template: C <= 256 ? new Uint8Array(W) : new Int32Array(W),
    exactColumns: new Int32Array(W),
    topRow: new Float64Array(W * C),
    bottomRow: new Float64Array(W * C),
    exactCount: 0,
  };
  const ys = axisTaps(src.height, H);
  // `reuse`, when it fits, is overwritten whole (every row gets its template, then its exact columns).
  const out =
    C <= 256
      ? reuse instanceof Uint8Array && reuse.length === H * W
        ? reuse
        : new Uint8Array(H * W)
      : reuse instanceof Int32Array && reuse.length === H * W
        ? reuse
        : new Int32Array(H * W);
  // Output rows that read the same two source rows share every shortcut pixel (they do not depend on the row
  // weight): that row is built once per source-row pair, with the columns left for the exact path and their
  // horizontal interpolations, which are also the same for every output row of the pair (about H / src.height
  // rows share them). Small functions, so V8 keeps each loop optimised.
  let pair = -1;
  for (let y = 0; y < H; y++) {
    const r0 = ys.i0[y] * src.width;
    const r1 = ys.i1[y] * src.width;
    if (r0 * (src.height + 1) + r1 !== pair) {
      pair = r0 * (src.height + 1) + r1;
      buildPair(pass, r0, r1);
    }
    out.set(pass.template, y * W);
    exactRow(pass, ys.f[y], out, y * W);
  }
  return out;
}

/** Per source-row pair: the shortcut pixels' classes, and the rest's columns and horizontal interpolations. */
interface PairPass {
  readonly src: Float32Array;
  readonly channels: number;
  readonly labels: Int32Array;
  readonly xs: AxisTaps;
  /** For each output column, the end (exclusive) of its run of columns that read the same source columns. */
  readonly runEnd: Int32Array;
  readonly template: ClassIndexMask;
  readonly exactColumns: Int32Array;
  readonly topRow: Float64Array;
  readonly bottomRow: Float64Array;
  exactCount: number;
}

function buildPair(p: PairPass, r0: number, r1: number): void {
  const { src: sd, channels: C, labels, xs, runEnd, template, exactColumns, topRow, bottomRow } = p;
  let exactCount = 0;
  // Run by run of columns that read the same two source columns (about W / src.width each): the shortcut test
  // depends only on those, so it is made once per run.
  for (let x = 0; x < template.length; ) {
    const end = runEnd[x];
    const c0 = xs.i0[x];
    const c1 = xs.i1[x];
    const label = labels[r0 + c0];
    if (label >= 0 && labels[r0 + c1] === label && labels[r1 + c0] === label && labels[r1 + c1] === label) {
      for (; x < end; x++) template[x] = label;
      continue;
    }
    // The full path's row pass for these pixels (stitch.ts resizeScores: float64, the same expression).
    const p00 = (r0 + c0) * C;
    const p01 = (r0 + c1) * C;
    const p10 = (r1 + c0) * C;
    const p11 = (r1 + c1) * C;
    for (; x < end; x++) {
      const fx = xs.f[x];
      const gx = 1 - fx;
      const e = exactCount * C;
      for (let c = 0; c < C; c++) {
        topRow[e + c] = sd[p00 + c] * gx + sd[p01 + c] * fx;
        bottomRow[e + c] = sd[p10 + c] * gx + sd[p11 + c] * fx;
      }
      exactColumns[exactCount++] = x;
    }
  }
  p.exactCount = exactCount;
}

/** `runEnd` of PairPass: source columns are read in non-decreasing order, so runs are contiguous. */
function runEnds(xs: AxisTaps): Int32Array {
  const n = xs.i0.length;
  const out = new Int32Array(n);
  for (let x = n - 1; x >= 0; x--) {
    out[x] = x + 1 < n && xs.i0[x + 1] === xs.i0[x] && xs.i1[x + 1] === xs.i1[x] ? out[x + 1] : x + 1;
  }
  return out;
}

/** The column pass and argmaxMask for the pair's exact columns, as the full path computes them. */
function exactRow(p: PairPass, fy: number, out: ClassIndexMask, offset: number): void {
  const { channels: C, exactColumns, topRow, bottomRow, exactCount } = p;
  const gy = 1 - fy;
  for (let e = 0; e < exactCount; e++) {
    const base = e * C;
    let best = 0;
    let bestV = Math.fround(topRow[base] * gy + bottomRow[base] * fy);
    for (let c = 1; c < C; c++) {
      const v = Math.fround(topRow[base + c] * gy + bottomRow[base + c] * fy);
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    out[offset + exactColumns[e]] = best;
  }
}
