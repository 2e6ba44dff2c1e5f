/**
 * Generated video clips for mask tracking, in DAVIS layout (`JPEGImages/480p/<clip>/00000.jpg`,
 * `Annotations/480p/<clip>/00000.png` as VOC-palette index PNGs, `ImageSets/2017/<set>.txt`): textured shapes
 * on a textured background that move, rotate and change scale, pass in front of each other (depth order),
 * leave and re-enter the frame, beside unlabelled look-alike distractors, under camera pan and a brightness
 * drift. Labels are exact by construction: each pixel's id is the topmost shape's (0 for a distractor or the
 * background). Seeded: the same options write the same bytes. The annotation of every frame is written, so
 * `sly-nn eval-davis` can score any tracker on them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import sharp from 'sharp';
import { encodeIndexPng } from '../../format/png-chunks';
import { vocPalette } from '../../format/palette';
import { mixSeed, mulberry32, type Random } from '../../util/random';

export interface SyntheticClipsOptions extends ClipStyle {
  /** The data set root: JPEGImages/, Annotations/ and ImageSets/ are written below it. */
  dir: string;
  clips: number;
  seed: number;
  /** The ImageSets/2017 list the clips are named in (default `val`). */
  set?: string;
}

export type TextureKind =
  | 'noise'
  | 'stripes'
  | 'checker'
  | 'gradient'
  | 'dots'
  | 'waves'
  | 'rings'
  | 'plaid'
  | 'marble'
  | 'blotches';
/** The families of `generateSyntheticClips` by default. */
export const TEXTURE_KINDS: readonly TextureKind[] = ['noise', 'stripes', 'checker', 'gradient'];
/** Every family: the tracker trains on some and is measured on the others. */
export const ALL_TEXTURE_KINDS: readonly TextureKind[] = [
  ...TEXTURE_KINDS,
  'dots',
  'waves',
  'rings',
  'plaid',
  'marble',
  'blotches',
];

export interface SyntheticClip {
  name: string;
  /** The largest object id on the first frame: the objects DAVIS evaluates. */
  objects: number;
  /** Ids of the objects that wear the background's colours (ClipStyle.camouflage). */
  camouflaged: number[];
}

type Rgb = [number, number, number];

interface Texture {
  kind: TextureKind;
  a: Rgb;
  b: Rgb;
  scale: number;
  angle: number;
  seed: number;
}

interface Shape {
  /** 0 for a distractor. */
  id: number;
  kind: 'ellipse' | 'polygon';
  /** Star-convex outline: radius factor per angle sample. */
  radii: number[];
  rx: number;
  ry: number;
  x: number;
  y: number;
  vx: number;
  vy: number;
  angle: number;
  spin: number;
  growth: number;
  depth: number;
  texture: Texture;
}

function colour(rand: Random): Rgb {
  return [Math.floor(rand() * 256), Math.floor(rand() * 256), Math.floor(rand() * 256)];
}

function texture(rand: Random, kinds: readonly TextureKind[], like?: Texture): Texture {
  if (like !== undefined) {
    // A look-alike: the same family and colours, slightly shifted.
    const jitter = (c: Rgb): Rgb =>
      c.map((v) => Math.max(0, Math.min(255, v + Math.floor((rand() - 0.5) * 40)))) as Rgb;
    return { ...like, a: jitter(like.a), b: jitter(like.b), seed: Math.floor(rand() * 1e9) };
  }
  return {
    kind: kinds[Math.floor(rand() * kinds.length)],
    a: colour(rand),
    b: colour(rand),
    scale: 3 + rand() * 10,
    angle: rand() * Math.PI,
    seed: Math.floor(rand() * 1e9),
  };
}

/** A smooth hash noise in [0, 1] (value noise, bilinear). */
function valueNoise(x: number, y: number, seed: number): number {
  const h = (i: number, j: number): number => (mixSeed(seed, i | 0, j | 0) % 1000) / 999;
  const i = Math.floor(x);
  const j = Math.floor(y);
  const fx = x - i;
  const fy = y - j;
  const top = h(i, j) * (1 - fx) + h(i + 1, j) * fx;
  const bottom = h(i, j + 1) * (1 - fx) + h(i + 1, j + 1) * fx;
  return top * (1 - fy) + bottom * fy;
}

