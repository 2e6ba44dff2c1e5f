/**
 * Pictures of masks for people: an index mask's objects blended in colour over the frame, each outlined, and
 * panels side by side (frame | prediction | ground truth), for overlay videos.
 */
import { vocPalette } from '../format/palette';
import { formatSize, type RgbFrame } from './frame';

export interface OverlayOptions {
  /** RGB triples by id (default: the VOC palette DAVIS masks use, so colours match the written PNGs). */
  palette?: Uint8Array;
  /** The colour's weight inside objects (default 0.5). */
  alpha?: number;
  /** The outline's brightness against the object's colour (default 0.5: darker); the outline is opaque. */
  outline?: number;
}

const VOC = vocPalette();

/**
 * A new frame: each pixel of an object (id != 0) mixed with its id's colour, and the object's 1-pixel edge (a
 * pixel of it with a 4-neighbour of another id) in a darker shade of it, so touching objects stay apart.
 */
export function overlayMasks(frame: RgbFrame, mask: Uint8Array, opts: OverlayOptions = {}): RgbFrame {
  const { width: W, height: H, rgb } = frame;
  if (mask.length !== W * H) {
    throw new Error(`a mask of ${mask.length} pixels for a ${formatSize(frame)} frame`);
  }
  const palette = opts.palette ?? VOC;
  const alpha = opts.alpha ?? 0.5;
  const outline = opts.outline ?? 0.5;
  const out = Uint8Array.from(rgb);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const id = mask[i];
      if (id === 0) continue;
      const edge =
        (x > 0 && mask[i - 1] !== id) ||
        (x < W - 1 && mask[i + 1] !== id) ||
        (y > 0 && mask[i - W] !== id) ||
        (y < H - 1 && mask[i + W] !== id);
      const o = i * 3;
      const c = (id % (palette.length / 3)) * 3;
      for (let k = 0; k < 3; k++) {
        out[o + k] = edge
          ? Math.round(palette[c + k] * outline)
          : Math.round(rgb[o + k] * (1 - alpha) + palette[c + k] * alpha);
      }
    }
  }
  return { width: W, height: H, rgb: out };
}

/** The panels left to right in one frame; they must share a height. */
export function sideBySide(panels: readonly RgbFrame[]): RgbFrame {
  if (panels.length === 0) throw new Error('no panels to put side by side');
  const height = panels[0].height;
  const odd = panels.find((p) => p.height !== height);
  if (odd !== undefined) {
    throw new Error(
      `panels of ${formatSize(panels[0])} and ${formatSize(odd)}: side by side needs one height`,
    );
  }
  const width = panels.reduce((sum, p) => sum + p.width, 0);
  const rgb = new Uint8Array(width * height * 3);
  let left = 0;
  for (const p of panels) {
    for (let y = 0; y < height; y++) {
      rgb.set(p.rgb.subarray(y * p.width * 3, (y + 1) * p.width * 3), (y * width + left) * 3);
    }
    left += p.width;
  }
  return { width, height, rgb };
}
