/** The U-Net network plugin: what the runtime sees of it (src/network/types.ts). */
import type { SegmentationNetwork } from '../../src/network/types';
import { buildUnet, buildUnetHead, UNET_HEAD_LAYER_NAMES } from './build';
import { parseUnetSettings, UNET_DEFAULTS, UNET_SETTINGS_SCHEMA, type UnetSettings } from './settings';

export type { UnetSettings } from './settings';
export { levelFilters, parseUnetSettings } from './settings';

export const network: SegmentationNetwork<UnetSettings> = {
  name: 'unet',
  defaults: UNET_DEFAULTS,
  settingsSchema: UNET_SETTINGS_SCHEMA,
  headLayerNames: UNET_HEAD_LAYER_NAMES,
  // ImageNet statistics, as the original UNet v2 plugin normalised (spec G.1, dataset.py).
  preprocessing: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  parseSettings: parseUnetSettings,
  build: buildUnet,
  buildHead: buildUnetHead,
};
