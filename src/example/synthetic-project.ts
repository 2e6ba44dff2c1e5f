/**
 * A small Supervisely project on disk (spec B.1-B.5), generated from a seed: grey noise with coloured circles,
 * squares and triangles. Each class has its own colour range and figure, so a small U-Net learns it in a minute
 * or two on a CPU at 64x64, and an end-to-end test can expect a validation mean IoU well above chance.
 *
 * The same options and seed give byte-identical files. Pure drawing and JSON building live in small functions;
 * only `generateSyntheticProject` touches the disk (and sharp, for encoding).
 */

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { encodeBitmap } from '../format/bitmap-codec';
import type { Geometry } from '../format/model';
import { drawLabel } from '../format/rasterise';
import type {
  AnnotationJson,
  BitmapJson,
  LabelJson,
  ObjClassJson,
  ProjectMetaJson,
  TagMetaJson,
} from '../format/types';
import type { Random } from '../util/random';
import { mixSeed, mulberry32, randomInt, randomRange } from '../util/random';
import { shuffled } from '../training/shuffle';

export type FigureKind = 'circle' | 'square' | 'triangle';
/**
 * How an object is stored in the annotation. A `rectangle` class can only draw squares; a `bitmap` object is
 * the figure's drawn pixels, encoded as the SDK does (spec B.6).
 */
export type SyntheticGeometry = 'polygon' | 'rectangle' | 'bitmap';

export interface SyntheticClassSpec {
  title: string;
  /** Default: the title if it names a figure, otherwise circle, square, triangle in turn. */
  figure?: FigureKind;
  /** Default: `rectangle` for squares, `polygon` otherwise. */
  geometry?: SyntheticGeometry;
}

export interface SyntheticFolds {
  /** Default `train`. */
  trainTag?: string;
  /** Default `val`. May equal trainTag (spec E.5: each image then appears twice in each fold). */
  valTag?: string;
  /** Fraction of images tagged with the val tag only. */
  val: number;
  /** Fraction of images tagged with both tags. Default 0. */
  both?: number;
  /** Fraction of images with no fold tag at all (unused for training, spec E.5). Default 0. */
  neither?: number;
}

export interface SyntheticProjectOptions {
  /** The parent folder; the project is written to `<dir>/<projectName>/`. Existing files are overwritten. */
  dir: string;
  projectName: string;
  datasets: readonly { name: string; count: number }[];
  width: number;
  height: number;
  /** Default `["circle", "square", "triangle"]`. */
  classes?: readonly (string | SyntheticClassSpec)[];
  /** Add a class `neutral` and a region of colour noise of that class to about half of the images. */
  neutral?: boolean;
  /** Default `{ val: 0.25 }`: a quarter val, the rest train. Counts are rounded over the whole project. */
  folds?: SyntheticFolds;
  /** Objects per image, both bounds inclusive. Default `{ min: 1, max: 3 }`. */
  objectsPerImage?: { min: number; max: number };
  seed: number;
  /** Default `png`. JPEG blurs colours slightly at the edges (quality 95, no chroma subsampling). */
  imageFormat?: 'jpeg' | 'png';
}

export interface SyntheticObject {
  classTitle: string;
  figure: FigureKind | 'neutral';
  geometry: SyntheticGeometry;
  /** `[x, y]` of the figure's centre, and the radius of its circumscribed circle, in pixels. */
  center: [number, number];
  radius: number;
  /**
   * `[x, y]` integer points: the polygon, or the two inclusive rectangle corners. For a bitmap object, the
   * polygon whose pixels the bitmap holds.
   */
  points: [number, number][];
  /** The encoded mask of a bitmap object. */
  bitmap?: BitmapJson;
}

export interface SyntheticItem {
  dataset: string;
  /** The item (image file) name, e.g. `img_0003.png`. */
  name: string;
  imagePath: string;
  annotationPath: string;
  /** Image-level tag names. */
  tags: string[];
  /** In annotation (and drawing) order. */
  objects: SyntheticObject[];
}

export type FoldAssignment = 'train' | 'val' | 'both' | 'neither';

