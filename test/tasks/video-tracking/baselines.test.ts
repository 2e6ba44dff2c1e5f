/**
 * Generated clips, the two baselines through `trackDavis`, and the DAVIS evaluation of their results: the whole
 * loop a tracker will run, on data whose labels are exact by construction.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  clipObjects,
  generateSyntheticClips,
  renderClip,
} from '../../../src/tasks/video-tracking/generated-clips';
import { readIndexPng } from '../../../src/format/png-mask-reader';
import { makeBaseline } from '../../../src/tasks/video-tracking/baselines';
import { evaluateDavis } from '../../../src/tasks/video-tracking/davis-eval';
import { parseShardSpec } from '../../../src/task/shard';
import { scoreByCamouflage, trackDavis } from '../../../src/tasks/video-tracking/track-davis';

let root: string;
const davis = (): string => path.join(root, 'DAVIS');

beforeAll(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'clips-'));
  await generateSyntheticClips({ dir: davis(), clips: 3, frames: 10, width: 80, height: 56, seed: 4 });
}, 60_000);
afterAll(() => fsp.rm(root, { recursive: true, force: true }));

describe('generated clips', () => {
  it('are DAVIS layout: a frame and an index mask per step, the clips listed, and the same bytes for a seed', async () => {
    const list = await fsp.readFile(path.join(davis(), 'ImageSets', '2017', 'val.txt'), 'utf8');
    expect(list.trim().split('\n')).toEqual(['clip000', 'clip001', 'clip002']);
    const frames = await fsp.readdir(path.join(davis(), 'JPEGImages', '480p', 'clip000'));
    expect(frames).toHaveLength(10);
    const mask = readIndexPng(
      await fsp.readFile(path.join(davis(), 'Annotations', '480p', 'clip000', '00000.png')),
    );
    expect([mask.width, mask.height]).toEqual([80, 56]);
    expect(Math.max(...mask.data)).toBeGreaterThanOrEqual(1);
    const again = path.join(root, 'again');
    await generateSyntheticClips({ dir: again, clips: 1, frames: 3, width: 80, height: 56, seed: 4 });
    for (const f of ['JPEGImages/480p/clip000/00002.jpg', 'Annotations/480p/clip000/00002.png']) {
      expect(await fsp.readFile(path.join(again, f))).toEqual(await fsp.readFile(path.join(davis(), f)));
    }
  });

  it('name the objects that wear the background colours, and the named ones are drawn in them', async () => {
    const style = { width: 80, height: 56, frames: 1, camouflage: 0.5, objects: { min: 3, max: 3 } };
    const kinds = new Set<boolean>();
    const shares: Record<'camouflaged' | 'plain', number[]> = { camouflaged: [], plain: [] };
    for (let seed = 0; seed < 12; seed++) {
      const objects = clipObjects(style, seed);
      expect(objects.map((o) => o.id)).toEqual([1, 2, 3]);
      const [frame] = [...renderClip(style, seed)];
      // The background's colours: those of the pixels no object covers.
      const background: number[][] = [];
      const seen = new Set<number>();
      // (a frame's brightness drift is nil on the first frame)
      for (let i = 0; i < frame.ids.length; i++) {
        const [r, g, b] = frame.rgb.subarray(i * 3, i * 3 + 3);
        const key = (r << 16) | (g << 8) | b;
        if (frame.ids[i] === 0 && !seen.has(key)) {
          seen.add(key);
          background.push([r, g, b]);
        }
      }
      // Its two colours: textures blend between them, so its colours lie on the segment between the farthest two.
      const dist = (a: number[], b: number[]): number => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
      const farthest = (from: number[]): number[] =>
        background.reduce((best, c) => (dist(c, from) > dist(best, from) ? c : best), from);
      const end1 = farthest(background[0]);
      const end2 = farthest(end1);
      const toSegment = (c: number[]): number => {
        const d = [0, 1, 2].map((k) => end2[k] - end1[k]);
        const len2 = d[0] ** 2 + d[1] ** 2 + d[2] ** 2;
        const t =
          len2 === 0
            ? 0
            : Math.max(0, Math.min(1, [0, 1, 2].reduce((a, k) => a + (c[k] - end1[k]) * d[k], 0) / len2));
        return dist(
          c,
          [0, 1, 2].map((k) => end1[k] + t * d[k]),
        );
      };
      /** The share of the object's pixels within 12 RGB levels of the background's colour segment. */
      const inBackground = (id: number): number => {
        let near = 0;
        let total = 0;
        for (let i = 0; i < frame.ids.length; i++) {
          if (frame.ids[i] !== id) continue;
          total++;
          const [r, g, b] = frame.rgb.subarray(i * 3, i * 3 + 3);
          if (toSegment([r, g, b]) <= 12) near++;
        }
        return total === 0 ? NaN : near / total;
      };
      for (const o of objects) {
        kinds.add(o.camouflaged);
        const share = inBackground(o.id);
        if (Number.isNaN(share)) continue;
        shares[o.camouflaged ? 'camouflaged' : 'plain'].push(share);
      }
    }
    // Camouflaged objects are drawn in the background's colours, the others are not (a few exceptions either way:
    // a background that shows only part of its colour range; an object whose own colours happen to lie near).
    const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
    const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
    expect(median(shares.camouflaged)).toBeGreaterThan(0.9);
    expect(median(shares.plain)).toBeLessThan(0.1);
    expect(mean(shares.camouflaged) - mean(shares.plain)).toBeGreaterThan(0.5);
    expect([...kinds].sort()).toEqual([false, true]);
    const written = await generateSyntheticClips({
      dir: path.join(root, 'camo'),
      clips: 4,
      seed: 9,
      ...style,
    });
    const again = await generateSyntheticClips({
      dir: path.join(root, 'camo2'),
      clips: 4,
      seed: 9,
      ...style,
      camouflage: 0,
    });
    expect(written.some((c) => c.camouflaged.length > 0)).toBe(true);
    expect(again.every((c) => c.camouflaged.length === 0)).toBe(true);
  });
});

