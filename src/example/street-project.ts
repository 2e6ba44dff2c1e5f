/**
 * A generated street-like project for judging a training recipe on what real data has and the shapes project
 * lacks (issue #17): large classes (road, building), thin structures (poles 1-3 px wide, wires 1 px), small
 * objects (signs of 4-9 px) and a rare class (people: a few small figures in some images, well under 1/200 of
 * the road's pixels). Textures are noisy and colours overlap between classes, so shape and context matter, as
 * they do in street scenes. Every object is a bitmap; the same seed writes the same bytes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { encodeBitmap } from '../format/bitmap-codec';
import type { AnnotationJson, LabelJson, ProjectMetaJson } from '../format/types';
import { mixSeed, mulberry32, randomInt, randomRange, type Random } from '../util/random';

/** Class titles, most pixels first; the rest of the image is background (sky and pavement). */
export const STREET_CLASSES = ['road', 'building', 'pole', 'wire', 'sign', 'person'] as const;
export type StreetClass = (typeof STREET_CLASSES)[number];

const CLASS_COLOURS: Record<StreetClass, string> = {
  road: '#804080',
  building: '#464646',
  pole: '#999999',
  wire: '#00FFFF',
  sign: '#DCDC00',
  person: '#DC143C',
};

export interface StreetProjectOptions {
  /** The project is written to `<dir>/<projectName>/`, one dataset `ds`. */
  dir: string;
  projectName: string;
  count: number;
  width: number;
  height: number;
  seed: number;
  /** Share of images tagged `val` (the rest `train`); 0 tags every image `train`. */
  valShare: number;
}

export interface StreetProject {
  projectDir: string;
  /** Labelled pixels per class over the whole project. */
  classPixels: Record<StreetClass, number>;
}

interface Scene {
  rgb: Uint8Array;
  /** Class index per pixel: 0 background, 1 + the index in STREET_CLASSES. */
  labels: Uint8Array;
}

export async function generateStreetProject(opts: StreetProjectOptions): Promise<StreetProject> {
  const projectDir = path.join(opts.dir, opts.projectName);
  const imgDir = path.join(projectDir, 'ds', 'img');
  const annDir = path.join(projectDir, 'ds', 'ann');
  await mkdir(imgDir, { recursive: true });
  await mkdir(annDir, { recursive: true });
  await writeFile(path.join(projectDir, 'meta.json'), JSON.stringify(streetMeta(), null, 2));
  const classPixels = Object.fromEntries(STREET_CLASSES.map((c) => [c, 0])) as Record<StreetClass, number>;
  const valEvery = opts.valShare > 0 ? Math.max(1, Math.round(1 / opts.valShare)) : 0;
  for (let i = 0; i < opts.count; i += 1) {
    const scene = drawStreetScene(opts.width, opts.height, mulberry32(mixSeed(opts.seed, i)));
    const tag = valEvery > 0 && i % valEvery === valEvery - 1 ? 'val' : 'train';
    const objects: LabelJson[] = [];
    STREET_CLASSES.forEach((title, k) => {
      const mask = new Uint8Array(scene.labels.length);
      let n = 0;
      for (let p = 0; p < mask.length; p += 1) {
        if (scene.labels[p] === k + 1) {
          mask[p] = 1;
          n += 1;
        }
      }
      classPixels[title] += n;
      const bitmap = encodeBitmap({ width: opts.width, height: opts.height, data: mask });
      if (bitmap !== null) {
        objects.push({
          classTitle: title,
          description: '',
          tags: [],
          bitmap,
          geometryType: 'bitmap',
          shape: 'bitmap',
        });
      }
    });
    const name = `street_${String(i + 1).padStart(4, '0')}.png`;
    const annotation: AnnotationJson = {
      description: '',
      size: { height: opts.height, width: opts.width },
      tags: [{ name: tag }],
      objects,
      customBigData: {},
    };
    const png = await sharp(Buffer.from(scene.rgb), {
      raw: { width: opts.width, height: opts.height, channels: 3 },
    })
      .png()
      .toBuffer();
    await writeFile(path.join(imgDir, name), png);
    await writeFile(path.join(annDir, `${name}.json`), JSON.stringify(annotation));
  }
  return { projectDir, classPixels };
}

function streetMeta(): ProjectMetaJson {
  return {
    classes: STREET_CLASSES.map((title) => ({
      title,
      shape: 'bitmap',
      color: CLASS_COLOURS[title],
      geometry_config: {},
      hotkey: '',
    })),
    tags: ['train', 'val'].map((name) => ({
      name,
      value_type: 'none',
      color: '#A0F0A0',
      hotkey: '',
      applicable_type: 'all',
      classes: [],
    })),
    projectType: 'images',
  };
}

