/**
 * The U-Net's default inference mode (spec G.3): full image, model classes and tags suffixed "_unet", as the
 * stock UNet plugin does. tfjs-free: the entry points read it before any network code loads.
 */
import type { ModeConfigInput } from '../../src/task/inference-config';

export const UNET_DEFAULT_MODE: ModeConfigInput = {
  name: 'full_image',
  model_classes: { save_classes: '__all__', add_suffix: '_unet' },
  model_tags: { save_classes: '__all__', add_suffix: '_unet' },
  save_probabilities: false,
};
