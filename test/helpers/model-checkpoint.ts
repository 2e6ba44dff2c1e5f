/** A checkpoint folder from a tfjs model of the test's own: model.json + weights.bin and a config.json. */
import type * as tf from '@tensorflow/tfjs';
import { writeModelConfig } from '../../src/model-state/config';
import { saveModelToDir } from '../../src/network/io';

/**
 * Saves `model` into `dir` with a config.json of a square `size` input, `classes` (class i has index i) and
 * config.json's extra keys `extra`, which name the network (`network`) and its normalisation (`preprocessing`).
 */
export async function writeModelCheckpoint(
  dir: string,
  model: tf.LayersModel,
  opts: {
    size: number;
    classes: readonly string[];
    extra: { network: string; preprocessing: unknown } & Record<string, unknown>;
  },
): Promise<void> {
  await saveModelToDir(model, dir);
  await writeModelConfig(dir, {
    settings: { input_size: { height: opts.size, width: opts.size }, network: opts.extra.network },
    outClasses: opts.classes.map((title) => ({
      title,
      shape: 'bitmap',
      color: '#FF3366',
      geometry_config: {},
      hotkey: '',
    })),
    classTitleToIdx: Object.fromEntries(opts.classes.map((title, i) => [title, i])),
    extra: opts.extra,
  });
}
