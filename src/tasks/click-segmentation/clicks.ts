/**
 * Clicks, as the interactive-segmentation field defines them (RITM's `Clicker`, the NoC protocol): a click is a
 * pixel and a sign. The next click of a simulated user goes in the larger error region (positive in a
 * false-negative region, negative in a false-positive one), at its distance-transform maximum, with the image
 * border counted as outside (RITM pads the error masks before cv2.distanceTransform). Pure and tfjs-free.
 */

/** A click in pixel coordinates of the grid it is used on (column x, row y), positive on the object. */
export interface Click {
  readonly x: number;
  readonly y: number;
  readonly positive: boolean;
}

export interface Grid {
  readonly height: number;
  readonly width: number;
}

const INF = 1e20;

/** Felzenszwalb and Huttenlocher's 1-D squared distance transform of f (length n) into d. */
function edt1d(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -INF;
  z[1] = INF;
  for (let q = 1; q < n; q++) {
    let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    while (s <= z[k]) {
      k--;
      s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = INF;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    const dq = q - v[k];
    d[q] = dq * dq + f[v[k]];
  }
}

/**
 * Exact Euclidean distance from each pixel of the region (`region[i] !== 0`) to the nearest pixel outside it;
 * 0 outside the region. Row-major, H x W. With `border` "outside" (the default, as RITM pads its error masks)
 * everything beyond the image border counts as outside; with "inside" only pixels of the image do.
 */
export function distanceToOutside(
  region: Uint8Array,
  grid: Grid,
  border: 'outside' | 'inside' = 'outside',
): Float32Array {
  // Computed on a grid padded by one pixel of the border's kind, then cropped.
  const H = grid.height + 2;
  const W = grid.width + 2;
  const n = Math.max(H, W);
  const g = new Float64Array(H * W);
  if (border === 'inside') g.fill(INF);
  for (let y = 0; y < grid.height; y++) {
    for (let x = 0; x < grid.width; x++) g[(y + 1) * W + x + 1] = region[y * grid.width + x] !== 0 ? INF : 0;
  }
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  for (let x = 0; x < W; x++) {
    for (let y = 0; y < H; y++) f[y] = g[y * W + x];
    edt1d(f, H, d, v, z);
    for (let y = 0; y < H; y++) g[y * W + x] = d[y];
  }
  const out = new Float32Array(grid.height * grid.width);
  for (let y = 1; y <= grid.height; y++) {
    for (let x = 0; x < W; x++) f[x] = g[y * W + x];
    edt1d(f, W, d, v, z);
    for (let x = 1; x <= grid.width; x++) out[(y - 1) * grid.width + x - 1] = Math.sqrt(d[x]);
  }
  return out;
}

/** The first pixel (row-major) where `dt` is largest, and that value; null when every value is 0. */
function argmaxPixel(dt: Float32Array, width: number): { x: number; y: number; value: number } | null {
  let best = 0;
  let at = -1;
  for (let i = 0; i < dt.length; i++) {
    if (dt[i] > best) {
      best = dt[i];
      at = i;
    }
  }
  return at < 0 ? null : { x: at % width, y: Math.floor(at / width), value: best };
}

/**
 * The simulated user's next click for a prediction (RITM's protocol): null when the prediction is exact. `gt`
 * and `pred` are 0/1 masks of the grid.
 */
export function nextClick(gt: Uint8Array, pred: Uint8Array, grid: Grid): Click | null {
  const size = grid.height * grid.width;
  const fn = new Uint8Array(size);
  const fp = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    fn[i] = gt[i] !== 0 && pred[i] === 0 ? 1 : 0;
    fp[i] = gt[i] === 0 && pred[i] !== 0 ? 1 : 0;
  }
  const fnMax = argmaxPixel(distanceToOutside(fn, grid), grid.width);
  const fpMax = argmaxPixel(distanceToOutside(fp, grid), grid.width);
  if (fnMax === null && fpMax === null) return null;
  // Ties go to the negative click, as RITM's `fn_max_dist > fp_max_dist`.
  const positive = fpMax === null || (fnMax !== null && fnMax.value > fpMax.value);
  const at = positive ? fnMax : fpMax;
  return { x: at!.x, y: at!.y, positive };
}