describe('scores by kind of object', () => {
  it('averages the camouflaged objects the clips name apart from the others', () => {
    const score = {
      jf: 0,
      j: 0,
      f: 0,
      fps: 0,
      objects: [
        { sequence: 'a', object: 1, jf: 0.2 },
        { sequence: 'a', object: 2, jf: 0.9 },
        { sequence: 'b', object: 1, jf: 0.8 },
        { sequence: 'b', object: 2, jf: 0.4 },
      ],
    };
    const clips = [
      { name: 'a', objects: 2, camouflaged: [1] },
      { name: 'b', objects: 2, camouflaged: [2] },
    ];
    const k = scoreByCamouflage(score, clips);
    expect(k.camouflagedObjects).toBe(2);
    expect(k.camouflaged).toBeCloseTo(0.3, 10);
    expect(k.plain).toBeCloseTo(0.85, 10);
    expect(Number.isNaN(scoreByCamouflage(score, []).camouflaged)).toBe(true);
  });
});

describe('baselines through trackDavis and eval-davis', () => {
  it('the ground truth scores 1; copy and colour-nn score below it; colour-nn beats copy on moving shapes', async () => {
    const truth = await evaluateDavis({
      resultsDir: path.join(davis(), 'Annotations', '480p'),
      davisRoot: davis(),
    });
    expect(truth.global['J&F-Mean']).toBeCloseTo(1, 10);
    const scores: Record<string, number> = {};
    for (const name of ['copy', 'colour-nn'] as const) {
      const out = path.join(root, name);
      await trackDavis({
        davisRoot: davis(),
        outDir: out,
        makeTracker: async (f, m) => makeBaseline(name, f, m),
      });
      const report = await evaluateDavis({ resultsDir: out, davisRoot: davis() });
      scores[name] = report.global['J&F-Mean'];
    }
    expect(scores.copy).toBeLessThan(0.9);
    expect(scores['colour-nn']).toBeLessThan(1);
    expect(scores['colour-nn']).toBeGreaterThan(scores.copy);
  }, 120_000);

  it('splits the sequences into chunks that cover each once, and refuses a bad chunk', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 2; i++) {
      seen.push(
        ...(await trackDavis({
          davisRoot: davis(),
          outDir: path.join(root, `chunk${i}`),
          makeTracker: async (f, m) => makeBaseline('copy', f, m),
          chunk: parseShardSpec(`${i}/2`, '--chunk'),
        })),
      );
    }
    expect(seen.sort()).toEqual(['clip000', 'clip001', 'clip002']);
    expect(() => parseShardSpec('2/2', '--chunk')).toThrow('0 <= i < n');
    // A run again over existing results replaces them whole.
    await trackDavis({
      davisRoot: davis(),
      outDir: path.join(root, 'chunk0'),
      makeTracker: async (f, m) => makeBaseline('copy', f, m),
      chunk: parseShardSpec('0/2', '--chunk'),
    });
    expect((await fsp.readdir(path.join(root, 'chunk0'))).filter((n) => n.startsWith('.'))).toEqual([]);
  });
});

