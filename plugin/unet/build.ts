/**
 * The U-Net: per level two (3x3 conv + BatchNorm + ReLU), 2x2 max-pool down, 2x2 stride-2 transposed conv up,
 * skip concatenation, then a 1x1 conv + softmax head. Every layer is named from its place in the graph
 * (`enc{level}_conv1`, `mid_bn2`, `dec{level}_up`, `head_conv`, ...), so names are stable across builds.
 */
import * as tf from '@tensorflow/tfjs';
import { configError } from '../../src/errors';
import type { NetworkBuildOptions, NetworkHeadOptions } from '../../src/network/types';
import { levelFilters, type UnetSettings } from './settings';

export const INPUT_LAYER_NAME = 'image';

export { IMAGENET_PREPROCESSING } from './preprocessing';
export const HEAD_CONV_NAME = 'head_conv';
export const HEAD_SOFTMAX_NAME = 'head_softmax';
export const UNET_HEAD_LAYER_NAMES: readonly string[] = [HEAD_CONV_NAME, HEAD_SOFTMAX_NAME];

/** Two (conv 3x3 -> BN -> ReLU) under one name prefix. The conv has no bias: BatchNorm's beta replaces it. */
function convBlock(
  x: tf.SymbolicTensor,
  prefix: string,
  filters: number,
  settings: UnetSettings,
): tf.SymbolicTensor {
  let y = x;
  for (const k of [1, 2]) {
    y = tf.layers
      .conv2d({
        name: `${prefix}_conv${k}`,
        filters,
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        kernelInitializer: 'heNormal',
      })
      .apply(y) as tf.SymbolicTensor;
    y = tf.layers
      .batchNormalization({ name: `${prefix}_bn${k}`, axis: -1, momentum: settings.bn_momentum })
      .apply(y) as tf.SymbolicTensor;
    y = tf.layers
      .activation({ name: `${prefix}_relu${k}`, activation: 'relu' })
      .apply(y) as tf.SymbolicTensor;
  }
  return y;
}

/** The head: 1x1 conv to class logits, then softmax over the channel axis. */
export function buildUnetHead(
  features: tf.SymbolicTensor,
  opts: NetworkHeadOptions<UnetSettings>,
): tf.SymbolicTensor {
  checkClassCount(opts.numClasses);
  const logits = tf.layers
    .conv2d({ name: HEAD_CONV_NAME, filters: opts.numClasses, kernelSize: 1, padding: 'valid' })
    .apply(features) as tf.SymbolicTensor;
  return tf.layers
    .activation({ name: HEAD_SOFTMAX_NAME, activation: 'softmax' })
    .apply(logits) as tf.SymbolicTensor;
}

export function buildUnet(opts: NetworkBuildOptions<UnetSettings>): tf.LayersModel {
  return buildUnetGraph({ ...opts, inputChannels: 3, modelName: 'unet' });
}

/**
 * The U-Net on an input of any channel count (another network, such as the click network, feeds it more than
 * the image); the layer names are the same whatever the input.
 */
export function buildUnetGraph(
  opts: NetworkBuildOptions<UnetSettings> & { inputChannels: number; modelName: string },
): tf.LayersModel {
  const { inputSize, settings } = opts;
  checkInputSize(inputSize.height, 'input_size.height', settings.depth);
  checkInputSize(inputSize.width, 'input_size.width', settings.depth);
  checkClassCount(opts.numClasses);
  const filters = levelFilters(settings);

  const input = tf.input({
    name: INPUT_LAYER_NAME,
    shape: [inputSize.height, inputSize.width, opts.inputChannels],
  });
  const skips: tf.SymbolicTensor[] = [];
  let x: tf.SymbolicTensor = input;
  for (let level = 0; level < settings.depth; level++) {
    x = convBlock(x, `enc${level}`, filters[level], settings);
    skips.push(x);
    x = tf.layers
      .maxPooling2d({ name: `enc${level}_pool`, poolSize: 2, strides: 2 })
      .apply(x) as tf.SymbolicTensor;
  }
  x = convBlock(x, 'mid', filters[settings.depth], settings);
  for (let level = settings.depth - 1; level >= 0; level--) {
    x = tf.layers
      .conv2dTranspose({
        name: `dec${level}_up`,
        filters: filters[level],
        kernelSize: 2,
        strides: 2,
        padding: 'same',
        kernelInitializer: 'heNormal',
      })
      .apply(x) as tf.SymbolicTensor;
    x = tf.layers
      .concatenate({ name: `dec${level}_concat`, axis: -1 })
      .apply([x, skips[level]]) as tf.SymbolicTensor;
    x = convBlock(x, `dec${level}`, filters[level], settings);
  }
  const output = buildUnetHead(x, { numClasses: opts.numClasses, settings });
  return tf.model({ name: opts.modelName, inputs: input, outputs: output });
}

function checkInputSize(size: number, field: string, depth: number): void {
  const multiple = 2 ** depth;
  if (!Number.isInteger(size) || size <= 0 || size % multiple !== 0) {
    throw configError(
      `the U-Net with depth ${depth} needs a positive multiple of ${multiple}, found ${size}` +
        ' (change input_size or custom_model_config.depth)',
      { field },
    );
  }
}

function checkClassCount(numClasses: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw configError(`the number of output classes must be a positive integer, found ${numClasses}`, {
      field: 'class_title_to_idx',
    });
  }
}
