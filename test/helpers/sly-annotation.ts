/**
 * The tests' own reader of Supervisely annotation JSON (bitmap labels), written from the SDK's rules
 * (docs/supervisely-serving-api.md §1e; Bitmap.base64_2_data), not from our writer: base64, then zlib, then a
 * PNG whose alpha (or, without alpha, any non-zero value) is the mask; a mask must not be empty and must lie in
 * the image. It uses pngjs and node's zlib, nothing of src/.
 */
import { inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';

export interface ReadMask {
  readonly width: number;
  readonly height: number;
  /** 1 on the object. */
  readonly data: Uint8Array;
}

export interface ReadObject {
  readonly classTitle: string;
  readonly origin: { x: number; y: number };
  readonly mask: ReadMask;
  /** Pixels set. */
  readonly area: number;
}

export interface ReadAnnotation {
  readonly size: { width: number; height: number };
  readonly objects: readonly ReadObject[];
}

function fail(where: string, what: string): never {
  throw new Error(`${where}: ${what}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A bitmap's `data` string to its mask, as the SDK decodes it. */
export function readBitmapData(data: unknown, where = 'bitmap.data'): ReadMask {
  if (typeof data !== 'string' || data === '') fail(where, 'not a base64 string');
  let png: Buffer;
  try {
    png = inflateSync(Buffer.from(data, 'base64'));
  } catch (e) {
    fail(where, `not zlib data (${(e as Error).message})`);
  }
  return readPngMask(png, where);
}

/** A PNG mask: alpha > 0 where the PNG has transparency (a palette with tRNS, grey+alpha, RGBA), else value > 0. */
export function readPngMask(png: Buffer, where = 'png'): ReadMask {
  let image: PNG;
  try {
    image = PNG.sync.read(png);
  } catch (e) {
    fail(where, `not a PNG (${(e as Error).message})`);
  }
  const { width, height } = image;
  // cv2.IMREAD_UNCHANGED keeps a channel for alpha only where the PNG has transparency.
  let hasAlpha = false;
  for (let i = 3; i < image.data.length && !hasAlpha; i += 4) hasAlpha = image.data[i] < 255;
  const out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) {
    const p = image.data.subarray(i * 4, i * 4 + 4);
    out[i] = hasAlpha ? (p[3] > 0 ? 1 : 0) : p[0] > 0 || p[1] > 0 || p[2] > 0 ? 1 : 0;
  }
  return { width, height, data: out };
}

/** An annotation JSON as a client would read it; throws naming the first thing the SDK would refuse. */
export function readSlyAnnotation(json: unknown, where = 'annotation'): ReadAnnotation {
  if (!isObject(json)) fail(where, 'not an object');
  const size = json.size;
  if (!isObject(size) || !Number.isInteger(size.width) || !Number.isInteger(size.height)) {
    fail(where, 'size must be {"height", "width"} integers');
  }
  const width = size.width as number;
  const height = size.height as number;
  if (!Array.isArray(json.objects)) fail(where, 'objects must be a list');
  if (!Array.isArray(json.tags)) fail(where, 'tags must be a list');
  const objects = json.objects.map((o, i): ReadObject => {
    const at = `${where}.objects[${i}]`;
    if (!isObject(o)) fail(at, 'not an object');
    if (typeof o.classTitle !== 'string' || o.classTitle === '') fail(at, 'classTitle must be a string');
    if (o.geometryType !== 'bitmap') fail(at, `geometryType ${String(o.geometryType)}, expected bitmap`);
    const bitmap = o.bitmap;
    if (!isObject(bitmap)) fail(at, 'bitmap must be {"origin", "data"}');
    const origin = bitmap.origin;
    if (!Array.isArray(origin) || origin.length !== 2 || !origin.every(Number.isInteger)) {
      fail(at, 'bitmap.origin must be [x, y] integers');
    }
    const mask = readBitmapData(bitmap.data, `${at}.bitmap.data`);
    const [x, y] = origin as [number, number];
    if (x < 0 || y < 0 || x + mask.width > width || y + mask.height > height) {
      fail(at, `the ${mask.width}x${mask.height} mask at (${x}, ${y}) leaves the ${width}x${height} image`);
    }
    let area = 0;
    for (const v of mask.data) area += v;
    if (area === 0) fail(at, 'an empty mask (the SDK refuses it)');
    return { classTitle: o.classTitle, origin: { x, y }, mask, area };
  });
  return { size: { width, height }, objects };
}

/** Each object painted into an image-sized map: how many objects cover each pixel. */
export function coverage(ann: ReadAnnotation): Uint8Array {
  const { width } = ann.size;
  const counts = new Uint8Array(ann.size.width * ann.size.height);
  for (const o of ann.objects) {
    for (let r = 0; r < o.mask.height; r++) {
      for (let c = 0; c < o.mask.width; c++) {
        if (o.mask.data[r * o.mask.width + c] === 1) counts[(o.origin.y + r) * width + o.origin.x + c] += 1;
      }
    }
  }
  return counts;
}
