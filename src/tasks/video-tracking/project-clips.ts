/**
 * Pseudo-clips from an image project (the MaskTrack/STM static-image trick, notes §2.4): an image with its
 * objects (each label one object) becomes three frames by cumulative random affine warps (rotation, scale,
 * translation) of the image and its index mask. The single best lever for real images without video data.
 */
import { dataError, TaskError } from '../../errors';
import type { Annotation } from '../../format/model';
import type { ProjectItem, ProjectListing } from '../../format/project-reader';
import { drawLabel } from '../../format/rasterise';
import { resizeNearest } from '../../image/resize-nearest';
import { readItemAtSize } from '../../training/data/sample';
import type { Random } from '../../util/random';
import type { TrainingClip } from './clip-batch';

/** An image and its objects' index mask (label i is id i + 1; at most 255 objects, the first ones). */
export interface ObjectsImage {
  width: number;
  height: number;
  rgb: Uint8Array;
  ids: Uint8Array;
}

export function objectsMask(annotation: Annotation): Uint8Array {
  const { width, height } = annotation.size;
  const canvas = { width, height, data: new Uint8Array(width * height) };
  annotation.labels.slice(0, 255).forEach((label, i) => drawLabel(canvas, label, i + 1));
  return canvas.data;
}

/** Reads an item at `size`: the image resized, the objects' mask resized by nearest neighbour. */
export async function loadObjectsImage(
  project: ProjectListing,
  item: ProjectItem,
  size: { width: number; height: number },
): Promise<ObjectsImage> {
  try {
    const { annotation, image } = await readItemAtSize(project, item, size);
    const ids = resizeNearest(objectsMask(annotation), annotation.size, size);
    return { width: size.width, height: size.height, rgb: image.data, ids };
  } catch (e) {
    if (e instanceof TaskError) throw e.withContext({ item: `${item.dataset}/${item.name}` });
    throw dataError(`cannot read: ${(e as Error).message}`, { item: `${item.dataset}/${item.name}` }, e);
  }
}

/** A 2x3 affine map (output pixel → source pixel). */
type Affine = [number, number, number, number, number, number];

function randomMotion(rand: Random, width: number, height: number, strength: number): Affine {
  const angle = (rand() * 2 - 1) * 0.14 * strength; // up to 8 degrees
  const scale = 1 + (rand() * 2 - 1) * 0.1 * strength;
  const tx = (rand() * 2 - 1) * 0.08 * strength * width;
  const ty = (rand() * 2 - 1) * 0.08 * strength * height;
  const c = Math.cos(angle) / scale;
  const s = Math.sin(angle) / scale;
  const cx = width / 2;
  const cy = height / 2;
  // source = R^-1 (p - centre - t) + centre
  return [c, s, cx - c * (cx + tx) - s * (cy + ty), -s, c, cy + s * (cx + tx) - c * (cy + ty)];
}

function compose(a: Affine, b: Affine): Affine {
  // (a ∘ b)(p) = a(b(p))
  return [
    a[0] * b[0] + a[1] * b[3],
    a[0] * b[1] + a[1] * b[4],
    a[0] * b[2] + a[1] * b[5] + a[2],
    a[3] * b[0] + a[4] * b[3],
    a[3] * b[1] + a[4] * b[4],
    a[3] * b[2] + a[4] * b[5] + a[5],
  ];
}

/** The image and mask seen through `m`: bilinear colours (edges clamped), nearest ids (0 outside). */
export function warp(img: ObjectsImage, m: Affine): { rgb: Uint8Array; ids: Uint8Array } {
  const { width: W, height: H } = img;
  const rgb = new Uint8Array(W * H * 3);
  const ids = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const sx = m[0] * (x + 0.5) + m[1] * (y + 0.5) + m[2] - 0.5;
      const sy = m[3] * (x + 0.5) + m[4] * (y + 0.5) + m[5] - 0.5;
      const o = y * W + x;
      const nx = Math.round(sx);
      const ny = Math.round(sy);
      if (nx >= 0 && ny >= 0 && nx < W && ny < H) ids[o] = img.ids[ny * W + nx];
      const x0 = Math.max(0, Math.min(W - 1, Math.floor(sx)));
      const y0 = Math.max(0, Math.min(H - 1, Math.floor(sy)));
      const x1 = Math.min(W - 1, x0 + 1);
      const y1 = Math.min(H - 1, y0 + 1);
      const fx = Math.max(0, Math.min(1, sx - x0));
      const fy = Math.max(0, Math.min(1, sy - y0));
      for (let c = 0; c < 3; c++) {
        const a = img.rgb[(y0 * W + x0) * 3 + c] * (1 - fx) + img.rgb[(y0 * W + x1) * 3 + c] * fx;
        const b = img.rgb[(y1 * W + x0) * 3 + c] * (1 - fx) + img.rgb[(y1 * W + x1) * 3 + c] * fx;
        rgb[o * 3 + c] = Math.round(a * (1 - fy) + b * fy);
      }
    }
  }
  return { rgb, ids };
}

/** `count` frames: the image under a mild warp, then random motions, each compounding the last. */
export function pseudoClip(img: ObjectsImage, rand: Random, count = 3): TrainingClip {
  const motions: Affine[] = [randomMotion(rand, img.width, img.height, 0.5)];
  for (let t = 1; t < count; t++)
    motions.push(compose(motions[t - 1], randomMotion(rand, img.width, img.height, 1)));
  const frames = motions.map((m) => warp(img, m));
  return {
    width: img.width,
    height: img.height,
    rgb: frames.map((f) => f.rgb),
    ids: frames.map((f) => f.ids),
  };
}

/** A pseudo-video of `frames` frames: the image, then small random motions compounding frame after frame. */
export function* warpedFrames(
  img: ObjectsImage,
  frames: number,
  rand: Random,
  strength = 0.3,
): Generator<{ rgb: Uint8Array; ids: Uint8Array }> {
  let m: Affine = [1, 0, 0, 0, 1, 0];
  for (let t = 0; t < frames; t++) {
    yield warp(img, m);
    m = compose(m, randomMotion(rand, img.width, img.height, strength));
  }
}