/** The texture's colour at a point of its own frame (u, v in pixels). */
function sample(t: Texture, u: number, v: number): Rgb {
  const c = Math.cos(t.angle);
  const s = Math.sin(t.angle);
  const ru = (u * c - v * s) / t.scale;
  const rv = (u * s + v * c) / t.scale;
  let w: number;
  switch (t.kind) {
    case 'noise':
      w = valueNoise(ru, rv, t.seed);
      break;
    case 'stripes':
      w = 0.5 + 0.5 * Math.sin(ru * 2);
      break;
    case 'checker':
      w = (Math.floor(ru) + Math.floor(rv)) & 1;
      break;
    case 'dots':
      w = Math.hypot(ru - Math.round(ru), rv - Math.round(rv)) < 0.3 ? 1 : 0;
      break;
    case 'waves':
      w = 0.5 + 0.5 * Math.sin(ru * 2 + 2 * Math.sin(rv));
      break;
    case 'rings':
      w = 0.5 + 0.5 * Math.sin(Math.hypot(ru, rv) * 2);
      break;
    case 'plaid':
      w = 0.25 * (2 + Math.sin(ru * 2) + Math.sin(rv * 3));
      break;
    case 'marble':
      w = 0.5 + 0.5 * Math.sin(ru + 6 * valueNoise(ru / 3, rv / 3, t.seed));
      break;
    case 'blotches':
      w = valueNoise(ru / 2, rv / 2, t.seed) > 0.5 ? 1 : 0;
      break;
    default:
      w = 0.5 + 0.5 * Math.tanh(ru / 4);
  }
  return [0, 1, 2].map((k) => Math.round(t.a[k] * (1 - w) + t.b[k] * w)) as Rgb;
}

function makeShape(opts: {
  id: number;
  rand: Random;
  width: number;
  height: number;
  texture: Texture;
}): Shape {
  const { rand, width, height } = opts;
  const size = Math.min(width, height);
  const samples = 12;
  const bumpy = rand() < 0.5;
  return {
    id: opts.id,
    kind: bumpy ? 'polygon' : 'ellipse',
    radii: Array.from({ length: samples }, () => (bumpy ? 0.7 + rand() * 0.5 : 1)),
    rx: size * (0.1 + rand() * 0.12),
    ry: size * (0.1 + rand() * 0.12),
    x: width * (0.2 + rand() * 0.6),
    y: height * (0.2 + rand() * 0.6),
    vx: (rand() - 0.5) * size * 0.06,
    vy: (rand() - 0.5) * size * 0.04,
    angle: rand() * Math.PI * 2,
    spin: (rand() - 0.5) * 0.1,
    growth: 1 + (rand() - 0.5) * 0.02,
    depth: rand(),
    texture: opts.texture,
  };
}

/** Whether (x, y) is inside the shape at its current pose; returns local texture coordinates when it is. */
function inside(shape: Shape, x: number, y: number): [number, number] | null {
  const dx = x - shape.x;
  const dy = y - shape.y;
  const c = Math.cos(-shape.angle);
  const s = Math.sin(-shape.angle);
  const u = dx * c - dy * s;
  const v = dx * s + dy * c;
  const r = Math.hypot(u / shape.rx, v / shape.ry);
  if (r > 1.3) return null;
  const theta = (Math.atan2(v / shape.ry, u / shape.rx) / (2 * Math.PI) + 1) % 1;
  const n = shape.radii.length;
  const f = theta * n;
  const i = Math.floor(f) % n;
  const limit = shape.radii[i] * (1 - (f - Math.floor(f))) + shape.radii[(i + 1) % n] * (f - Math.floor(f));
  return r <= limit ? [u, v] : null;
}

