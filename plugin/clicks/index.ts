/**
 * The click network (task `click_segmentation`): a U-Net that takes the image, the positive and negative click
 * maps and the previous mask as one input, and gives two channels (background, object). What a click map
 * holds and how clicks are simulated in training belong to the task (src/tasks/click-segmentation); this
 * module only builds the network for the inputs it declares.
 */
import type { SegmentationNetwork } from '../../src/network/types';
import { buildUnetGraph, buildUnetHead, IMAGENET_PREPROCESSING, UNET_HEAD_LAYER_NAMES } from '../unet/build';
import { unetSettingsFromSchema, type UnetSettings } from '../unet/settings';
import schemaJson from './settings.schema.json';
import { CLICKS_INPUT_CHANNELS, CLICKS_SIGNATURE } from './signature';

export type ClicksSettings = UnetSettings;

const SETTINGS = unetSettingsFromSchema(schemaJson, 'click network');

export const network: SegmentationNetwork<ClicksSettings> = {
  name: 'clicks',
  task: 'click_segmentation',
  ...CLICKS_SIGNATURE,
  defaults: SETTINGS.defaults,
  settingsSchema: schemaJson,
  headLayerNames: UNET_HEAD_LAYER_NAMES,
  preprocessing: IMAGENET_PREPROCESSING,
  parseSettings: SETTINGS.parse,
  build: (opts) => buildUnetGraph({ ...opts, inputChannels: CLICKS_INPUT_CHANNELS, modelName: 'clicks' }),
  buildHead: buildUnetHead,
};
