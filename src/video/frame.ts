/**
 * A video frame as the readers give it and the writers and trackers take it: RGB bytes and the size. It is the
 * tracker's `Frame` (tasks/video-tracking/baselines.ts) by shape, so a frame read here goes straight in; video/
 * cannot import a task, hence its own name.
 */
export interface RgbFrame {
  width: number;
  height: number;
  /** RGB, 3 bytes a pixel, row-major. */
  rgb: Uint8Array;
}

export interface FrameSize {
  width: number;
  height: number;
}

/**
 * The size frames are read at for a short side of `shortSide` pixels: the aspect ratio kept, both sides even
 * (what H.264 in yuv420p needs, and what ffmpeg's scaler is asked for). A video whose short side is no longer
 * than that is not enlarged: it keeps its own size.
 */
export function scaledSize(size: FrameSize, shortSide: number | undefined): FrameSize {
  if (shortSide === undefined) return { width: size.width, height: size.height };
  if (!Number.isInteger(shortSide) || shortSide < 2) {
    throw new Error(`the short side must be a whole number of pixels, at least 2 (got ${shortSide})`);
  }
  const short = Math.min(size.width, size.height);
  if (short <= shortSide) return { width: size.width, height: size.height };
  const even = (v: number): number => Math.max(2, 2 * Math.round(v / 2));
  const scale = shortSide / short;
  return { width: even(size.width * scale), height: even(size.height * scale) };
}

export function sameSize(a: FrameSize, b: FrameSize): boolean {
  return a.width === b.width && a.height === b.height;
}

export function formatSize(size: FrameSize): string {
  return `${size.width}x${size.height}`;
}
