/**
 * Network input normalisation: RGB bytes to float32, (x / 255 - mean) / std per channel. Training and inference
 * share this one function, so a model always sees the same numbers it was trained on.
 */

export interface ChannelStats {
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

/** Writes `rgb` (HWC, 3 bytes per pixel) normalised into `out` starting at `offset`. */
export function normaliseRgbInto(
  rgb: Uint8Array,
  out: Float32Array,
  offset: number,
  stats: ChannelStats,
): void {
  if (rgb.length % 3 !== 0) throw new RangeError(`RGB data length ${rgb.length} is not a multiple of 3`);
  if (offset < 0 || offset + rgb.length > out.length) {
    throw new RangeError(`normalised data does not fit: ${rgb.length} values at ${offset} in ${out.length}`);
  }
  // Folding the two steps into one multiply-add per value keeps this off the profile; in locals, not arrays,
  // so the loop reads no array but the pixels.
  const s0 = 1 / (255 * stats.std[0]);
  const s1 = 1 / (255 * stats.std[1]);
  const s2 = 1 / (255 * stats.std[2]);
  const h0 = -stats.mean[0] / stats.std[0];
  const h1 = -stats.mean[1] / stats.std[1];
  const h2 = -stats.mean[2] / stats.std[2];
  for (let i = 0, o = offset; i < rgb.length; i += 3, o += 3) {
    out[o] = rgb[i] * s0 + h0;
    out[o + 1] = rgb[i + 1] * s1 + h1;
    out[o + 2] = rgb[i + 2] * s2 + h2;
  }
}
