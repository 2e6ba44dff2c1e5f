/**
 * Class weights for the cross-entropy (`class_weights` of the training config), from the training fold's pixel
 * counts as the preflight reads them (label areas at annotation resolution: overlapping labels count twice, the
 * background is what no label covers):
 * - "enet" (Paszke et al., ENet): w_c = 1 / ln(1.02 + p_c), p_c the class's share of the counted pixels;
 * - "median_frequency" (Eigen & Fergus; SegNet): freq_c = pixels of c / pixels of the images holding c,
 *   w_c = median(freq) / freq_c, the median over the classes present;
 * - "none": no weights (every class 1).
 * A class without training pixels gets 0: there is nothing to learn from it (the preflight warns about it).
 */
import type { ItemStats } from './preflight';

export type ClassWeighting = 'none' | 'enet' | 'median_frequency';

/** Per class index: its pixels, and the pixels of the images that hold it. */
export interface ClassPixelCounts {
  pixels: number[];
  imagePixels: number[];
}

/**
 * Counts per class index over a fold's items. `drawingClassToIdx` maps label titles to indices (a title it
 * lacks is not drawn); pixels no label covers go to `fill`. Indices outside [0, numClasses) (the ignored
 * neutral class) are not counted.
 */
export function classPixelCounts(opts: {
  items: readonly ItemStats[];
  drawingClassToIdx: Readonly<Record<string, number>>;
  fill: number;
  numClasses: number;
}): ClassPixelCounts {
  const { numClasses } = opts;
  const pixels = new Array<number>(numClasses).fill(0);
  const imagePixels = new Array<number>(numClasses).fill(0);
  const counted = (idx: number | undefined): idx is number =>
    idx !== undefined && idx >= 0 && idx < numClasses;
  for (const item of opts.items) {
    const area = item.width * item.height;
    const holds = new Set<number>();
    let labelled = 0;
    for (const [title, a] of Object.entries(item.classPixels)) {
      const px = Math.round(a);
      labelled += px;
      const idx = opts.drawingClassToIdx[title];
      if (!counted(idx) || px <= 0) continue;
      pixels[idx] += px;
      holds.add(idx);
    }
    const unlabelled = Math.max(0, area - labelled);
    if (unlabelled > 0 && counted(opts.fill)) {
      pixels[opts.fill] += unlabelled;
      holds.add(opts.fill);
    }
    for (const idx of holds) imagePixels[idx] += area;
  }
  return { pixels, imagePixels };
}

/** The weight of each class index, or undefined for "none" (the loss then does no extra work). */
export function classWeights(method: ClassWeighting, counts: ClassPixelCounts): number[] | undefined {
  if (method === 'none') return undefined;
  const { pixels, imagePixels } = counts;
  if (method === 'enet') {
    const total = pixels.reduce((a, b) => a + b, 0);
    return pixels.map((px) => (px > 0 ? 1 / Math.log(1.02 + px / total) : 0));
  }
  const freq = pixels.map((px, c) => (px > 0 ? px / imagePixels[c] : 0));
  const present = freq.filter((f) => f > 0);
  const m = median(present);
  return freq.map((f) => (f > 0 ? m / f : 0));
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The weights keyed by class title (for the log and config.json), in class-index order. */
export function weightsByTitle(
  weights: readonly number[],
  classTitleToIdx: Readonly<Record<string, number>>,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(classTitleToIdx)
      .filter(([, idx]) => idx >= 0 && idx < weights.length)
      .sort((a, b) => a[1] - b[1])
      .map(([title, idx]) => [title, weights[idx]]),
  );
}