export interface SyntheticProject {
  projectDir: string;
  meta: ProjectMetaJson;
  /** Dataset order, then item order. */
  items: SyntheticItem[];
  foldCounts: Record<FoldAssignment, number>;
}

/** Well separated, saturated colours, far from the grey background. */
const PALETTE: readonly Rgb[] = [
  [220, 40, 40],
  [40, 180, 60],
  [50, 70, 225],
  [235, 205, 30],
  [205, 50, 210],
  [30, 205, 215],
  [245, 130, 20],
  [120, 60, 20],
];
const NEUTRAL_TITLE = 'neutral';
const NEUTRAL_COLOR = '#7F7F7F';
const FIGURES: readonly FigureKind[] = ['circle', 'square', 'triangle'];
/** Pixels of free space kept between figures, so figures never touch or overlap. */
const MARGIN = 2;

export type Rgb = [number, number, number];

interface ResolvedClass {
  title: string;
  figure: FigureKind;
  geometry: SyntheticGeometry;
  color: Rgb;
}

/** Writes the project and returns what was written, for tests to check against. */
export async function generateSyntheticProject(options: SyntheticProjectOptions): Promise<SyntheticProject> {
  validateOptions(options);
  const classes = resolveClasses(options.classes ?? FIGURES);
  const folds = options.folds ?? { val: 0.25 };
  const trainTag = folds.trainTag ?? 'train';
  const valTag = folds.valTag ?? 'val';
  const format = options.imageFormat ?? 'png';
  const extension = format === 'jpeg' ? 'jpg' : 'png';
  const projectDir = path.join(options.dir, options.projectName);
  const meta = buildMeta({
    classes,
    neutral: options.neutral ?? false,
    tagNames: uniqueNames([trainTag, valTag]),
  });

  const total = options.datasets.reduce((sum, d) => sum + d.count, 0);
  const assignments = assignFolds(total, folds, options.seed);
  const foldCounts: Record<FoldAssignment, number> = { train: 0, val: 0, both: 0, neither: 0 };
  for (const a of assignments) foldCounts[a] += 1;

  await mkdir(projectDir, { recursive: true });
  await writeFile(path.join(projectDir, 'meta.json'), toJsonText(meta));

  const items: SyntheticItem[] = [];
  let flatIndex = 0;
  for (const [datasetIndex, dataset] of options.datasets.entries()) {
    const imgDir = path.join(projectDir, dataset.name, 'img');
    const annDir = path.join(projectDir, dataset.name, 'ann');
    await mkdir(imgDir, { recursive: true });
    await mkdir(annDir, { recursive: true });
    for (let i = 0; i < dataset.count; i += 1) {
      const name = `img_${String(i + 1).padStart(4, '0')}.${extension}`;
      const rand = mulberry32(mixSeed(options.seed, datasetIndex, i));
      const scene = drawScene({
        width: options.width,
        height: options.height,
        classes,
        neutral: options.neutral ?? false,
        objectsPerImage: options.objectsPerImage ?? { min: 1, max: 3 },
        rand,
      });
      const tags = foldTagNames(assignments[flatIndex], trainTag, valTag);
      flatIndex += 1;
      const annotation = buildAnnotation({
        width: options.width,
        height: options.height,
        tags,
        objects: scene.objects,
      });
      const imagePath = path.join(imgDir, name);
      const annotationPath = path.join(annDir, `${name}.json`);
      await writeFile(imagePath, await encodeImage(scene.rgb, options.width, options.height, format));
      await writeFile(annotationPath, toJsonText(annotation));
      items.push({ dataset: dataset.name, name, imagePath, annotationPath, tags, objects: scene.objects });
    }
  }
  return { projectDir, meta, items, foldCounts };
}

function validateOptions(options: SyntheticProjectOptions): void {
  const { width, height, datasets } = options;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16) {
    throw new RangeError(`width and height must be integers of at least 16, got ${width}x${height}`);
  }
  if (datasets.length === 0) throw new RangeError('at least one dataset is needed');
  for (const d of datasets) {
    if (!Number.isInteger(d.count) || d.count < 1) {
      throw new RangeError(
        `dataset "${d.name}": count must be a positive integer (an empty dataset makes the project unreadable, spec B.1)`,
      );
    }
  }
  if (new Set(datasets.map((d) => d.name)).size !== datasets.length)
    throw new RangeError('dataset names must be unique');
  const range = options.objectsPerImage;
  if (range !== undefined && (range.min < 0 || range.max < range.min)) {
    throw new RangeError(`objectsPerImage must have 0 <= min <= max, got ${range.min}..${range.max}`);
  }
}

