/**
 * The DAVIS 2017 measures, exactly as the official evaluation computes them (davisvideochallenge/
 * davis2017-evaluation, `metrics.py` and `utils.db_statistics`; read in docs' notes, with its test vectors as
 * tests): J, the region similarity (IoU), and F, the boundary F-measure with a tolerance of 0.008 of the image
 * diagonal, on boundaries drawn by BSDS `seg2bmap` (no thinning, no bipartite matching); per object the mean,
 * the recall (share of frames above 0.5) and the decay (first quarter minus last quarter). Pure, tfjs-free.
 */
import { maskIou } from '../../training/metrics';

export interface MaskSize {
  readonly height: number;
  readonly width: number;
}

/** The boundary tolerance of DAVIS, as a share of the image diagonal. */
export const BOUND_TH = 0.008;

/** J: |P ∧ G ∧ ¬void| / |(P ∨ G) ∧ ¬void|, and 1 when the union is empty. Masks are 0/1 (any non-zero is 1). */
export function regionJ(pred: Uint8Array, gt: Uint8Array, voidMask?: Uint8Array): number {
  return maskIou(pred, gt, voidMask);
}

/**
 * BSDS `seg2bmap`: a pixel is boundary where it differs from its right, lower or lower-right neighbour, with the
 * last row compared to the right only, the last column to the lower only, and the last pixel never boundary.
 * So image borders are never boundary, and the boundary lies outside the object on its top and left edges,
 * inside on its bottom and right edges.
 */
export function seg2bmap(mask: Uint8Array, size: MaskSize): Uint8Array {
  const { height: H, width: W } = size;
  const at = (y: number, x: number): number => (y < H && x < W && mask[y * W + x] !== 0 ? 1 : 0);
  const b = new Uint8Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const m = at(y, x);
      let edge: boolean;
      if (y === H - 1 && x === W - 1) edge = false;
      else if (y === H - 1) edge = m !== at(y, x + 1);
      else if (x === W - 1) edge = m !== at(y + 1, x);
      else edge = m !== at(y, x + 1) || m !== at(y + 1, x) || m !== at(y + 1, x + 1);
      b[y * W + x] = edge ? 1 : 0;
    }
  }
  return b;
}

/** The tolerance in pixels: `bound_th` itself when it is at least 1, else ceil(bound_th * diagonal). */
export function boundPixels(size: MaskSize, boundTh = BOUND_TH): number {
  return boundTh >= 1 ? boundTh : Math.ceil(boundTh * Math.hypot(size.height, size.width));
}

/** `cv2.dilate` with skimage's disk(r) (x² + y² ≤ r²); what lies beyond the border does not contribute. */
export function dilateDisk(map: Uint8Array, size: MaskSize, r: number): Uint8Array {
  const { height: H, width: W } = size;
  const offsets: number[][] = [];
  for (let dy = -r; dy <= r; dy++)
    for (let dx = -r; dx <= r; dx++) if (dx * dx + dy * dy <= r * r) offsets.push([dy, dx]);
  const out = new Uint8Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (map[y * W + x] === 0) continue;
      for (const [dy, dx] of offsets) {
        const v = y + dy;
        const u = x + dx;
        if (v >= 0 && v < H && u >= 0 && u < W) out[v * W + u] = 1;
      }
    }
  }
  return out;
}

/** F: the boundary F-measure of `metrics.f_measure`, with its edge cases for empty boundaries. */
export function boundaryF(
  pred: Uint8Array,
  gt: Uint8Array,
  size: MaskSize,
  opts: { voidMask?: Uint8Array; boundTh?: number } = {},
): number {
  const cut = (m: Uint8Array): Uint8Array =>
    opts.voidMask === undefined ? m : m.map((v, i) => (v !== 0 && opts.voidMask![i] === 0 ? 1 : 0));
  const r = boundPixels(size, opts.boundTh);
  const fgB = seg2bmap(cut(pred), size);
  const gtB = seg2bmap(cut(gt), size);
  const fgDil = dilateDisk(fgB, size, r);
  const gtDil = dilateDisk(gtB, size, r);
  let nFg = 0;
  let nGt = 0;
  let fgMatch = 0;
  let gtMatch = 0;
  for (let i = 0; i < fgB.length; i++) {
    if (fgB[i] !== 0) {
      nFg++;
      if (gtDil[i] !== 0) fgMatch++;
    }
    if (gtB[i] !== 0) {
      nGt++;
      if (fgDil[i] !== 0) gtMatch++;
    }
  }
  let precision: number;
  let recall: number;
  if (nFg === 0 && nGt > 0) [precision, recall] = [1, 0];
  else if (nFg > 0 && nGt === 0) [precision, recall] = [0, 1];
  else if (nFg === 0 && nGt === 0) [precision, recall] = [1, 1];
  else [precision, recall] = [fgMatch / nFg, gtMatch / nGt];
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

export interface ObjectStatistics {
  /** Mean over frames. */
  mean: number;
  /** Share of frames strictly above 0.5. */
  recall: number;
  /** Mean of the first quarter of frames minus the mean of the last quarter. */
  decay: number;
}

/**
 * `db_statistics`: mean, recall and decay of one object's per-frame values (NaN values skipped in the mean and
 * recall, as nanmean does). The decay's bin edges are `round(linspace(1, N, 5) + 1e-10) - 1`, bins inclusive of
 * both edges. The official code casts the edges to uint8, which wraps for N > 256 and makes the decay NaN; here
 * they are integers, so long videos get a real decay (the one difference, on sequences DAVIS never has).
 */
export function dbStatistics(values: readonly number[]): ObjectStatistics {
  const finite = values.filter((v) => !Number.isNaN(v));
  const mean = (xs: readonly number[]): number =>
    xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
  const n = values.length;
  const ids = [0, 1, 2, 3, 4].map((k) => Math.round(1 + ((n - 1) * k) / 4 + 1e-10) - 1);
  const bins = [0, 1, 2, 3].map((i) =>
    mean(values.slice(ids[i], ids[i + 1] + 1).filter((v) => !Number.isNaN(v))),
  );
  return {
    mean: mean(finite),
    recall: mean(finite.map((v) => (v > 0.5 ? 1 : 0))),
    decay: bins[0] - bins[3],
  };
}
