/**
 * The mask tracker's learnt parts ("MatchProp-lite", shared/notes/video-object-segmentation.md §2.3): a small
 * encoder giving skip features at stride 4, features and a pixel embedding at stride 8, and a small decoder that
 * reads the features with the task's matching maps and gives one object's logits at stride 4. No batch norm:
 * clips are few per step, and a plain conv exports and trains the same in every engine.
 */
import * as tf from '@tensorflow/tfjs';
import { configError } from '../../src/errors';
import { TRACKER_MATCH_CHANNELS, type TrackerNetwork } from '../../src/network/types';
import schemaJson from './settings.schema.json';

export interface TrackerSettings {
  encoder_filters: [number, number, number];
  key_channels: number;
  decoder_filters: number;
  batch_norm: boolean;
  colour_key: boolean;
}

const FIELD = 'custom_model_config';
const DEFAULTS: Readonly<TrackerSettings> = Object.freeze({
  encoder_filters: schemaJson.properties.encoder_filters.default as [number, number, number],
  key_channels: schemaJson.properties.key_channels.default,
  decoder_filters: schemaJson.properties.decoder_filters.default,
  batch_norm: schemaJson.properties.batch_norm.default,
  colour_key: schemaJson.properties.colour_key.default,
});

function parseSettings(raw: unknown): TrackerSettings {
  if (raw === undefined || raw === null)
    return { ...DEFAULTS, encoder_filters: [...DEFAULTS.encoder_filters] };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw configError(`expected an object, found ${JSON.stringify(raw)}`, { field: FIELD });
  }
  const given = raw as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(key in DEFAULTS)) {
      throw configError(`unknown setting; the tracker has ${Object.keys(DEFAULTS).join(', ')}`, {
        field: `${FIELD}.${key}`,
      });
    }
  }
  const int = (key: string, value: unknown, min: number, max: number): number => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw configError(`expected an integer from ${min} to ${max}, found ${JSON.stringify(value)}`, {
        field: `${FIELD}.${key}`,
      });
    }
    return value;
  };
  const bool = (key: string, value: unknown): boolean => {
    if (typeof value !== 'boolean') {
      throw configError(`expected true or false, found ${JSON.stringify(value)}`, {
        field: `${FIELD}.${key}`,
      });
    }
    return value;
  };
  const filters = given.encoder_filters ?? DEFAULTS.encoder_filters;
  if (!Array.isArray(filters) || filters.length !== 3) {
    throw configError(`expected three integers, found ${JSON.stringify(filters)}`, {
      field: `${FIELD}.encoder_filters`,
    });
  }
  return {
    encoder_filters: filters.map((f: unknown, i) => int(`encoder_filters[${i}]`, f, 4, 256)) as [
      number,
      number,
      number,
    ],
    key_channels: int('key_channels', given.key_channels ?? DEFAULTS.key_channels, 4, 128),
    decoder_filters: int('decoder_filters', given.decoder_filters ?? DEFAULTS.decoder_filters, 8, 256),
    batch_norm: bool('batch_norm', given.batch_norm ?? DEFAULTS.batch_norm),
    colour_key: bool('colour_key', given.colour_key ?? DEFAULTS.colour_key),
  };
}

const COLOUR_LAYER = 'enc_colour';

type Conv = (
  name: string,
  filters: number,
  opts?: { stride?: number; kernel?: number; relu?: boolean; norm?: boolean },
) => { apply: (x: tf.SymbolicTensor | tf.SymbolicTensor[]) => tf.SymbolicTensor };

/**
 * Convs of one build: a 3x3 (or 1x1) conv, then batch norm when `batchNorm` (folded into the conv by the ONNX
 * export; `norm: false` leaves it out for a layer), then ReLU unless `relu` is false.
 */
function convMaker(batchNorm: boolean): Conv {
  return (name, filters, opts = {}) => {
    const norm = batchNorm && opts.norm !== false;
    const relu = opts.relu !== false;
    const layer = tf.layers.conv2d({
      name,
      filters,
      kernelSize: opts.kernel ?? 3,
      strides: opts.stride ?? 1,
      padding: 'same',
      activation: relu && !norm ? 'relu' : 'linear',
      useBias: !norm,
      kernelInitializer: 'heNormal',
    });
    return {
      apply: (x) => {
        let y = layer.apply(x) as tf.SymbolicTensor;
        if (norm) {
          y = tf.layers
            .batchNormalization({ name: `${name}_bn`, momentum: 0.9 })
            .apply(y) as tf.SymbolicTensor;
          if (relu) y = tf.layers.reLU({ name: `${name}_relu` }).apply(y) as tf.SymbolicTensor;
        }
        return y;
      },
    };
  };
}

