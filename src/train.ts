/**
 * Entry point of a training task (spec A.2, H.1): started by src/train.py as `node dist/src/train.js`.
 * Thin on purpose: resolve the task folder, load and validate the config (logged), pick the network plugin and
 * its task by the config's `network`, make the configured GPUs visible, then hand over to the training run. Failures become the crash line and exit code 1 (spec H.3).
 *
 * Only tfjs-free modules are imported statically: CUDA_VISIBLE_DEVICES must be set before tfjs loads.
 */

import { defaultLogger } from './protocol/logger';
import { runMain } from './protocol/main';
import { applyGpuDevices } from './task/gpu';
import { resolveTaskPaths } from './task/paths';
import { checkResultsWritable, removeStaleTemporaries } from './task/results-folder';
import { customModelSchemaOf, findPlugin } from './plugins';
import { loadTrainConfig } from './task/train-config';

const TRAIN_MAIN_NAME = 'TFJS_SEGMENTATION_TRAIN';

async function main(): Promise<void> {
  const logger = defaultLogger();
  const paths = resolveTaskPaths(process.env);
  logger.info('Will init all required to train.', { task_dir: paths.root });
  const { config, given } = await loadTrainConfig({
    paths,
    logger,
    customModelSchema: customModelSchemaOf,
  });
  const plugin = findPlugin(config.network, { file: 'task_config.json', field: 'network' });
  await checkResultsWritable(paths);
  const stale = await removeStaleTemporaries(paths);
  if (stale.length > 0)
    logger.warn('Removed what an earlier, killed run left in results/', { removed: stale });
  const deviceIds = applyGpuDevices(config.gpu_devices, process.env);
  logger.debug('GPU devices remapped', {
    cuda_visible_devices: process.env.CUDA_VISIBLE_DEVICES,
    device_ids: deviceIds,
  });
  if (plugin.task === 'video_tracking') {
    // The tracker trains on clips through its own loop (src/tasks/video-tracking/run-training.ts).
    const { runTrackerTraining } = await import('./tasks/video-tracking/run-training');
    const { loadTrackerPlugin } = await import('./network/load-plugin');
    await runTrackerTraining({ paths, config, given, logger }, { network: loadTrackerPlugin(plugin.module) });
    return;
  }
  const { runTraining } = await import('./training/run');
  const { parseTrainEngine, TRAIN_ENGINE_ENV_VAR } = await import('./training/engine-factory');
  const { trainingTaskNamed } = await import('./tasks');
  await runTraining(
    { paths, config, given, logger },
    {
      networkModule: plugin.module,
      task: trainingTaskNamed(plugin.task),
      trainEngine: parseTrainEngine(process.env[TRAIN_ENGINE_ENV_VAR]),
    },
  );
}

void runMain(TRAIN_MAIN_NAME, main);