/** One scene: sky and pavement, a road, buildings, then poles, wires, signs and (sometimes) people on top. */
export function drawStreetScene(width: number, height: number, rand: Random): Scene {
  const rgb = new Uint8Array(width * height * 3);
  const labels = new Uint8Array(width * height);
  const idx = (c: StreetClass): number => STREET_CLASSES.indexOf(c) + 1;
  const put = (x: number, y: number, colour: readonly number[], label: number, noise: number): void => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const p = y * width + x;
    for (let c = 0; c < 3; c += 1) {
      rgb[p * 3 + c] = clampByte(colour[c] + (rand() - 0.5) * 2 * noise);
    }
    labels[p] = label;
  };
  const horizon = Math.round(height * randomRange(rand, 0.35, 0.5));
  // Sky (a gradient) above the horizon, pavement below: both background.
  const sky = [randomInt(rand, 120, 190), randomInt(rand, 150, 210), randomInt(rand, 190, 240)];
  const pavement = [randomInt(rand, 110, 150), randomInt(rand, 105, 140), randomInt(rand, 95, 130)];
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      if (y < horizon)
        put(
          x,
          y,
          sky.map((v) => v - (y / horizon) * 30),
          0,
          6,
        );
      else put(x, y, pavement, 0, 18);
    }
  }
  // Road: a trapezoid from the bottom edge to a vanishing point on the horizon; grey, noisy, like the pavement.
  const vx = randomRange(rand, 0.35, 0.65) * width;
  const roadLeft = randomRange(rand, -0.3, 0.15) * width;
  const roadRight = randomRange(rand, 0.85, 1.3) * width;
  const roadGrey = randomInt(rand, 80, 115);
  for (let y = horizon + 2; y < height; y += 1) {
    const t = (y - horizon) / (height - horizon);
    const left = vx + (roadLeft - vx) * t;
    const right = vx + (roadRight - vx) * t;
    for (let x = Math.max(0, Math.ceil(left)); x <= Math.min(width - 1, Math.floor(right)); x += 1) {
      put(x, y, [roadGrey, roadGrey, roadGrey + 5], idx('road'), 16);
    }
  }
  // Buildings: blocks standing on the horizon, with darker windows (still building).
  let x = randomInt(rand, -20, 10);
  while (x < width) {
    const w = randomInt(rand, Math.round(width * 0.12), Math.round(width * 0.3));
    const top = randomInt(rand, Math.round(horizon * 0.1), Math.round(horizon * 0.7));
    const base = [randomInt(rand, 90, 170), randomInt(rand, 70, 140), randomInt(rand, 60, 120)];
    if (rand() < 0.75) {
      for (let yy = top; yy < horizon + 2; yy += 1) {
        for (let xx = x; xx < x + w; xx += 1) {
          const window = (xx - x) % 9 > 3 && (yy - top) % 11 > 5;
          put(xx, yy, window ? base.map((v) => v * 0.5) : base, idx('building'), 12);
        }
      }
    }
    x += w + randomInt(rand, 0, 25);
  }
  // Wires: 1 px lines across the sky between two points (drawn before poles, which stand in front).
  for (let k = randomInt(rand, 0, 2); k > 0; k -= 1) {
    const y0 = randomInt(rand, 2, horizon - 2);
    const y1 = randomInt(rand, 2, horizon - 2);
    const dark = randomInt(rand, 30, 70);
    for (let xx = 0; xx < width; xx += 1) {
      const sag = Math.sin((xx / width) * Math.PI) * 6;
      put(xx, Math.round(y0 + ((y1 - y0) * xx) / width + sag), [dark, dark, dark], idx('wire'), 8);
    }
  }
  // Poles: 1-3 px wide, from the pavement up into the sky; grey like the road.
  for (let k = randomInt(rand, 1, 4); k > 0; k -= 1) {
    const px = randomInt(rand, 2, width - 5);
    const w = randomInt(rand, 1, 3);
    const bottom = randomInt(rand, horizon + 5, height - 1);
    const top = randomInt(rand, 2, Math.max(3, horizon - 10));
    const grey = randomInt(rand, 60, 110);
    for (let yy = top; yy <= bottom; yy += 1) {
      for (let dx = 0; dx < w; dx += 1) put(px + dx, yy, [grey, grey, grey], idx('pole'), 10);
    }
    // A sign on some poles: a small bright square or disc near the top.
    if (rand() < 0.6) drawSign(put, px + Math.floor(w / 2), top + randomInt(rand, 3, 15), rand, idx('sign'));
  }
  // Free-standing signs, small, some on buildings.
  for (let k = randomInt(rand, 0, 2); k > 0; k -= 1) {
    drawSign(put, randomInt(rand, 5, width - 6), randomInt(rand, 5, height - 6), rand, idx('sign'));
  }
  // People: rare (a third of the images), a few small figures on the pavement or the road.
  if (rand() < 0.35) {
    for (let k = randomInt(rand, 1, 2); k > 0; k -= 1) {
      const cx = randomInt(rand, 4, width - 5);
      const foot = randomInt(rand, horizon + 8, height - 2);
      const h = randomInt(rand, 7, 14);
      const shirt = [randomInt(rand, 40, 220), randomInt(rand, 40, 220), randomInt(rand, 40, 220)];
      for (let yy = foot - h; yy <= foot; yy += 1) {
        const head = yy < foot - h + 3;
        const half = head ? 1 : yy > foot - 4 ? 1 : 2;
        for (let dx = -half; dx <= half; dx += 1) {
          put(cx + dx, yy, head ? [200, 160, 130] : shirt, idx('person'), 10);
        }
      }
    }
  }
  return { rgb, labels };
}

function drawSign(
  put: (x: number, y: number, c: readonly number[], l: number, n: number) => void,
  cx: number,
  cy: number,
  rand: Random,
  label: number,
): void {
  const r = randomInt(rand, 2, 4);
  const colour = rand() < 0.5 ? [210, 40, 40] : [230, 200, 40];
  const disc = rand() < 0.5;
  for (let dy = -r; dy <= r; dy += 1) {
    for (let dx = -r; dx <= r; dx += 1) {
      if (disc && dx * dx + dy * dy > r * r) continue;
      put(cx + dx, cy + dy, colour, label, 20);
    }
  }
}

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}
