/**
 * The preflight report, before the model is built: what the run will learn from. Per fold, the images and, per
 * class, the images that hold it and its labelled area in pixels (label areas: overlapping labels count twice;
 * background is what no label covers); the classes a fold lacks (a class absent from train is never learned,
 * one absent from val is never measured); the image sizes. Logged as one structured line and a few readable ones.
 * Also the check of every image's header (`checkFoldImages`), and the time-per-epoch estimate (./warm-steps.ts).
 */
import { errorMessage } from '../errors';
import type { Annotation, Geometry, PixelPoint } from '../format/model';
import type { Logger } from '../protocol/logger';
import { corruptedBudgetError } from './data/fold-batches';
import type { FoldPurpose } from './folds';

export interface ItemStats {
  readonly width: number;
  readonly height: number;
  /** Labelled area by class title. */
  readonly classPixels: Readonly<Record<string, number>>;
}

/** A label's area in pixels: set bits of a bitmap, a polygon's area less its holes, a rectangle's; 0 otherwise. */
export function geometryArea(g: Geometry): number {
  switch (g.type) {
    case 'bitmap': {
      let n = 0;
      for (const v of g.mask.data) if (v !== 0) n += 1;
      return n;
    }
    case 'polygon':
      return Math.max(0, ringArea(g.exterior) - g.interior.reduce((s, r) => s + ringArea(r), 0));
    case 'rectangle':
      return Math.max(0, g.right - g.left + 1) * Math.max(0, g.bottom - g.top + 1);
    default:
      return 0;
  }
}

function ringArea(ring: readonly PixelPoint[]): number {
  let twice = 0;
  for (let i = 0; i < ring.length; i++) {
    const a = ring[i];
    const b = ring[(i + 1) % ring.length];
    twice += a.x * b.y - b.x * a.y;
  }
  return Math.abs(twice) / 2;
}

export function itemStats(annotation: Annotation): ItemStats {
  const classPixels: Record<string, number> = {};
  for (const l of annotation.labels) {
    classPixels[l.classTitle] = (classPixels[l.classTitle] ?? 0) + geometryArea(l.geometry);
  }
  return { width: annotation.size.width, height: annotation.size.height, classPixels };
}

export interface FoldReport {
  readonly images: number;
  readonly pixels: number;
  /** By class title: images holding it, and its labelled pixels. */
  readonly classes: Readonly<Record<string, { images: number; pixels: number }>>;
  /** Classes of the class map that no image of the fold holds. */
  readonly absent: readonly string[];
}

export interface PreflightReport {
  readonly folds: Readonly<Record<string, FoldReport>>;
  readonly image_sizes: {
    min: string;
    max: string;
    most_common: readonly { size: string; images: number }[];
  };
}

export function preflightReport(
  folds: Readonly<Record<string, readonly ItemStats[]>>,
  classTitles: readonly string[],
): PreflightReport {
  const sizes = new Map<string, { images: number; area: number }>();
  const out: Record<string, FoldReport> = {};
  for (const [name, items] of Object.entries(folds)) {
    const classes: Record<string, { images: number; pixels: number }> = {};
    let pixels = 0;
    for (const it of items) {
      pixels += it.width * it.height;
      const key = `${it.width}x${it.height}`;
      const s = sizes.get(key) ?? { images: 0, area: it.width * it.height };
      s.images += 1;
      sizes.set(key, s);
      for (const [title, area] of Object.entries(it.classPixels)) {
        const c = (classes[title] ??= { images: 0, pixels: 0 });
        c.images += 1;
        c.pixels += Math.round(area);
      }
    }
    out[name] = {
      images: items.length,
      pixels,
      classes,
      absent: classTitles.filter((t) => classes[t] === undefined),
    };
  }
  const bySize = [...sizes.entries()].sort((a, b) => a[1].area - b[1].area);
  return {
    folds: out,
    image_sizes: {
      min: bySize[0]?.[0] ?? 'none',
      max: bySize.at(-1)?.[0] ?? 'none',
      most_common: [...sizes.entries()]
        .sort((a, b) => b[1].images - a[1].images)
        .slice(0, 3)
        .map(([size, s]) => ({ size, images: s.images })),
    },
  };
}

