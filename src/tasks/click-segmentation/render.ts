/**
 * Pictures of a click result: the mask as a grey PNG of the image's size (255 = object), and an overlay of the
 * image with the object tinted, its outline drawn, and the clicks marked (green +, red -). Both are written
 * under a temporary name and renamed, so a failed write never leaves a partial file under the final name.
 */
import sharp from 'sharp';
import type { RgbRaster } from '../../image/crop-resize';
import { writeAtomically } from '../../util/atomic';
import type { Click } from './clicks';
import type { ClickMask } from './segment';

// Cyan: it shows on the reds, greens and greys photos are made of.
const TINT: readonly [number, number, number] = [0, 200, 255];
const POSITIVE: readonly [number, number, number] = [40, 220, 60];
const NEGATIVE: readonly [number, number, number] = [235, 40, 40];

async function writePngAtomically(
  file: string,
  data: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
): Promise<void> {
  const pixels = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  await writeAtomically(file, async (temp) => {
    const png = sharp(pixels, { raw: { width, height, channels } });
    // Without the colour space, libvips writes a one-channel image as RGB.
    await (channels === 1 ? png.toColourspace('b-w') : png).png().toFile(temp);
  });
}

export async function writeMaskPng(file: string, result: ClickMask): Promise<void> {
  const grey = new Uint8Array(result.mask.length);
  for (let i = 0; i < grey.length; i++) grey[i] = result.mask[i] !== 0 ? 255 : 0;
  await writePngAtomically(file, grey, result.width, result.height, 1);
}

/** The overlay's pixels (RGB): tint inside, a solid outline, and a ringed disk per click. */
export function overlayPixels(image: RgbRaster, result: ClickMask, clicks: readonly Click[]): Uint8Array {
  const { width, height } = image;
  const out = Uint8Array.from(image.data);
  const m = result.mask;
  const inside = (x: number, y: number): boolean =>
    x >= 0 && y >= 0 && x < width && y < height && m[y * width + x] !== 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!inside(x, y)) continue;
      const edge = !inside(x - 1, y) || !inside(x + 1, y) || !inside(x, y - 1) || !inside(x, y + 1);
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++)
        out[o + c] = edge ? TINT[c] : Math.round(0.55 * out[o + c] + 0.45 * TINT[c]);
    }
  }
  const r = Math.max(3, Math.round(Math.min(width, height) / 80));
  for (const click of clicks) {
    const colour = click.positive ? POSITIVE : NEGATIVE;
    for (let dy = -r - 1; dy <= r + 1; dy++) {
      for (let dx = -r - 1; dx <= r + 1; dx++) {
        const x = Math.round(click.x) + dx;
        const y = Math.round(click.y) + dy;
        const d2 = dx * dx + dy * dy;
        if (x < 0 || y < 0 || x >= width || y >= height || d2 > (r + 1) * (r + 1)) continue;
        const o = (y * width + x) * 3;
        const ring = d2 > r * r;
        for (let c = 0; c < 3; c++) out[o + c] = ring ? 255 : colour[c];
      }
    }
  }
  return out;
}

export async function writeOverlayPng(
  file: string,
  image: RgbRaster,
  result: ClickMask,
  clicks: readonly Click[],
): Promise<void> {
  await writePngAtomically(file, overlayPixels(image, result, clicks), image.width, image.height, 3);
}
