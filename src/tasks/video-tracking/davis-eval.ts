/**
 * The DAVIS 2017 semi-supervised evaluation over a results folder, as `davis2017-evaluation` runs it:
 * - the data set's layout: `Annotations/<resolution>/<sequence>/<frame>.png` (index PNGs: the pixel value is the
 *   object id, 255 void), the sequences of `ImageSets/<year>/<set>.txt` (or every annotated sequence);
 * - the results' layout: `<results>/<sequence>/<frame>.png`, palette or 8-bit grey, the same frame names;
 * - objects are the ids 1..max(first frame); void is ignored (semi-supervised); the first and the last frame do
 *   not count; a predicted id above the objects, a missing frame or a frame of another size is an error naming
 *   the file;
 * - per object, J and F statistics (davis-measures.ts); the global figures average over all objects of all
 *   sequences, not over sequences.
 * Frames are read one at a time: a long sequence does not stay in memory.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { dataError, errorMessage } from '../../errors';
import { readIndexPng, type IndexImage } from '../../format/png-mask-reader';
import { readRegularFile } from '../../util/regular-file';
import { boundaryF, dbStatistics, regionJ, type ObjectStatistics } from './davis-measures';

export const VOID_ID = 255;

export interface DavisObjectResult {
  sequence: string;
  /** The object id in the masks. */
  object: number;
  /** J and F per counted frame (the first and the last are not counted). */
  j: number[];
  f: number[];
  jStats: ObjectStatistics;
  fStats: ObjectStatistics;
}

export interface DavisGlobal {
  'J&F-Mean': number;
  'J-Mean': number;
  'J-Recall': number;
  'J-Decay': number;
  'F-Mean': number;
  'F-Recall': number;
  'F-Decay': number;
}

export interface DavisReport {
  global: DavisGlobal;
  objects: DavisObjectResult[];
  sequences: string[];
}

export async function readIndexFile(file: string): Promise<IndexImage> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw dataError(code === 'ENOENT' ? 'file not found' : `cannot read the file: ${errorMessage(e)}`, {
      file,
    });
  }
  try {
    return readIndexPng(bytes);
  } catch (e) {
    throw dataError(errorMessage(e), { file });
  }
}

