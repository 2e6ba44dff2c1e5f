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
  // Folding the two steps into one multiply-add per value keeps this off the profile.
  const scale = stats.std.map((s) => 1 / (255 * s));
  const shift = stats.mean.map((m, c) => -m / stats.std[c]);
  for (let i = 0; i < rgb.length; i += 3) {
    out[offset + i] = rgb[i] * scale[0] + shift[0];
    out[offset + i + 1] = rgb[i + 1] * scale[1] + shift[1];
    out[offset + i + 2] = rgb[i + 2] * scale[2] + shift[2];
  }
}