/** relu(x + conv(relu(conv(x)))): two of these give the stride-8 features a wider view at little cost. */
function residual(conv: Conv, name: string, x: tf.SymbolicTensor, filters: number): tf.SymbolicTensor {
  const a = conv(`${name}_a`, filters).apply(x);
  const b = conv(`${name}_b`, filters, { relu: false }).apply(a);
  const sum = tf.layers.add({ name: `${name}_add` }).apply([x, b]) as tf.SymbolicTensor;
  return tf.layers.reLU({ name: `${name}_relu` }).apply(sum) as tf.SymbolicTensor;
}

function buildEncoder(s: TrackerSettings): tf.LayersModel {
  const conv = convMaker(s.batch_norm);
  const [c2, c4, c8] = s.encoder_filters;
  const image = tf.input({ shape: [null, null, 3], name: 'image' });
  let x = conv('enc_s2', c2, { stride: 2 }).apply(image);
  x = conv('enc_s2b', c2).apply(x);
  x = conv('enc_s4', c4, { stride: 2 }).apply(x);
  const f4 = conv('enc_s4b', c4).apply(x);
  x = conv('enc_s8', c8, { stride: 2 }).apply(f4);
  x = residual(conv, 'enc_res1', x, c8);
  const f8 = residual(conv, 'enc_res2', x, c8);
  let key = conv('enc_key', s.key_channels, { kernel: 1, relu: false, norm: false }).apply(f8);
  if (!s.colour_key) return tf.model({ inputs: image, outputs: [f4, f8, key], name: 'tracker_encoder' });
  // Each cell's mean colour joins the embedding: matching starts where raw colour is, and learns texture on top.
  const colour = tf.layers.conv2d({
    name: COLOUR_LAYER,
    filters: 3,
    kernelSize: 8,
    strides: 8,
    padding: 'valid',
    useBias: false,
  });
  const mean = colour.apply(image) as tf.SymbolicTensor;
  key = tf.layers.concatenate({ name: 'enc_key_colour' }).apply([key, mean]) as tf.SymbolicTensor;
  const model = tf.model({ inputs: image, outputs: [f4, f8, key], name: 'tracker_encoder' });
  // Starts as the per-channel mean over the 8x8 cell (then trained).
  const kernel = new Float32Array(8 * 8 * 3 * 3);
  for (let i = 0; i < 64; i++) for (let c = 0; c < 3; c++) kernel[i * 9 + c * 3 + c] = 1 / 64;
  const initial = tf.tensor4d(kernel, [8, 8, 3, 3]);
  colour.setWeights([initial]);
  initial.dispose();
  return model;
}

function buildDecoder(s: TrackerSettings): tf.LayersModel {
  const conv = convMaker(s.batch_norm);
  const [, c4, c8] = s.encoder_filters;
  const d = s.decoder_filters;
  const f8 = tf.input({ shape: [null, null, c8], name: 'f8' });
  const match = tf.input({ shape: [null, null, TRACKER_MATCH_CHANNELS.length], name: 'match' });
  const f4 = tf.input({ shape: [null, null, c4], name: 'f4' });
  let x = tf.layers.concatenate({ name: 'dec_in' }).apply([f8, match]) as tf.SymbolicTensor;
  x = conv('dec_s8', d).apply(x);
  x = residual(conv, 'dec_res', x, d);
  x = tf.layers.upSampling2d({ name: 'dec_up', size: [2, 2] }).apply(x) as tf.SymbolicTensor;
  const skip = conv('dec_skip', Math.max(8, d / 2), { kernel: 1 }).apply(f4);
  x = tf.layers.concatenate({ name: 'dec_cat' }).apply([x, skip]) as tf.SymbolicTensor;
  x = conv('dec_s4', Math.max(8, d / 2)).apply(x);
  const logits = conv('dec_logits', 1, { kernel: 1, relu: false, norm: false }).apply(x);
  return tf.model({ inputs: [f8, match, f4], outputs: logits, name: 'tracker_decoder' });
}

export const network: TrackerNetwork<TrackerSettings> = {
  name: 'tracker',
  task: 'video_tracking',
  defaults: DEFAULTS,
  settingsSchema: schemaJson,
  // Plain [0, 1] → [-1, 1]: trained from scratch, nothing to match an ImageNet statistic.
  preprocessing: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  parseSettings,
  buildEncoder,
  buildDecoder,
};
