/**
 * Annotations to class-index masks and back. `rasteriseAnnotation` is the SDK's `make_gt` (spec E.5): start
 * from a fill value, draw every label with its class index in annotation order (later labels over earlier
 * ones), with OpenCV's pixel rules (see draw.ts). `classBitmapsFromMask` is `segmentation_array_to_sly_bitmaps`
 * (spec G.3): one tight bitmap label per class present in a predicted mask.
 */

import { dataError } from '../errors';
import { drawPolyline, fillPolygons, fillRectangle, paintMask, setPixel, type Canvas } from './draw';
import type {
  Annotation,
  BinaryMask,
  BitmapGeometry,
  Geometry,
  ImageSize,
  Label,
  PolygonGeometry,
} from './model';

export type ClassIndexMap = ReadonlyMap<string, number> | Readonly<Record<string, number>>;

export interface RasteriseOptions {
  /** Class title to pixel value (a training config's `class_title_to_idx`). */
  classToIndex: ClassIndexMap;
  /** Value of pixels that no label covers (the SDK's `bkg_color`; UNet uses 0, the background index). */
  fill: number;
  /**
   * The neutral class: its labels are drawn with `value`, the loss's ignore index (UNet: max index + 1). The
   * neutral class is not in `class_title_to_idx` (spec E.3), so it is given here.
   */
  neutral?: { classTitle: string; value: number };
  /** The file named in errors, e.g. the annotation's path. */
  file?: string;
}

/** The mask type needed for a set of values: bytes when everything fits in 0..255. */
export function maskArrayFor(values: Iterable<number>, length: number): Uint8Array | Int32Array {
  for (const v of values) if (!Number.isInteger(v) || v < 0 || v > 255) return new Int32Array(length);
  return new Uint8Array(length);
}

function toMap(map: ClassIndexMap): ReadonlyMap<string, number> {
  return map instanceof Map ? map : new Map(Object.entries(map));
}

/**
 * An H x W row-major mask of pixel values for the annotation's image size. A label whose class has no index
 * is an error (the SDK's "Missing class mapping"); labels the SDK cannot draw as masks (graph, cuboid, 3-D,
 * multichannel scores) are skipped.
 */
export function rasteriseAnnotation(
  annotation: Annotation,
  options: RasteriseOptions,
): Uint8Array | Int32Array {
  const { width, height } = annotation.size;
  const indices = new Map(toMap(options.classToIndex));
  if (options.neutral !== undefined) indices.set(options.neutral.classTitle, options.neutral.value);
  const data = maskArrayFor([options.fill, ...indices.values()], width * height);
  data.fill(options.fill);
  const canvas: Canvas = { width, height, data };
  annotation.labels.forEach((label, i) => {
    const value = indices.get(label.classTitle);
    if (value === undefined) {
      throw dataError(
        `class "${label.classTitle}" has no index in the class mapping (known: ${[...indices.keys()].join(', ')})`,
        {
          ...(options.file !== undefined ? { file: options.file } : {}),
          item: `objects[${i}]`,
          field: 'classTitle',
        },
      );
    }
    drawLabel(canvas, label, value);
  });
  return data;
}

export function drawLabel(canvas: Canvas, label: Label, value: number): void {
  drawGeometry(canvas, label.geometry, value);
}

/** Draws one geometry with `value` (video figures have a geometry but no label around it). */
export function drawGeometry(canvas: Canvas, g: Geometry, value: number): void {
  switch (g.type) {
    case 'bitmap':
      paintMask(canvas, g.origin, g.mask, value);
      return;
    case 'polygon':
      drawPolygon(canvas, g, value);
      return;
    case 'rectangle':
      fillRectangle(canvas, g, value);
      return;
    case 'point':
      setPixel(canvas, g.x, g.y, value);
      return;
    case 'line':
      drawPolyline(canvas, g.points, { closed: false, value });
      return;
    case 'multichannelBitmap':
    case 'opaque':
      return;
  }
}

/**
 * The SDK's `Polygon.draw`: fillPoly(exterior, 1) then fillPoly(holes, 0) on a scratch mask, then the mask's
 * pixels take `value`. The scratch mask covers only the exterior's bounding box inside the canvas, which
 * gives the same pixels (the drawing rules are translation-invariant).
 */
function drawPolygon(canvas: Canvas, polygon: PolygonGeometry, value: number): void {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const p of polygon.exterior) {
    minX = Math.min(minX, p.x);
    minY = Math.min(minY, p.y);
    maxX = Math.max(maxX, p.x);
    maxY = Math.max(maxY, p.y);
  }
  const left = Math.max(minX, 0);
  const top = Math.max(minY, 0);
  const right = Math.min(maxX, canvas.width - 1);
  const bottom = Math.min(maxY, canvas.height - 1);
  if (left > right || top > bottom) return;
  const scratch: BinaryMask = {
    width: right - left + 1,
    height: bottom - top + 1,
    data: new Uint8Array((right - left + 1) * (bottom - top + 1)),
  };
  const shift = (ring: readonly { x: number; y: number }[]) =>
    ring.map((p) => ({ x: p.x - left, y: p.y - top }));
  fillPolygons(scratch, [shift(polygon.exterior)], 1);
  if (polygon.interior.length > 0) fillPolygons(scratch, polygon.interior.map(shift), 0);
  paintMask(canvas, { x: left, y: top }, scratch, value);
}