/** Class titles and figures: a figure's own name picks that figure; other titles take the figures in turn. */
export function resolveClasses(specs: readonly (string | SyntheticClassSpec)[]): ResolvedClass[] {
  if (specs.length === 0) throw new RangeError('at least one class is needed');
  if (specs.length > PALETTE.length) throw new RangeError(`at most ${PALETTE.length} classes are supported`);
  const resolved = specs.map((spec, index): ResolvedClass => {
    const s: SyntheticClassSpec = typeof spec === 'string' ? { title: spec } : spec;
    const figure = s.figure ?? (isFigure(s.title) ? s.title : FIGURES[index % FIGURES.length]);
    const geometry = s.geometry ?? (figure === 'square' ? 'rectangle' : 'polygon');
    if (geometry === 'rectangle' && figure !== 'square') {
      throw new RangeError(`class "${s.title}": a rectangle class can only draw squares, not ${figure}s`);
    }
    return { title: s.title, figure, geometry, color: PALETTE[index] };
  });
  const titles = resolved.map((c) => c.title);
  if (new Set(titles).size !== titles.length || titles.includes(NEUTRAL_TITLE)) {
    throw new RangeError(`class titles must be unique and not "${NEUTRAL_TITLE}": ${titles.join(', ')}`);
  }
  return resolved;
}

function isFigure(title: string): title is FigureKind {
  return (FIGURES as readonly string[]).includes(title);
}

function uniqueNames(names: string[]): string[] {
  return [...new Set(names)];
}

/** meta.json: the classes with their colours and shapes, and the fold tags (value type none, spec B.2, B.5). */
export function buildMeta(opts: {
  classes: readonly ResolvedClass[];
  neutral: boolean;
  tagNames: string[];
}): ProjectMetaJson {
  const classes: ObjClassJson[] = opts.classes.map((c) => objClass(c.title, c.geometry, rgbToHex(c.color)));
  if (opts.neutral) classes.push(objClass(NEUTRAL_TITLE, 'polygon', NEUTRAL_COLOR));
  const tagColors = ['#A0F0A0', '#F0A0A0'];
  const tags: TagMetaJson[] = opts.tagNames.map((name, i) => ({
    name,
    value_type: 'none',
    color: tagColors[i % tagColors.length],
    hotkey: '',
    applicable_type: 'all',
    classes: [],
  }));
  return { classes, tags, projectType: 'images' };
}

function objClass(title: string, shape: SyntheticGeometry, color: string): ObjClassJson {
  return { title, shape, color, geometry_config: {}, hotkey: '' };
}

export function rgbToHex([r, g, b]: Rgb): string {
  return `#${[r, g, b].map((v) => v.toString(16).toUpperCase().padStart(2, '0')).join('')}`;
}

/**
 * Which fold each image goes to, in project order. Counts are rounded from the fractions over the whole project;
 * which images get them is a seeded shuffle.
 */
export function assignFolds(total: number, folds: SyntheticFolds, seed: number): FoldAssignment[] {
  const both = folds.both ?? 0;
  const neither = folds.neither ?? 0;
  for (const [name, f] of Object.entries({ val: folds.val, both, neither })) {
    if (!(f >= 0 && f <= 1)) throw new RangeError(`folds.${name} must be a fraction in [0, 1], got ${f}`);
  }
  const counts = {
    val: Math.round(total * folds.val),
    both: Math.round(total * both),
    neither: Math.round(total * neither),
  };
  if (counts.val + counts.both + counts.neither > total) {
    throw new RangeError(`fold fractions add up to more than the ${total} images: ${JSON.stringify(counts)}`);
  }
  const result: FoldAssignment[] = new Array<FoldAssignment>(total).fill('train');
  const order = shuffled(
    Array.from({ length: total }, (_, i) => i),
    mulberry32(mixSeed(seed, 0xf01d5)),
  );
  let next = 0;
  for (const fold of ['val', 'both', 'neither'] as const) {
    for (let k = 0; k < counts[fold]; k += 1) {
      result[order[next]] = fold;
      next += 1;
    }
  }
  return result;
}

