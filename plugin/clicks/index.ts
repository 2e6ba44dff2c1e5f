/**
 * The click network (task `click_segmentation`): a U-Net that takes the image, the positive and negative click
 * maps and the previous mask as one input, and gives two channels (background, object). What a click map
 * holds and how clicks are simulated in training belong to the task (src/tasks/click-segmentation); this
 * module only builds the network for the inputs it declares.
 */
import { SCORES_OUTPUT, type NamedInput, type SegmentationNetwork } from '../../src/network/types';
import { buildUnetGraph, buildUnetHead, IMAGENET_PREPROCESSING, UNET_HEAD_LAYER_NAMES } from '../unet/build';
import { unetSettingsFromSchema, type UnetSettings } from '../unet/settings';
import schemaJson from './settings.schema.json';

export type ClicksSettings = UnetSettings;

/** The parts in channel order: the image, then one channel each for the clicks and the previous mask. */
export const CLICKS_PARTS: readonly NamedInput[] = [
  { name: 'image', channels: 3 },
  { name: 'positive_clicks', channels: 1 },
  { name: 'negative_clicks', channels: 1 },
  { name: 'previous_mask', channels: 1 },
];

const INPUT_CHANNELS = CLICKS_PARTS.reduce((sum, i) => sum + i.channels, 0);

/**
 * One input tensor packing the parts: the U-Net's graph (and so the checkpoints and the ONNX export) is the same
 * whatever its channel count.
 */
export const CLICKS_INPUTS: readonly NamedInput[] = [
  { name: 'image_clicks_mask', channels: INPUT_CHANNELS, parts: CLICKS_PARTS },
];

const SETTINGS = unetSettingsFromSchema(schemaJson, 'click network');

export const network: SegmentationNetwork<ClicksSettings> = {
  name: 'clicks',
  task: 'click_segmentation',
  inputs: CLICKS_INPUTS,
  outputs: SCORES_OUTPUT,
  defaults: SETTINGS.defaults,
  settingsSchema: schemaJson,
  headLayerNames: UNET_HEAD_LAYER_NAMES,
  preprocessing: IMAGENET_PREPROCESSING,
  parseSettings: SETTINGS.parse,
  build: (opts) => buildUnetGraph({ ...opts, inputChannels: INPUT_CHANNELS, modelName: 'clicks' }),
  buildHead: buildUnetHead,
};