/** Moves a shape one frame on; one that has left the frame turns round, so it comes back. */
function step(shape: Shape, width: number, height: number): void {
  shape.x += shape.vx;
  shape.y += shape.vy;
  shape.angle += shape.spin;
  shape.rx *= shape.growth;
  shape.ry *= shape.growth;
  const margin = Math.max(shape.rx, shape.ry);
  if (shape.x < -margin || shape.x > width + margin) shape.vx = -shape.vx;
  if (shape.y < -margin || shape.y > height + margin) shape.vy = -shape.vy;
}

/** One frame: RGB bytes and the index mask. */
function renderFrame(opts: {
  width: number;
  height: number;
  background: Texture;
  pan: [number, number];
  brightness: number;
  shapes: readonly Shape[];
}): { rgb: Uint8Array; ids: Uint8Array } {
  const { width, height } = opts;
  const rgb = new Uint8Array(width * height * 3);
  const ids = new Uint8Array(width * height);
  const byDepth = [...opts.shapes].sort((a, b) => a.depth - b.depth);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let c = sample(opts.background, x + opts.pan[0], y + opts.pan[1]);
      let id = 0;
      for (const shape of byDepth) {
        const uv = inside(shape, x, y);
        if (uv === null) continue;
        c = sample(shape.texture, uv[0], uv[1]);
        id = shape.id;
      }
      const o = (y * width + x) * 3;
      for (let k = 0; k < 3; k++) rgb[o + k] = Math.max(0, Math.min(255, Math.round(c[k] * opts.brightness)));
      ids[y * width + x] = id;
    }
  }
  return { rgb, ids };
}

/** What a generated clip looks like; `generateSyntheticClips` writes clips of it, training renders them in memory. */
export interface ClipStyle {
  width: number;
  height: number;
  frames: number;
  /** Labelled objects per clip, both bounds inclusive (default 1 to 3). */
  objects?: { min: number; max: number };
  /** Unlabelled look-alikes per clip (default 0 to 2). */
  distractors?: { min: number; max: number };
  /** Texture families to draw from: a held-out set uses other families than training (default all). */
  textures?: readonly TextureKind[];
  /**
   * Chance that an object wears the background's colours in another pattern (default 0): raw colour cannot
   * tell it from the background, only texture can.
   */
  camouflage?: number;
  /** Multiplies every object's speed (default 1). */
  speed?: number;
  /** Multiplies every object's size (default 1: radii 10 to 22 % of the short side). */
  objectScale?: number;
}

/** One rendered frame: RGB bytes, row-major, and the id of the topmost labelled shape per pixel (0 elsewhere). */
export interface RenderedFrame {
  rgb: Uint8Array;
  ids: Uint8Array;
}

/** What a clip's labelled objects are: the id, and whether it wears the background's colours (camouflage). */
export interface ClipObject {
  id: number;
  camouflaged: boolean;
}

/** The labelled objects of clip `seed` of a style, without rendering it (for measures broken down by kind). */
export function clipObjects(style: ClipStyle, seed: number): ClipObject[] {
  return setUpClip(style, seed).objects;
}

/** The clip's random draws before its first frame, in the order renderClip has always made them. */
function setUpClip(style: ClipStyle, seed: number) {
  const { width, height } = style;
  const kinds = style.textures ?? TEXTURE_KINDS;
  const objectRange = style.objects ?? { min: 1, max: 3 };
  const distractorRange = style.distractors ?? { min: 0, max: 2 };
  const rand = mulberry32(seed);
  const background = texture(rand, kinds);
  const count = objectRange.min + Math.floor(rand() * (objectRange.max - objectRange.min + 1));
  const shapes: Shape[] = [];
  const objects: ClipObject[] = [];
  for (let id = 1; id <= count; id++) {
    let t = texture(rand, kinds);
    const camouflaged = style.camouflage !== undefined && rand() < style.camouflage;
    if (camouflaged) {
      // The background's two colours, in another family or at another scale and angle.
      t = { ...t, a: background.a, b: background.b };
    }
    objects.push({ id, camouflaged });
    const shape = makeShape({ id, rand, width, height, texture: t });
    shape.vx *= style.speed ?? 1;
    shape.vy *= style.speed ?? 1;
    shape.rx *= style.objectScale ?? 1;
    shape.ry *= style.objectScale ?? 1;
    shapes.push(shape);
  }
  const distractors =
    distractorRange.min + Math.floor(rand() * (distractorRange.max - distractorRange.min + 1));
  for (let d = 0; d < distractors; d++) {
    shapes.push(
      makeShape({ id: 0, rand, width, height, texture: texture(rand, kinds, shapes[d % count].texture) }),
    );
  }
  // Every object is fully visible on the first frame: it is drawn above the distractors there.
  for (const s of shapes) if (s.id > 0) s.depth += 1;
  const panVelocity: [number, number] = [(rand() - 0.5) * 4, (rand() - 0.5) * 3];
  const drift = (rand() - 0.5) * 0.01;
  return { rand, background, shapes, objects, panVelocity, drift };
}

