/**
 * What the click network takes and gives, tfjs-free so the plugin registry (src/plugins.ts) can name it without
 * loading a tensor library: the image, the positive and negative click maps and the previous mask packed in one
 * input tensor, and two channels of scores (background, object).
 */
import { SCORES_OUTPUT, type NamedInput, type NetworkSignature } from '../../src/network/types';

/** The parts in channel order: the image, then one channel each for the clicks and the previous mask. */
export const CLICKS_PARTS: readonly NamedInput[] = [
  { name: 'image', channels: 3 },
  { name: 'positive_clicks', channels: 1 },
  { name: 'negative_clicks', channels: 1 },
  { name: 'previous_mask', channels: 1 },
];

export const CLICKS_INPUT_CHANNELS = CLICKS_PARTS.reduce((sum, i) => sum + i.channels, 0);

/**
 * One input tensor packing the parts: the U-Net's graph (and so the checkpoints and the ONNX export) is the same
 * whatever its channel count.
 */
export const CLICKS_INPUTS: readonly NamedInput[] = [
  { name: 'image_clicks_mask', channels: CLICKS_INPUT_CHANNELS, parts: CLICKS_PARTS },
];

export const CLICKS_SIGNATURE: NetworkSignature = { inputs: CLICKS_INPUTS, outputs: SCORES_OUTPUT };
