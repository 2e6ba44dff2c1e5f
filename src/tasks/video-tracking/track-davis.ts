/**
 * Tracking over a DAVIS-layout data set: for each sequence, the first frame's annotation is followed through
 * `JPEGImages/<resolution>/<sequence>/` frame by frame (two frames in memory at a time), and one index PNG a frame
 * is written to `<out>/<sequence>/<frame>.png` (VOC palette, the ids of the first mask). A sequence's folder
 * appears whole or not at all: it is written under a temporary name and renamed. `chunk` splits the sequences
 * for many machines (a SLURM array, a Kubernetes Indexed Job): chunk i of n takes every n-th, from the i-th
 * (`shardItems`, as sharded inference splits a project's images).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { dataError } from '../../errors';
import { vocPalette } from '../../format/palette';
import { encodeIndexPng } from '../../format/png-chunks';
import { decodeImage } from '../../image/decode';
import { shardItems, type Shard } from '../../task/shard';
import { writeFolderAtomically } from '../../util/atomic';
import { listFrameFiles } from '../../video/frame-folder';
import type { Frame, TrackerFactory } from './baselines';
import { davisSequences, evaluateDavis, readIndexFile, VOID_ID } from './davis-eval';
import type { SyntheticClip } from './generated-clips';

/** Palette entry i is grey i: a per-object mask's 0 and 255 show black and white. */
const GREY = Uint8Array.from({ length: 768 }, (_, i) => Math.floor(i / 3));

export async function trackDavis(opts: {
  davisRoot: string;
  outDir: string;
  makeTracker: TrackerFactory;
  resolution?: string;
  set?: string;
  sequences?: readonly string[];
  chunk?: Pick<Shard, 'index' | 'count'>;
  /**
   * YouTube-VOS style: a later frame's annotation, when there is one, brings objects the earlier frames did not
   * have; they are given to the tracker on that frame (ids already known there are ignored).
   */
  objectsAppearLater?: boolean;
  /** Also (or, with `indexPng: false`, only) one 0/255 PNG per object per frame: `<sequence>/<id>/<frame>.png`. */
  perObjectPng?: boolean;
  onFrame?: (sequence: string, frame: number, frames: number) => void;
}): Promise<string[]> {
  const resolution = opts.resolution ?? '480p';
  const all =
    opts.sequences ??
    (await davisSequences({ davisRoot: opts.davisRoot, resolution, year: '2017', set: opts.set ?? 'val' }));
  const mine = shardItems(all, opts.chunk ?? { index: 0, count: 1 });
  const palette = vocPalette();
  await fs.mkdir(opts.outDir, { recursive: true });
  for (const sequence of mine) {
    const imgDir = path.join(opts.davisRoot, 'JPEGImages', resolution, sequence);
    const names = await listFrameFiles(imgDir);
    const stem = (f: string): string => f.slice(0, f.length - path.extname(f).length);
    const maskFile = path.join(opts.davisRoot, 'Annotations', resolution, sequence, `${stem(names[0])}.png`);
    const firstMask = await readIndexFile(maskFile);
    const readFrame = async (name: string): Promise<Frame> => {
      const file = path.join(imgDir, name);
      const img = await decodeImage(file, { displayName: file });
      if (img.width !== firstMask.width || img.height !== firstMask.height) {
        throw dataError(
          `the frame is ${img.width}x${img.height}, the first mask ${firstMask.width}x${firstMask.height}`,
          { file },
        );
      }
      return { width: img.width, height: img.height, rgb: img.data };
    };
    const target = path.join(opts.outDir, sequence);
    const annDir = path.join(opts.davisRoot, 'Annotations', resolution, sequence);
    /** The objects of frame `name`'s annotation that are new (ids not seen so far), or undefined. */
    const known = new Set(firstMask.data);
    const addedOn = async (name: string): Promise<Uint8Array | undefined> => {
      if (opts.objectsAppearLater !== true) return undefined;
      const file = path.join(annDir, `${stem(name)}.png`);
      const exists = await fs.stat(file).then(
        () => true,
        () => false,
      );
      if (!exists) return undefined;
      const mask = await readIndexFile(file);
      if (mask.width !== firstMask.width || mask.height !== firstMask.height) {
        throw dataError(
          `the annotation is ${mask.width}x${mask.height}, the first mask ${firstMask.width}x${firstMask.height}`,
          { file },
        );
      }
      const fresh = mask.data.map((v) => (v !== 0 && v !== VOID_ID && !known.has(v) ? v : 0));
      if (!fresh.some((v) => v !== 0)) return undefined;
      for (const v of fresh) known.add(v);
      return fresh;
    };
    await writeFolderAtomically(target, async (tmp) => {
      const first = await readFrame(names[0]);
      const tracker = await opts.makeTracker(first, firstMask.data);
      const write = async (name: string, data: Uint8Array): Promise<void> => {
        const size = { width: first.width, height: first.height };
        await fs.writeFile(path.join(tmp, `${stem(name)}.png`), encodeIndexPng({ ...size, data }, palette));
        if (opts.perObjectPng !== true) return;
        for (const id of known) {
          if (id === 0 || id === VOID_ID) continue;
          const dir = path.join(tmp, String(id));
          await fs.mkdir(dir, { recursive: true });
          const binary = data.map((v) => (v === id ? 255 : 0));
          await fs.writeFile(
            path.join(dir, `${stem(name)}.png`),
            encodeIndexPng({ ...size, data: binary }, GREY),
          );
        }
      };
      await write(names[0], firstMask.data);
      opts.onFrame?.(sequence, 1, names.length);
      try {
        for (let t = 1; t < names.length; t++) {
          const frame = await readFrame(names[t]);
          await write(names[t], await tracker.next(frame, await addedOn(names[t])));
          opts.onFrame?.(sequence, t + 1, names.length);
        }
      } finally {
        await tracker.dispose?.();
      }
      // An earlier run's folder is replaced whole, only once the new one is complete.
      await fs.rm(target, { recursive: true, force: true });
    });
  }
  return mine;
}