/** The sequences to evaluate: the image set's list, or every annotated sequence. */
export async function davisSequences(opts: {
  davisRoot: string;
  resolution: string;
  year: string;
  set: string;
}): Promise<string[]> {
  const list = path.join(opts.davisRoot, 'ImageSets', opts.year, `${opts.set}.txt`);
  try {
    const text = await readRegularFile(list, 'utf8');
    return text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw dataError(`cannot read: ${errorMessage(e)}`, { file: list });
  }
  const annotations = path.join(opts.davisRoot, 'Annotations', opts.resolution);
  try {
    const entries = await fs.readdir(annotations, { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch (e) {
    throw dataError(`no ${list} and no annotations folder: ${errorMessage(e)}`, { file: annotations });
  }
}

/** One sequence: every object's J and F per counted frame. */
export async function evaluateSequence(opts: {
  sequence: string;
  gtDir: string;
  resultsDir: string;
  boundTh?: number;
}): Promise<DavisObjectResult[]> {
  const frames = (await fs.readdir(opts.gtDir)).filter((f) => f.toLowerCase().endsWith('.png')).sort();
  if (frames.length === 0) throw dataError('no annotated frames (.png)', { file: opts.gtDir });
  const first = await readIndexFile(path.join(opts.gtDir, frames[0]));
  let objects = 0;
  for (const v of first.data) if (v !== VOID_ID && v > objects) objects = v;
  const j: number[][] = Array.from({ length: objects }, () => []);
  const f: number[][] = Array.from({ length: objects }, () => []);
  const size = { height: first.height, width: first.width };
  const pixels = size.height * size.width;
  // Semi-supervised: the first frame is given and the last is left out, as the official code does.
  for (let k = 1; k < frames.length - 1; k++) {
    const gtFile = path.join(opts.gtDir, frames[k]);
    const predFile = path.join(opts.resultsDir, frames[k]);
    const gt = await readIndexFile(gtFile);
    const pred = await readIndexFile(predFile);
    for (const [img, file] of [
      [gt, gtFile],
      [pred, predFile],
    ] as const) {
      if (img.width !== size.width || img.height !== size.height) {
        throw dataError(
          `the frame is ${img.width}x${img.height}, the sequence's first annotation ${size.width}x${size.height}`,
          { file },
        );
      }
    }
    let maxPred = 0;
    for (const v of pred.data) if (v > maxPred) maxPred = v;
    if (maxPred > objects) {
      throw dataError(
        `the prediction has object id ${maxPred}, but the first frame has ${objects} object(s) (ids 1..${objects})`,
        { file: predFile },
      );
    }
    const g = new Uint8Array(pixels);
    const p = new Uint8Array(pixels);
    for (let o = 1; o <= objects; o++) {
      // Void pixels (255) count as background for both, as in semi-supervised mode.
      for (let i = 0; i < pixels; i++) {
        g[i] = gt.data[i] === o ? 1 : 0;
        p[i] = pred.data[i] === o ? 1 : 0;
      }
      j[o - 1].push(regionJ(p, g));
      f[o - 1].push(boundaryF(p, g, size, { boundTh: opts.boundTh }));
    }
  }
  return j.map((jv, i) => ({
    sequence: opts.sequence,
    object: i + 1,
    j: jv,
    f: f[i],
    jStats: dbStatistics(jv),
    fStats: dbStatistics(f[i]),
  }));
}

/** The global figures: means over all objects of all sequences. */
export function davisGlobal(objects: readonly DavisObjectResult[]): DavisGlobal {
  const mean = (xs: number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
  const jm = mean(objects.map((o) => o.jStats.mean));
  const fm = mean(objects.map((o) => o.fStats.mean));
  return {
    'J&F-Mean': (jm + fm) / 2,
    'J-Mean': jm,
    'J-Recall': mean(objects.map((o) => o.jStats.recall)),
    'J-Decay': mean(objects.map((o) => o.jStats.decay)),
    'F-Mean': fm,
    'F-Recall': mean(objects.map((o) => o.fStats.recall)),
    'F-Decay': mean(objects.map((o) => o.fStats.decay)),
  };
}

export async function evaluateDavis(opts: {
  resultsDir: string;
  davisRoot: string;
  resolution?: string;
  year?: string;
  set?: string;
  sequences?: readonly string[];
  onSequence?: (sequence: string, objects: DavisObjectResult[]) => void;
}): Promise<DavisReport> {
  const resolution = opts.resolution ?? '480p';
  const sequences =
    opts.sequences ??
    (await davisSequences({
      davisRoot: opts.davisRoot,
      resolution,
      year: opts.year ?? '2017',
      set: opts.set ?? 'val',
    }));
  const objects: DavisObjectResult[] = [];
  for (const sequence of sequences) {
    const done = await evaluateSequence({
      sequence,
      gtDir: path.join(opts.davisRoot, 'Annotations', resolution, sequence),
      resultsDir: path.join(opts.resultsDir, sequence),
    });
    objects.push(...done);
    opts.onSequence?.(sequence, done);
  }
  return { global: davisGlobal(objects), objects, sequences: [...sequences] };
}

/** The two CSVs of the official evaluation (values rounded to 3 decimals). */
export function davisCsv(report: DavisReport): { global: string; perSequence: string } {
  const r = (v: number): string => (Number.isNaN(v) ? 'nan' : v.toFixed(3));
  const keys = Object.keys(report.global) as (keyof DavisGlobal)[];
  return {
    global: `${keys.join(',')}\n${keys.map((k) => r(report.global[k])).join(',')}\n`,
    perSequence:
      'Sequence,J-Mean,F-Mean\n' +
      report.objects
        .map((o) => `${o.sequence}_${o.object},${r(o.jStats.mean)},${r(o.fStats.mean)}`)
        .join('\n') +
      '\n',
  };
}
