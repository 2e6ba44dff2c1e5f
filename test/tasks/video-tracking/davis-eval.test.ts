/**
 * The DAVIS evaluation over folders, against the official evaluation's sequence test vector (notes §3.6): 8
 * frames of 48x64, object 1 a 12x12 square moving 3 px a frame whose prediction lags one frame, object 2 a
 * static 10x16 rectangle lost from frame 5. Annotations are palette PNGs with the VOC colours, predictions
 * 8-bit grey PNGs, as the two kinds users bring.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { PNG } from 'pngjs';
import { runCli } from '../../../src/cli/run-cli';
import { TaskError } from '../../../src/errors';
import { encodeIndexPng } from '../../../src/format/png-chunks';
import { readIndexPng } from '../../../src/format/png-mask-reader';
import { davisCsv, evaluateDavis } from '../../../src/tasks/video-tracking/davis-eval';
import { vocPalette } from '../../../src/format/palette';

const H = 48;
const W = 64;
const FRAMES = 8;

function frame(t: number, lag: boolean): Uint8Array {
  const m = new Uint8Array(H * W);
  const x0 = 3 + 3 * (lag ? Math.max(0, t - 1) : t);
  for (let y = 5; y < 17; y++) for (let x = x0; x < x0 + 12; x++) m[y * W + x] = 1;
  if (!lag || t < 5) for (let y = 30; y < 40; y++) for (let x = 40; x < 56; x++) m[y * W + x] = 2;
  return m;
}

let root: string;
beforeAll(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'davis-'));
  const gtDir = path.join(root, 'DAVIS', 'Annotations', '480p', 'squares');
  const resDir = path.join(root, 'results', 'squares');
  await fsp.mkdir(gtDir, { recursive: true });
  await fsp.mkdir(resDir, { recursive: true });
  await fsp.mkdir(path.join(root, 'DAVIS', 'ImageSets', '2017'), { recursive: true });
  await fsp.writeFile(path.join(root, 'DAVIS', 'ImageSets', '2017', 'val.txt'), 'squares\n');
  for (let t = 0; t < FRAMES; t++) {
    const name = `${String(t).padStart(5, '0')}.png`;
    await fsp.writeFile(
      path.join(gtDir, name),
      encodeIndexPng({ width: W, height: H, data: frame(t, false) }, vocPalette()),
    );
    await sharp(Buffer.from(frame(t, true)), { raw: { width: W, height: H, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(path.join(resDir, name));
  }
});
afterAll(() => fsp.rm(root, { recursive: true, force: true }));

describe('index PNGs', () => {
  it('a palette PNG keeps its ids when read, and shows the VOC colours to any other reader', async () => {
    const file = path.join(root, 'DAVIS', 'Annotations', '480p', 'squares', '00002.png');
    const bytes = await fsp.readFile(file);
    expect(Array.from(readIndexPng(bytes).data)).toEqual(Array.from(frame(2, false)));
    const rgba = PNG.sync.read(bytes).data; // pngjs expands the palette: the colours, independently decoded
    const at = (y: number, x: number): number[] =>
      Array.from(rgba.subarray((y * W + x) * 4, (y * W + x) * 4 + 3));
    expect(at(6, 10)).toEqual([128, 0, 0]);
    expect(at(35, 45)).toEqual([0, 128, 0]);
    expect(at(0, 0)).toEqual([0, 0, 0]);
  });

  it('an 8-bit grey PNG is read as its values; an RGB PNG is refused', async () => {
    const grey = await fsp.readFile(path.join(root, 'results', 'squares', '00006.png'));
    expect(Array.from(readIndexPng(grey).data)).toEqual(Array.from(frame(6, true)));
    const rgb = await sharp(Buffer.alloc(12), { raw: { width: 2, height: 2, channels: 3 } })
      .png()
      .toBuffer();
    expect(() => readIndexPng(rgb)).toThrow('expected an indexed (palette) or 8-bit grey PNG');
  });
});

describe('evaluateDavis', () => {
  it('gives the official figures for the sequence test vector', async () => {
    const report = await evaluateDavis({
      resultsDir: path.join(root, 'results'),
      davisRoot: path.join(root, 'DAVIS'),
    });
    expect(report.sequences).toEqual(['squares']);
    const [o1, o2] = report.objects;
    expect(o1.j.map((v) => +v.toFixed(6))).toEqual(Array(6).fill(0.6));
    expect(o1.f.map((v) => +v.toFixed(6))).toEqual(Array(6).fill(0.5));
    expect(o1.jStats).toEqual({ mean: expect.closeTo(0.6, 6), recall: 1, decay: expect.closeTo(0, 6) });
    expect(o1.fStats).toEqual({ mean: expect.closeTo(0.5, 6), recall: 0, decay: expect.closeTo(0, 6) });
    expect(o2.j).toEqual([1, 1, 1, 1, 0, 0]);
    expect(o2.fStats.decay).toBeCloseTo(1, 6);
    const g = report.global;
    expect(g['J-Mean']).toBeCloseTo(0.6333, 4);
    expect(g['F-Mean']).toBeCloseTo(0.5833, 4);
    expect(g['J&F-Mean']).toBeCloseTo(0.6083, 4);
    expect(g['J-Recall']).toBeCloseTo(0.8333, 4);
    expect(g['J-Decay']).toBeCloseTo(0.5, 4);
    expect(g['F-Recall']).toBeCloseTo(0.3333, 4);
    expect(g['F-Decay']).toBeCloseTo(0.5, 4);
    const csv = davisCsv(report);
    expect(csv.global.split('\n')[1]).toBe('0.608,0.633,0.833,0.500,0.583,0.333,0.500');
    expect(csv.perSequence.split('\n').slice(1, 3)).toEqual([
      'squares_1,0.600,0.500',
      'squares_2,0.667,0.667',
    ]);
  });

  it('names the file of a missing frame and of an id the first frame does not have', async () => {
    const res = path.join(root, 'results', 'squares');
    const moved = path.join(root, 'moved.png');
    await fsp.rename(path.join(res, '00003.png'), moved);
    const missing = await evaluateDavis({
      resultsDir: path.join(root, 'results'),
      davisRoot: path.join(root, 'DAVIS'),
    }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TaskError);
    expect((missing as TaskError).message).toContain(path.join(res, '00003.png'));
    expect((missing as TaskError).message).toContain('file not found');
    const three = frame(3, true).map((v) => (v === 2 ? 3 : v));
    await sharp(Buffer.from(three), { raw: { width: W, height: H, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(path.join(res, '00003.png'));
    const extra = await evaluateDavis({
      resultsDir: path.join(root, 'results'),
      davisRoot: path.join(root, 'DAVIS'),
    }).catch((e: unknown) => e);
    expect((extra as TaskError).message).toContain('object id 3, but the first frame has 2 object(s)');
    await fsp.rename(moved, path.join(res, '00003.png'));
  });
});

describe('sly-nn eval-davis', () => {
  it('prints a row per object and a last JSON line, and writes the two CSVs', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['eval-davis', path.join(root, 'results'), path.join(root, 'DAVIS')], {
      out: (t) => void out.push(t),
      err: (t) => void err.push(t),
    });
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out.filter((l) => l.startsWith('squares'))).toHaveLength(2);
    const last = JSON.parse(out[out.length - 1]);
    expect(last).toMatchObject({ sequences: 1, objects: 2 });
    expect(last['J&F-Mean']).toBeCloseTo(0.6083, 4);
    const global = await fsp.readFile(path.join(root, 'results', 'global_results-val.csv'), 'utf8');
    expect(global.split('\n')[0]).toBe('J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay');
    await expect(fsp.stat(path.join(root, 'results', 'per-sequence_results-val.csv'))).resolves.toBeDefined();
  });
});
