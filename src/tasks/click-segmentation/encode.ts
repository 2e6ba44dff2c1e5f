/**
 * The click network's input, one pixel after another: the normalised RGB image, the positive click disks, the
 * negative click disks and the previous mask (the order of plugin/clicks' declared inputs, checked when a run
 * starts). Training, evaluation and `segmentFromClicks` all build inputs here, so they cannot disagree.
 */
import { normaliseRgbInto, type ChannelStats } from '../../image/normalise';
import { drawClickDisks, type Click, type Grid } from './clicks';

/** The inputs this task feeds, in channel order. */
export const CLICK_INPUT_NAMES: readonly string[] = [
  'image',
  'positive_clicks',
  'negative_clicks',
  'previous_mask',
];
export const CLICK_INPUT_CHANNELS = 6;
const POSITIVE = 3;
const NEGATIVE = 4;
const PREVIOUS = 5;

/** How clicks are drawn; recorded in the checkpoint, so inference draws them as training did. */
export interface ClickEncoding {
  /** Disk radius in pixels of the network input. */
  radius: number;
}

export const DEFAULT_CLICK_ENCODING: ClickEncoding = { radius: 5 };

/** Writes the image part (normalised RGB) of one input at `offset` of an interleaved 6-channel buffer. */
export function writeImageChannels(opts: {
  rgb: Uint8Array;
  grid: Grid;
  preprocessing: ChannelStats;
  out: Float32Array;
  offset?: number;
}): void {
  const pixels = opts.grid.height * opts.grid.width;
  const base = opts.offset ?? 0;
  const rgb = new Float32Array(pixels * 3);
  normaliseRgbInto(opts.rgb, rgb, 0, opts.preprocessing);
  // Locals, not property reads, in the per-pixel loop.
  const out = opts.out;
  for (let p = 0, o = base, i = 0; p < pixels; p++, o += CLICK_INPUT_CHANNELS, i += 3) {
    out[o] = rgb[i];
    out[o + 1] = rgb[i + 1];
    out[o + 2] = rgb[i + 2];
  }
}

/** Rewrites the click and previous-mask channels of one input at `offset` (the image channels are kept). */
export function writeClickChannels(opts: {
  clicks: readonly Click[];
  previous: Uint8Array | null;
  grid: Grid;
  encoding: ClickEncoding;
  out: Float32Array;
  offset?: number;
}): void {
  const pixels = opts.grid.height * opts.grid.width;
  const base = opts.offset ?? 0;
  const out = opts.out;
  const previous = opts.previous;
  for (let p = 0, o = base; p < pixels; p++, o += CLICK_INPUT_CHANNELS) {
    out[o + POSITIVE] = 0;
    out[o + NEGATIVE] = 0;
    out[o + PREVIOUS] = previous !== null && previous[p] !== 0 ? 1 : 0;
  }
  drawClickDisks({
    clicks: opts.clicks,
    grid: opts.grid,
    radius: opts.encoding.radius,
    out: opts.out,
    stride: CLICK_INPUT_CHANNELS,
    positiveChannel: POSITIVE,
    negativeChannel: NEGATIVE,
    offset: base,
  });
}

/** One whole input: H x W x 6 values. */
export function encodeClickInput(opts: {
  rgb: Uint8Array;
  grid: Grid;
  preprocessing: ChannelStats;
  clicks: readonly Click[];
  previous: Uint8Array | null;
  encoding: ClickEncoding;
}): Float32Array {
  const out = new Float32Array(opts.grid.height * opts.grid.width * CLICK_INPUT_CHANNELS);
  writeImageChannels({ ...opts, out });
  writeClickChannels({ ...opts, out });
  return out;
}