/** One structured line ("Preflight"), then a readable line per fold and a warning per fold that lacks classes. */
export function logPreflight(logger: Logger, report: PreflightReport): void {
  logger.info('Preflight', { report });
  for (const [name, f] of Object.entries(report.folds)) {
    const rare = Object.entries(f.classes)
      .sort((a, b) => a[1].pixels - b[1].pixels)
      .slice(0, 3)
      .map(([t, c]) => `${t} ${c.images} img / ${share(c.pixels, f.pixels)}`);
    logger.info(
      `Preflight: ${name}: ${f.images} images, ${Object.keys(f.classes).length} labelled classes; ` +
        `rarest: ${rare.join(', ') || 'none'}`,
    );
    if (f.absent.length > 0) {
      const why = name === 'train' ? 'never learned' : 'never measured';
      logger.warn(`Preflight: no ${name} image holds ${f.absent.join(', ')}: ${why}`, {
        fold: name,
        absent: f.absent,
      });
    }
  }
  const s = report.image_sizes;
  logger.info(`Preflight: image sizes from ${s.min} to ${s.max}`, { most_common: s.most_common });
}

function share(part: number, whole: number): string {
  if (whole === 0) return '0%';
  const p = (100 * part) / whole;
  return p >= 1 ? `${p.toFixed(1)}%` : `${p.toPrecision(2)}%`;
}

/** An image the preflight found unreadable. */
export interface UnreadableImage {
  /** The item's index in its fold. */
  readonly index: number;
  readonly file: string;
  readonly item: string;
  readonly reason: string;
}

/**
 * Reads the header of every image of a fold (`check`: the format, the size against the annotation) a few at a
 * time, before the model is built: an unreadable image is found at the start, not epochs later (a val image
 * at the first validation). Within the fold's `allow_corrupted_samples` budget each is reported (`onSkip`) and
 * returned, for the loader to leave out; past it, the run fails naming the file, as the loader would.
 */
export async function checkFoldImages(opts: {
  purpose: FoldPurpose;
  count: number;
  allowed: number;
  check: (index: number) => Promise<unknown>;
  describe: (index: number) => { file: string; item: string };
  onSkip: (image: UnreadableImage, skipped: number) => void;
  concurrency?: number;
}): Promise<number[]> {
  const failures = new Map<number, unknown>();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < opts.count; i = next++) {
      try {
        await opts.check(i);
      } catch (e) {
        failures.set(i, e);
      }
    }
  };
  const lanes = Math.max(1, Math.min(opts.concurrency ?? 8, opts.count));
  await Promise.all(Array.from({ length: lanes }, worker));
  // In fold order, whatever order the reads finished in: the same images are skipped on every run.
  const bad = [...failures.keys()].sort((a, b) => a - b);
  bad.forEach((index, k) => {
    const where = opts.describe(index);
    const error = failures.get(index);
    if (k >= opts.allowed) {
      throw corruptedBudgetError({ purpose: opts.purpose, allowed: opts.allowed, where, error });
    }
    opts.onSkip({ index, ...where, reason: errorMessage(error) }, k + 1);
  });
  return bad;
}

/** The preflight's time estimate line: seconds per epoch of training steps, from a few timed steps. */
export function logEpochEstimate(
  logger: Logger,
  estimate: { stepSeconds: number; timedSteps: number },
  itersPerEpoch: number,
): void {
  const epochSeconds = estimate.stepSeconds * itersPerEpoch;
  logger.info(
    `Preflight: about ${formatSeconds(epochSeconds)} per epoch (an estimate from ${estimate.timedSteps} timed ` +
      'training steps on this machine; waiting for data, validation and checkpoints are not in it)',
    {
      epoch_seconds_estimate: round2(epochSeconds),
      step_seconds: round2(estimate.stepSeconds),
      timed_steps: estimate.timedSteps,
      iters_per_epoch: itersPerEpoch,
    },
  );
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

function formatSeconds(s: number): string {
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
