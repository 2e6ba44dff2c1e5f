/**
 * The NoC protocol (RITM `evaluate_sample`): for each object, click where the simulated user would
 * (clicks.ts `nextClick`), feed the previous prediction back, and record the IoU after every click, up to
 * `maxClicks`. A batch of objects goes through the network together, one click each per round.
 */
import { maskIou } from '../../training/metrics';
import { clicksToReach, keepClickedComponents, nextClick, type Click, type Grid } from './clicks';
import { CLICK_INPUT_CHANNELS, writeClickChannels, type ClickEncoding } from './encode';

/** Runs n inputs (H x W x 6 each) and gives two-channel scores (background, object), H x W x 2 each. */
export type ScoreRunner = (x: Float32Array, n: number) => Promise<Float32Array>;

export const MAX_CLICKS = 20;
export const NOC_THRESHOLDS = [0.85, 0.9] as const;
/** IoU after these click counts is reported too. */
export const IOU_AT_CLICKS = [1, 3, 5] as const;

/** The object mask of two-channel scores: object wins. */
export function objectMask(
  scores: Float32Array,
  offset: number,
  pixels: number,
  out?: Uint8Array,
): Uint8Array {
  const mask = out ?? new Uint8Array(pixels);
  for (let p = 0; p < pixels; p++) mask[p] = scores[offset + 2 * p + 1] > scores[offset + 2 * p] ? 1 : 0;
  return mask;
}

/**
 * IoU after each click for each object. `x` holds the objects' inputs (their image channels; the click channels
 * are rewritten here). An object stops once it has had `minClicks` clicks and reached the highest threshold,
 * or when its prediction is exact.
 */
export async function clickSeries(opts: {
  run: ScoreRunner;
  x: Float32Array;
  gts: readonly Uint8Array[];
  grid: Grid;
  encoding: ClickEncoding;
  maxClicks?: number;
  minClicks?: number;
}): Promise<number[][]> {
  const { grid, gts } = opts;
  const maxClicks = opts.maxClicks ?? MAX_CLICKS;
  const minClicks = opts.minClicks ?? Math.max(...IOU_AT_CLICKS);
  const top = Math.max(...NOC_THRESHOLDS);
  const pixels = grid.height * grid.width;
  const stride = pixels * CLICK_INPUT_CHANNELS;
  const n = gts.length;
  const clicks: Click[][] = gts.map(() => []);
  const previous: (Uint8Array | null)[] = gts.map(() => null);
  const ious: number[][] = gts.map(() => []);
  const empty = new Uint8Array(pixels);
  const pending: (Click | null)[] = gts.map((gt) => nextClick(gt, empty, grid));
  for (let k = 1; k <= maxClicks; k++) {
    const active = [...Array(n).keys()].filter((i) => pending[i] !== null);
    if (active.length === 0) break;
    const x = new Float32Array(active.length * stride);
    active.forEach((i, j) => {
      clicks[i].push(pending[i]!);
      x.set(opts.x.subarray(i * stride, (i + 1) * stride), j * stride);
      writeClickChannels({
        clicks: clicks[i],
        previous: previous[i],
        grid,
        encoding: opts.encoding,
        out: x,
        offset: j * stride,
      });
    });
    const scores = await opts.run(x, active.length);
    active.forEach((i, j) => {
      // As segmentFromClicks answers a user: only the parts of the mask that were clicked.
      const pred = keepClickedComponents(objectMask(scores, j * pixels * 2, pixels), clicks[i], grid);
      const iou = maskIou(pred, gts[i]);
      ious[i].push(iou);
      previous[i] = pred;
      const reached = ious[i].some((v) => v >= top);
      pending[i] = k >= minClicks && reached ? null : nextClick(gts[i], pred, grid);
    });
  }
  return ious;
}

/** The IoU after k clicks; a series that stopped early (exact, or done) keeps its last value. */
export function iouAfter(series: readonly number[], k: number): number {
  return series[Math.min(k, series.length) - 1];
}

export interface ClickMetrics {
  /** Mean clicks to reach each threshold (an object that never does counts as maxClicks), as RITM reports. */
  noc: Record<string, number>;
  /** Share of objects that never reach each threshold within maxClicks. */
  failed: Record<string, number>;
  /** Mean IoU after 1, 3 and 5 clicks. */
  iouAt: Record<string, number>;
  objects: number;
}

/** NoC@85, NoC@90, the share that never gets there, and mean IoU after 1, 3, 5 clicks; keys are "85", "1", ... */
export function clickMetrics(series: readonly (readonly number[])[], maxClicks = MAX_CLICKS): ClickMetrics {
  const mean = (xs: number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
  const noc: Record<string, number> = {};
  const failed: Record<string, number> = {};
  for (const thr of NOC_THRESHOLDS) {
    const key = String(Math.round(thr * 100));
    const reached = series.map((s) => clicksToReach(s, thr));
    noc[key] = mean(reached.map((r) => r ?? maxClicks));
    failed[key] = mean(reached.map((r) => (r === null ? 1 : 0)));
  }
  const iouAt: Record<string, number> = {};
  for (const k of IOU_AT_CLICKS) iouAt[String(k)] = mean(series.map((s) => iouAfter(s, k)));
  return { noc, failed, iouAt, objects: series.length };
}
