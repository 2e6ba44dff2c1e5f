/**
 * Entry point of an inference task (spec A.3, H.1): started by src/inference.py as `node dist/src/inference.js`.
 * Thin on purpose: resolve the task folder and the shard (`--shard i/n` or the environment, task/shard.ts), load
 * and validate the model and mode configs (logged), make the configured GPU visible, then hand over to the
 * inference run. Failures become the crash line and exit code 1.
 *
 * Only tfjs-free modules are imported statically: CUDA_VISIBLE_DEVICES must be set before tfjs loads.
 */

import { sizeLibuvThreadPool } from './inference/thread-pool';
import { defaultLogger } from './protocol/logger';
import { runMain } from './protocol/main';
import { applyGpuDevices } from './task/gpu';
import { loadInferenceConfig } from './task/inference-config';
import { resolveTaskPaths } from './task/paths';
import { resolveShard } from './task/shard';
import { checkResultsWritable, removeStaleTemporaries } from './task/results-folder';
import { configError, modelError } from './errors';
import { readModelConfig } from './model-state/config';
import { DEFAULT_PLUGIN, PLUGINS, pluginOfCheckpoint, type PluginEntry } from './plugins';

const INFERENCE_MAIN_NAME = 'TFJS_SEGMENTATION_INFERENCE';

async function main(): Promise<void> {
  // Before any asynchronous file or image call: libuv sizes its pool when the pool first starts.
  const libuvThreads = sizeLibuvThreadPool();
  const logger = defaultLogger();
  const paths = resolveTaskPaths(process.env);
  const shard = resolveShard(process.argv.slice(2), process.env);
  const plugin = await checkpointPlugin(paths.model);
  await checkResultsWritable(paths);
  if (shard === undefined) {
    const stale = await removeStaleTemporaries(paths);
    if (stale.length > 0)
      logger.warn('Removed what an earlier, killed run left in results/', { removed: stale });
  }
  if (plugin.task === 'video_tracking') {
    if (shard !== undefined) {
      throw configError(
        `sharded inference applies to image projects; this is a "${plugin.name}" network (task ` +
          `${plugin.task}), applied to a whole video project (sharding from ${shard.source})`,
        { field: 'shard' },
      );
    }
    // A tracker applies to a video project: every annotated object followed through its video.
    const { runTrackingInference } = await import('./tasks/video-tracking/run-inference');
    await runTrackingInference({ paths, logger });
    return;
  }
  if (plugin.defaultModeConfig === undefined) {
    const applied = PLUGINS.filter((p) => p.defaultModeConfig !== undefined).map((p) => p.name);
    throw modelError(
      `the model is a "${plugin.name}" network (task ${plugin.task}); inference tasks apply ` +
        `${applied.join(', ')} networks (use its own tool, e.g. sly-nn segment for click networks)`,
      { file: CHECKPOINT_CONFIG, field: 'network' },
    );
  }
  const { modelConfig, modeConfig } = await loadInferenceConfig({
    paths,
    logger,
    defaultModeConfig: plugin.defaultModeConfig,
  });
  const deviceIds = applyGpuDevices([modelConfig.gpu_device], process.env);
  logger.debug('GPU devices remapped', {
    cuda_visible_devices: process.env.CUDA_VISIBLE_DEVICES,
    device_ids: deviceIds,
  });
  const { engineFromEnvironment } = await import('./inference/engine/types');
  const engine = engineFromEnvironment(process.env, logger);
  const { runInference } = await import('./inference/run');
  await runInference(
    { paths, modelConfig, modeConfig, logger },
    {
      libuvThreads,
      ...(engine !== undefined ? { engine } : {}),
      ...(shard !== undefined ? { shard } : {}),
      ...(plugin.legacyPreprocessing !== undefined
        ? { assumedPreprocessing: plugin.legacyPreprocessing }
        : {}),
      ...(plugin.signature !== undefined ? { signature: plugin.signature } : {}),
    },
  );
}

const CHECKPOINT_CONFIG = 'model/config.json';

/**
 * The plugin that made the model, before any image is read. A config.json that cannot be read here is reported
 * by the inference run, with the rest of the checkpoint's checks, so this falls back to the default plugin.
 */
async function checkpointPlugin(modelDir: string): Promise<PluginEntry> {
  let extra: Record<string, unknown>;
  try {
    extra = (await readModelConfig(modelDir, { displayName: CHECKPOINT_CONFIG })).extra;
  } catch {
    return DEFAULT_PLUGIN;
  }
  return pluginOfCheckpoint(extra, CHECKPOINT_CONFIG);
}

void runMain(INFERENCE_MAIN_NAME, main);
