/**
 * The U-Net's input normalisation: ImageNet statistics, as the original UNet v2 plugin normalised (spec G.1,
 * dataset.py). tfjs-free, so the plugin registry can name it for checkpoints that predate recording it.
 */
import type { Preprocessing } from '../../src/network/types';

export const IMAGENET_PREPROCESSING: Preprocessing = {
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};