function foldTagNames(assignment: FoldAssignment, trainTag: string, valTag: string): string[] {
  switch (assignment) {
    case 'train':
      return [trainTag];
    case 'val':
      return [valTag];
    case 'both':
      return uniqueNames([trainTag, valTag]);
    case 'neither':
      return [];
  }
}

/** ann/<image>.json (spec B.3, B.4): polygons and rectangles with integer `[x, y]` points, and bitmaps. */
export function buildAnnotation(opts: {
  width: number;
  height: number;
  tags: readonly string[];
  objects: readonly SyntheticObject[];
}): AnnotationJson {
  const objects: LabelJson[] = opts.objects.map((o) => ({
    classTitle: o.classTitle,
    description: '',
    tags: [],
    ...(o.geometry === 'bitmap'
      ? { bitmap: o.bitmap }
      : { points: { exterior: o.points.map(([x, y]): [number, number] => [x, y]), interior: [] } }),
    geometryType: o.geometry,
    shape: o.geometry,
  }));
  return {
    description: '',
    size: { height: opts.height, width: opts.width },
    tags: opts.tags.map((name) => ({ name })),
    objects,
    customBigData: {},
  };
}

interface Scene {
  /** HWC, 3 channels. */
  rgb: Uint8Array;
  objects: SyntheticObject[];
}

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Grey noise, then figures that never touch, then (optionally) one neutral region of colour noise. */
export function drawScene(opts: {
  width: number;
  height: number;
  classes: readonly ResolvedClass[];
  neutral: boolean;
  objectsPerImage: { min: number; max: number };
  rand: Random;
}): Scene {
  const { width, height, rand } = opts;
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p += 1) {
    const grey = randomInt(rand, 96, 160);
    for (let c = 0; c < 3; c += 1) rgb[p * 3 + c] = clampByte(grey + randomInt(rand, -6, 6));
  }
  const taken: Box[] = [];
  const objects: SyntheticObject[] = [];
  const wanted = randomInt(rand, opts.objectsPerImage.min, opts.objectsPerImage.max);
  for (let k = 0; k < wanted; k += 1) {
    const cls = opts.classes[randomInt(rand, 0, opts.classes.length - 1)];
    const placed = placeFigure({ figure: cls.figure, width, height, taken, rand });
    if (placed === undefined) continue;
    taken.push(placed.box);
    const object: SyntheticObject = {
      classTitle: cls.title,
      figure: cls.figure,
      geometry: cls.geometry,
      ...placed.shape,
    };
    const base = cls.color.map((v) => v + randomInt(rand, -20, 20)) as Rgb;
    const mask = figureMask(object, width, height);
    paint(rgb, mask, () => base.map((v) => clampByte(v + randomInt(rand, -12, 12))) as Rgb);
    if (cls.geometry === 'bitmap') object.bitmap = encodeBitmap({ width, height, data: mask }) ?? undefined;
    objects.push(object);
  }
  if (opts.neutral && rand() < 0.5) {
    const placed = placeFigure({ figure: 'neutral', width, height, taken, rand });
    if (placed !== undefined) {
      const object: SyntheticObject = {
        classTitle: NEUTRAL_TITLE,
        figure: 'neutral',
        geometry: 'polygon',
        ...placed.shape,
      };
      paint(rgb, figureMask(object, width, height), () => [
        randomInt(rand, 0, 255),
        randomInt(rand, 0, 255),
        randomInt(rand, 0, 255),
      ]);
      objects.push(object);
    }
  }
  return { rgb, objects };
}

type PlacedShape = Pick<SyntheticObject, 'center' | 'radius' | 'points'>;