/**
 * Click maps: each click a filled disk of `radius` pixels (value 1) in the positive or negative map, written
 * into the given channels of an NHWC-style interleaved buffer (`stride` values per pixel).
 */
export function drawClickDisks(opts: {
  clicks: readonly Click[];
  grid: Grid;
  radius: number;
  out: Float32Array;
  stride: number;
  positiveChannel: number;
  negativeChannel: number;
  /** Where this image starts in `out`. */
  offset?: number;
}): void {
  const { grid, radius, out, stride } = opts;
  const base = opts.offset ?? 0;
  const r = Math.ceil(radius);
  const r2 = radius * radius;
  for (const click of opts.clicks) {
    const channel = click.positive ? opts.positiveChannel : opts.negativeChannel;
    for (let dy = -r; dy <= r; dy++) {
      const y = click.y + dy;
      if (y < 0 || y >= grid.height) continue;
      for (let dx = -r; dx <= r; dx++) {
        const x = click.x + dx;
        if (x < 0 || x >= grid.width || dx * dx + dy * dy > r2) continue;
        out[base + (y * grid.width + x) * stride + channel] = 1;
      }
    }
  }
}

/** RITM's NoC: the clicks needed to reach `threshold` (1-based), or null when the sequence never does. */
export function clicksToReach(ious: readonly number[], threshold: number): number | null {
  const k = ious.findIndex((iou) => iou >= threshold);
  return k < 0 ? null : k + 1;
}

/** A click in a grid's pixels, scaled to another grid of the same image (pixel centres aligned). */
export function scaleClick(click: Click, from: Grid, to: Grid): Click {
  const scale = (v: number, a: number, b: number): number =>
    Math.min(b - 1, Math.max(0, Math.round(((v + 0.5) * b) / a - 0.5)));
  return {
    x: scale(click.x, from.width, to.width),
    y: scale(click.y, from.height, to.height),
    positive: click.positive,
  };
}

/**
 * The parts of a predicted mask the user pointed at: the 8-connected components that hold a positive click (or,
 * for a positive click off the mask, the component nearest to it). Blobs elsewhere in the image, which a user
 * never asked for, are dropped. Returns a new 0/1 mask. Flood-fills from the clicks only, so the cost is the
 * kept object's size (plus one scan for a click off the mask), not the image's.
 */
export function keepClickedComponents(mask: Uint8Array, clicks: readonly Click[], grid: Grid): Uint8Array {
  const { width, height } = grid;
  const out = new Uint8Array(mask.length);
  let queue: Int32Array | undefined;
  for (const c of clicks) {
    if (!c.positive) continue;
    let seed = c.y * width + c.x;
    if (mask[seed] === 0) {
      // The nearest mask pixel: rows farther than the best so far are skipped whole.
      let best = Infinity;
      seed = -1;
      for (let y = 0; y < height; y++) {
        const dy2 = (y - c.y) * (y - c.y);
        if (dy2 >= best) continue;
        for (let x = 0, p = y * width; x < width; x++, p++) {
          if (mask[p] === 0) continue;
          const d = dy2 + (x - c.x) * (x - c.x);
          if (d < best) {
            best = d;
            seed = p;
          }
        }
      }
      if (seed < 0) continue;
    }
    if (out[seed] !== 0) continue;
    queue ??= new Int32Array(mask.length);
    let head = 0;
    let tail = 0;
    queue[tail++] = seed;
    out[seed] = 1;
    while (head < tail) {
      const p = queue[head++];
      const px = p % width;
      const py = (p - px) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const y = py + dy;
        if (y < 0 || y >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const x = px + dx;
          if (x < 0 || x >= width) continue;
          const q = y * width + x;
          if (mask[q] !== 0 && out[q] === 0) {
            out[q] = 1;
            queue[tail++] = q;
          }
        }
      }
    }
  }
  return out;
}
