/** The U-Net network plugin: what the runtime sees of it (src/network/types.ts). */
import { IMAGE_INPUT, SCORES_OUTPUT, type SegmentationNetwork } from '../../src/network/types';
import { buildUnet, IMAGENET_PREPROCESSING, buildUnetHead, UNET_HEAD_LAYER_NAMES } from './build';
import { parseUnetSettings, UNET_DEFAULTS, UNET_SETTINGS_SCHEMA, type UnetSettings } from './settings';

export type { UnetSettings } from './settings';
export { levelFilters, parseUnetSettings } from './settings';

export const network: SegmentationNetwork<UnetSettings> = {
  name: 'unet',
  task: 'semantic_segmentation',
  inputs: IMAGE_INPUT,
  outputs: SCORES_OUTPUT,
  defaults: UNET_DEFAULTS,
  settingsSchema: UNET_SETTINGS_SCHEMA,
  headLayerNames: UNET_HEAD_LAYER_NAMES,
  preprocessing: IMAGENET_PREPROCESSING,
  parseSettings: parseUnetSettings,
  build: buildUnet,
  buildHead: buildUnetHead,
};