/** A tracker's DAVIS figures over a data set, and its speed. */
export interface TrackerScore {
  jf: number;
  j: number;
  f: number;
  /** Frames tracked per second (reading and writing included). */
  fps: number;
  /** Each object's J&F (the mean of its J and F means), by sequence and object id. */
  objects: { sequence: string; object: number; jf: number }[];
}

/**
 * Mean J&F of a score's camouflaged objects (drawn in the background's colours, as `clips` name them) and of the
 * others (NaN for a kind with no object), and how many are camouflaged: where trackers and baselines part.
 */
export function scoreByCamouflage(
  score: TrackerScore,
  clips: readonly SyntheticClip[],
): { camouflaged: number; plain: number; camouflagedObjects: number } {
  const names = new Set(clips.flatMap((c) => c.camouflaged.map((id) => `${c.name}/${id}`)));
  const sums = { camouflaged: [0, 0], plain: [0, 0] };
  for (const o of score.objects) {
    const kind = names.has(`${o.sequence}/${o.object}`) ? sums.camouflaged : sums.plain;
    kind[0] += o.jf;
    kind[1]++;
  }
  return {
    camouflaged: sums.camouflaged[0] / sums.camouflaged[1],
    plain: sums.plain[0] / sums.plain[1],
    camouflagedObjects: sums.camouflaged[1],
  };
}

/** Tracks the sequences into `outDir` and scores them as `sly-nn eval-davis` does. */
export async function scoreTracker(opts: {
  davisRoot: string;
  outDir: string;
  makeTracker: TrackerFactory;
  sequences?: readonly string[];
}): Promise<TrackerScore> {
  let frames = 0;
  const started = Date.now();
  await trackDavis({ ...opts, onFrame: () => frames++ });
  const fps = frames / Math.max(1e-3, (Date.now() - started) / 1000);
  const r = await evaluateDavis({
    resultsDir: opts.outDir,
    davisRoot: opts.davisRoot,
    ...(opts.sequences === undefined ? {} : { sequences: opts.sequences }),
  });
  return {
    jf: r.global['J&F-Mean'],
    j: r.global['J-Mean'],
    f: r.global['F-Mean'],
    fps,
    objects: r.objects.map((o) => ({
      sequence: o.sequence,
      object: o.object,
      jf: (o.jStats.mean + o.fStats.mean) / 2,
    })),
  };
}