/** A figure at a random free place fully inside the image, or undefined when 50 tries find no room. */
function placeFigure(opts: {
  figure: FigureKind | 'neutral';
  width: number;
  height: number;
  taken: readonly Box[];
  rand: Random;
}): { shape: PlacedShape; box: Box } | undefined {
  const { width, height, rand } = opts;
  const side = Math.min(width, height);
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const radius = Math.max(3, Math.round(randomRange(rand, 0.09, 0.2) * side));
    const cx = randomInt(rand, radius, width - 1 - radius);
    const cy = randomInt(rand, radius, height - 1 - radius);
    const box: Box = { left: cx - radius, top: cy - radius, right: cx + radius, bottom: cy + radius };
    if (opts.taken.some((t) => boxesNear(t, box))) continue;
    const points = figurePoints(opts.figure, cx, cy, radius, rand);
    return { shape: { center: [cx, cy], radius, points }, box };
  }
  return undefined;
}

function boxesNear(a: Box, b: Box): boolean {
  return (
    a.left - MARGIN <= b.right &&
    b.left - MARGIN <= a.right &&
    a.top - MARGIN <= b.bottom &&
    b.top - MARGIN <= a.bottom
  );
}

/** Integer `[x, y]` points of a figure inside its circumscribed circle (cx, cy, r). */
function figurePoints(
  figure: FigureKind | 'neutral',
  cx: number,
  cy: number,
  r: number,
  rand: Random,
): [number, number][] {
  const onCircle = (angle: number, radius: number): [number, number] => [
    Math.round(cx + radius * Math.cos(angle)),
    Math.round(cy + radius * Math.sin(angle)),
  ];
  switch (figure) {
    case 'circle': {
      const n = Math.max(12, Math.round((2 * Math.PI * r) / 3));
      return Array.from({ length: n }, (_, i) => onCircle((2 * Math.PI * i) / n, r));
    }
    case 'square': {
      // Inscribed in the circle, axis-aligned: the two inclusive corners of a rectangle (spec B.4).
      const half = Math.floor(r / Math.SQRT2);
      return [
        [cx - half, cy - half],
        [cx + half, cy + half],
      ];
    }
    case 'triangle': {
      const turn = rand() * 2 * Math.PI;
      return [0, 1, 2].map((i) => onCircle(turn + (2 * Math.PI * i) / 3, r));
    }
    case 'neutral': {
      // A lumpy quadrilateral: its corners on the circle at jittered angles and radii.
      const turn = rand() * 2 * Math.PI;
      return [0, 1, 2, 3].map((i) =>
        onCircle(turn + (Math.PI * i) / 2 + randomRange(rand, -0.3, 0.3), r * randomRange(rand, 0.75, 1)),
      );
    }
  }
}

/**
 * The pixels of an object, as a row-major 0/1 mask, drawn by the format's rasteriser (OpenCV's rules, as the
 * SDK draws ground truth): the painted image and the training mask agree pixel for pixel.
 */
export function figureMask(
  object: Pick<SyntheticObject, 'geometry' | 'points'>,
  width: number,
  height: number,
): Uint8Array {
  const data = new Uint8Array(width * height);
  const pts = object.points.map(([x, y]) => ({ x, y }));
  const geometry: Geometry =
    object.geometry === 'rectangle'
      ? { type: 'rectangle', left: pts[0].x, top: pts[0].y, right: pts[1].x, bottom: pts[1].y }
      : { type: 'polygon', exterior: pts, interior: [] };
  drawLabel({ width, height, data }, { classTitle: '', description: '', tags: [], geometry, extra: {} }, 1);
  return data;
}

function paint(rgb: Uint8Array, mask: Uint8Array, color: () => Rgb): void {
  for (let p = 0; p < mask.length; p += 1) {
    if (mask[p] === 0) continue;
    const [r, g, b] = color();
    rgb[p * 3] = r;
    rgb[p * 3 + 1] = g;
    rgb[p * 3 + 2] = b;
  }
}

function clampByte(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}

async function encodeImage(
  rgb: Uint8Array,
  width: number,
  height: number,
  format: 'jpeg' | 'png',
): Promise<Buffer> {
  const image = sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), {
    raw: { width, height, channels: 3 },
  });
  return format === 'jpeg'
    ? image.jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer()
    : image.png().toBuffer();
}

/** The SDK writes JSON with `indent=4` (spec B.1). */
function toJsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 4)}\n`;
}