export interface ClassBitmapsOptions {
  /** H x W row-major class indices, e.g. the argmax of a network's scores. */
  mask: ArrayLike<number>;
  size: ImageSize;
  /** Class title to index (a model's `class_title_to_idx`); indices not in it are ignored. */
  classToIndex: ClassIndexMap;
}

/** Where the run of `v` that continues at `row + x` ends (exclusive, within the row). */
function runEnd(mask: ArrayLike<number>, row: number, x: number, width: number, v: number): number {
  let end = x;
  while (end < width && mask[row + end] === v) end++;
  return end;
}

/** The mask's bytes four at a time, when it is a byte mask aligned for that; else null. */
function byteMaskWords(mask: ArrayLike<number>): Uint32Array | null {
  if (!(mask instanceof Uint8Array) || mask.byteOffset % 4 !== 0) return null;
  return new Uint32Array(mask.buffer, mask.byteOffset, mask.length >> 2);
}

/** `runEnd` for a byte mask, comparing four pixels at once where the run covers whole words. */
function byteRunEnd(
  words: Uint32Array,
  mask: ArrayLike<number>,
  row: number,
  x: number,
  width: number,
  v: number,
): number {
  let end = x;
  while (end < width && (row + end) % 4 !== 0 && mask[row + end] === v) end++;
  if (end < width && (row + end) % 4 === 0) {
    // Four bytes of v; v is a byte, so the product is exact and the comparison with a uint32 word too.
    const fourV = v * 0x01010101;
    const last = Math.floor((row + width) / 4);
    let w = (row + end) / 4;
    while (w < last && words[w] === fourV) w++;
    end = w * 4 - row;
  }
  while (end < width && mask[row + end] === v) end++;
  return end;
}

/** One label per class present in the mask, with a tight bitmap, in ascending index order. */
export function classBitmapsFromMask(options: ClassBitmapsOptions): Label[] {
  const { mask, size } = options;
  const { width, height } = size;
  if (mask.length !== width * height) {
    throw new Error(`mask has ${mask.length} pixels, expected ${width}x${height} = ${width * height}`);
  }
  const titleByIndex = new Map<number, string>();
  for (const [title, index] of toMap(options.classToIndex)) titleByIndex.set(index, title);
  // One pass for every class's bounding box, in typed arrays indexed by class (no Map lookup per pixel).
  const n = Math.max(-1, ...titleByIndex.keys()) + 1;
  const top = new Int32Array(n).fill(-1);
  const bottom = new Int32Array(n);
  const left = new Int32Array(n);
  const right = new Int32Array(n);
  // Run by run: predicted masks are long runs of one class. The runs are kept (end and class; a row's runs end
  // at its width), so the boxes are updated once per run and the second pass below visits runs, not pixels.
  let runs = new Int32Array(2 * Math.min(width * height, 4096));
  let count = 0;
  const words = byteMaskWords(mask);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; ) {
      const v = mask[row + x];
      const end =
        words === null ? runEnd(mask, row, x + 1, width, v) : byteRunEnd(words, mask, row, x + 1, width, v);
      const cls = v >= 0 && v < n && v === Math.trunc(v) ? v : -1;
      if (cls >= 0) {
        if (top[cls] < 0) {
          top[cls] = y;
          left[cls] = x;
          right[cls] = end - 1;
        } else {
          if (x < left[cls]) left[cls] = x;
          if (end - 1 > right[cls]) right[cls] = end - 1;
        }
        bottom[cls] = y;
      }
      if (count + 2 > runs.length) {
        const bigger = new Int32Array(runs.length * 2);
        bigger.set(runs);
        runs = bigger;
      }
      runs[count++] = end;
      runs[count++] = cls;
      x = end;
    }
  }
  // Each present class with a title gets a zeroed mask of its box, and its runs are set in it.
  const masks: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(n).fill(undefined);
  const boxWidth = new Int32Array(n);
  for (let v = 0; v < n; v++) {
    if (top[v] < 0 || !titleByIndex.has(v)) continue;
    boxWidth[v] = right[v] - left[v] + 1;
    masks[v] = new Uint8Array(boxWidth[v] * (bottom[v] - top[v] + 1));
  }
  for (let r = 0, x = 0, y = 0; r < count; r += 2) {
    const end = runs[r];
    const v = runs[r + 1];
    const out = v >= 0 ? masks[v] : undefined;
    if (out !== undefined) {
      const at = (y - top[v]) * boxWidth[v] - left[v];
      if (end - x > 8) out.fill(1, at + x, at + end);
      else for (let i = x; i < end; i++) out[at + i] = 1;
    }
    x = end;
    if (x === width) {
      x = 0;
      y++;
    }
  }
  const labels: Label[] = [];
  for (let v = 0; v < n; v++) {
    const data = masks[v];
    const classTitle = titleByIndex.get(v);
    if (data === undefined || classTitle === undefined) continue;
    const geometry: BitmapGeometry = {
      type: 'bitmap',
      origin: { x: left[v], y: top[v] },
      mask: { width: boxWidth[v], height: bottom[v] - top[v] + 1, data },
    };
    labels.push({ classTitle, description: '', tags: [], geometry, extra: {} });
  }
  return labels;
}