/** Renders clip `seed` of a style frame by frame (one frame in memory at a time); the same seed, the same frames. */
export function* renderClip(style: ClipStyle, seed: number): Generator<RenderedFrame> {
  const { width, height } = style;
  const { rand, background, shapes, panVelocity, drift } = setUpClip(style, seed);
  for (let t = 0; t < style.frames; t++) {
    if (t === 1) {
      // From the second frame on, depths mix: objects pass behind distractors and each other.
      for (const s of shapes) s.depth = rand() * 2;
    }
    yield renderFrame({
      width,
      height,
      background,
      pan: [panVelocity[0] * t, panVelocity[1] * t],
      brightness: 1 + drift * t,
      shapes,
    });
    for (const s of shapes) step(s, width, height);
  }
}

/**
 * Writes one sequence in DAVIS layout below `dir`: JPEGImages/480p/<name>/00000.jpg and
 * Annotations/480p/<name>/00000.png (VOC palette) per frame. Returns the largest id on the first frame.
 */
export async function writeDavisSequence(
  dir: string,
  name: string,
  size: { width: number; height: number },
  frames: Iterable<RenderedFrame>,
): Promise<number> {
  const { width, height } = size;
  const palette = vocPalette();
  const imgDir = path.join(dir, 'JPEGImages', '480p', name);
  const annDir = path.join(dir, 'Annotations', '480p', name);
  await mkdir(imgDir, { recursive: true });
  await mkdir(annDir, { recursive: true });
  let firstIds = 0;
  let t = 0;
  for (const frame of frames) {
    const stem = String(t).padStart(5, '0');
    await writeFile(
      path.join(imgDir, `${stem}.jpg`),
      await sharp(Buffer.from(frame.rgb), { raw: { width, height, channels: 3 } })
        .jpeg({ quality: 92 })
        .toBuffer(),
    );
    await writeFile(
      path.join(annDir, `${stem}.png`),
      encodeIndexPng({ width, height, data: frame.ids }, palette),
    );
    if (t === 0) firstIds = frame.ids.reduce((m, v) => Math.max(m, v), 0);
    t++;
  }
  return firstIds;
}

/** Writes ImageSets/2017/<set>.txt naming the sequences. */
export async function writeDavisList(dir: string, set: string, names: readonly string[]): Promise<void> {
  const sets = path.join(dir, 'ImageSets', '2017');
  await mkdir(sets, { recursive: true });
  await writeFile(path.join(sets, `${set}.txt`), `${names.join('\n')}\n`);
}

/** Writes the clips; returns their names and object counts. */
export async function generateSyntheticClips(options: SyntheticClipsOptions): Promise<SyntheticClip[]> {
  const clips: SyntheticClip[] = [];
  for (let c = 0; c < options.clips; c++) {
    const name = `clip${String(c).padStart(3, '0')}`;
    const seed = mixSeed(options.seed, c);
    const objects = await writeDavisSequence(options.dir, name, options, renderClip(options, seed));
    const camouflaged = clipObjects(options, seed)
      .filter((o) => o.camouflaged)
      .map((o) => o.id);
    clips.push({ name, objects, camouflaged });
  }
  await writeDavisList(
    options.dir,
    options.set ?? 'val',
    clips.map((c) => c.name),
  );
  return clips;
}