describe('objects added on a later frame', () => {
  // Grey; with `red`, pixels 40..43 are red: the object that enters has its own colour.
  const frame = (w: number, h: number, fill: number, red = true) => {
    const rgb = new Uint8Array(w * h * 3).fill(fill);
    if (red) for (let i = 40; i < 44; i++) rgb.set([250, 0, 0], i * 3);
    return { width: w, height: h, rgb };
  };
  it.each(['copy', 'colour-nn'] as const)(
    '%s follows an object given on frame 2 from then on',
    async (name) => {
      const w = 12;
      const h = 8;
      const first = new Uint8Array(w * h);
      first[0] = 3; // object 3 from the start, one pixel
      const tracker = makeBaseline(name, frame(w, h, 50, false), first);
      const m1 = await tracker.next(frame(w, h, 50, false));
      expect(m1.includes(7)).toBe(false);
      const added = new Uint8Array(w * h);
      for (let i = 40; i < 44; i++) added[i] = 7;
      const m2 = await tracker.next(frame(w, h, 50), added);
      expect([...m2.slice(40, 44)]).toEqual([7, 7, 7, 7]);
      const m3 = await tracker.next(frame(w, h, 50));
      expect([...m3.slice(40, 44)]).toEqual([7, 7, 7, 7]);
    },
  );
});

describe('DAVIS batches with objects that appear later, and per-object PNGs', () => {
  it("gives a later annotation's new ids to the tracker on their frame and writes 0/255 masks per object", async () => {
    const dir = path.join(root, 'later');
    await generateSyntheticClips({
      dir,
      clips: 1,
      frames: 4,
      width: 40,
      height: 32,
      seed: 6,
      objects: { min: 2, max: 2 },
    });
    // Frame 0's annotation without object 2: it "appears" on frame 2, whose annotation has it.
    const ann = path.join(dir, 'Annotations', '480p', 'clip000');
    const f0 = readIndexPng(await fsp.readFile(path.join(ann, '00000.png')));
    const { encodeIndexPng } = await import('../../../src/format/png-chunks');
    const { vocPalette } = await import('../../../src/format/palette');
    await fsp.writeFile(
      path.join(ann, '00000.png'),
      encodeIndexPng({ ...f0, data: f0.data.map((v) => (v === 2 ? 0 : v)) }, vocPalette()),
    );
    // YouTube-VOS gives a frame's annotation only where an object first appears: frame 1 has none.
    await fsp.rm(path.join(ann, '00001.png'));
    const out = path.join(root, 'later-out');
    await trackDavis({
      davisRoot: dir,
      outDir: out,
      makeTracker: async (f, m) => makeBaseline('copy', f, m),
      objectsAppearLater: true,
      perObjectPng: true,
    });
    const ids = async (name: string): Promise<Set<number>> =>
      new Set(readIndexPng(await fsp.readFile(path.join(out, 'clip000', name))).data);
    expect((await ids('00001.png')).has(2)).toBe(false);
    expect((await ids('00002.png')).has(2)).toBe(true);
    expect((await ids('00003.png')).has(2)).toBe(true);
    const perObject = readIndexPng(await fsp.readFile(path.join(out, 'clip000', '2', '00003.png')));
    expect(new Set(perObject.data)).toEqual(new Set([0, 255]));
    expect((await fsp.readdir(path.join(out, 'clip000', '1'))).sort()).toEqual([
      '00000.png',
      '00001.png',
      '00002.png',
      '00003.png',
    ]);
  });
});
