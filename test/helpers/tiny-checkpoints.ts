/**
 * Small checkpoints of each task with seeded (untrained) weights, made in a second or two: for tests of the
 * paths a checkpoint goes through (the CLI, the server, the page), not of what a trained network does.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { tinyUnetCheckpoint } from '../inference/helpers/tiny-checkpoint';

/** A click checkpoint (network `clicks`, 32x32 input). */
export async function writeClickCheckpoint(dir: string): Promise<void> {
  const { network } = await import('../../plugin/clicks');
  const { withSeededRandom } = await import('../../src/network/seeded-build');
  const { saveModelToDir } = await import('../../src/network/io');
  const { writeModelConfig } = await import('../../src/model-state/config');
  const { networkRecord } = await import('../../src/network/record');
  const { clickCheckpointRecord } = await import('../../src/tasks/click-segmentation/training');
  const settings = network.parseSettings({ depth: 2, base_filters: 4, max_filters: 8 });
  const model = withSeededRandom(2, () =>
    network.build({ inputSize: { height: 32, width: 32 }, numClasses: 2, settings }),
  );
  await saveModelToDir(model, dir);
  model.dispose();
  await writeModelConfig(dir, {
    settings: { input_size: { height: 32, width: 32 }, network: 'clicks', custom_model_config: settings },
    outClasses: [
      { title: 'background', shape: 'bitmap', color: '#222222', geometry_config: {}, hotkey: '' },
      { title: 'object', shape: 'bitmap', color: '#FF3366', geometry_config: {}, hotkey: '' },
    ],
    classTitleToIdx: { background: 0, object: 1 },
    extra: { ...networkRecord(network), ...clickCheckpointRecord() },
  });
}

/** A tracker checkpoint (network `tracker`, narrow layers), with its ONNX files. */
export async function writeTrackerCheckpoint(dir: string): Promise<void> {
  const { network } = await import('../../plugin/tracker');
  const { withSeededRandom } = await import('../../src/network/seeded-build');
  const { writeTrackerFiles } = await import('../../src/tasks/video-tracking/tracker-checkpoint');
  const settings = network.parseSettings({
    encoder_filters: [8, 8, 16],
    key_channels: 8,
    decoder_filters: 16,
  });
  const models = withSeededRandom(3, () => ({
    encoder: network.buildEncoder(settings),
    decoder: network.buildDecoder(settings),
  }));
  await fsp.mkdir(dir, { recursive: true });
  await writeTrackerFiles(dir, {
    ...models,
    config: {
      network: 'tracker',
      settings,
      preprocessing: network.preprocessing,
      tracker: { local_radius: 2, short_side: 240, clip_size: 32, steps: 0 },
    },
    trainConfig: {},
  });
  models.encoder.dispose();
  models.decoder.dispose();
}

export interface TinyCheckpoints {
  readonly semantic: string;
  readonly clicks: string;
  readonly tracker: string;
}

/**
 * One checkpoint of each task under `root` (semantic: a U-Net of 32x32 input over bg + 3 shapes). All seeded:
 * the same answers on every run (the page's browser test relies on where this U-Net's labels fall).
 */
export async function writeTinyCheckpoints(root: string): Promise<TinyCheckpoints> {
  const dirs = {
    semantic: path.join(root, 'semantic'),
    clicks: path.join(root, 'clicks'),
    tracker: path.join(root, 'tracker'),
  };
  await tinyUnetCheckpoint({ outDir: dirs.semantic, size: 32, seed: 3 });
  await writeClickCheckpoint(dirs.clicks);
  await writeTrackerCheckpoint(dirs.tracker);
  return dirs;
}
