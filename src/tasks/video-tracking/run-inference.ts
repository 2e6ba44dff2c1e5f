/**
 * inference.py with a tracker checkpoint in model/: the input is a Supervisely video project, and every object
 * annotated on its first annotated frame is tracked to the end of its video (trackVideoProject). The result, the
 * same project with a bitmap figure per object per frame, is written in a temporary folder and renamed to
 * results/<project name>, then "model applied" is printed. Progress per frame. The checkpoint runs on
 * onnxruntime when it loads, else on tfjs.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { readSingleVideoProject } from '../../format/video-project-reader';
import { tryLoadOnnxRuntime, type OrtLoader } from '../../onnx/runtime';
import { reportModelApplied } from '../../protocol/events';
import type { Logger } from '../../protocol/logger';
import { Progress } from '../../protocol/progress';
import type { TaskPaths } from '../../task/paths';
import { readVideoFrames } from '../../video/reader';
import { trackVideoProject } from './track-video-project';
import { stopRequests } from '../../protocol/stop';
import { configError } from '../../errors';
import { isJsonObject } from '../../format/json-fields';
import { readTaskConfigIfPresent } from '../../task/task-config';
import { openCheckpointTracker } from './adapt';

export const TRACKING_SUBTASK = 'Tracking frames: ';

export async function runTrackingInference(
  ctx: { paths: TaskPaths; logger: Logger },
  opts: { loadOrt?: OrtLoader; engine?: 'onnxruntime' | 'tfjs' } = {},
): Promise<void> {
  const { paths, logger } = ctx;
  const project = await readSingleVideoProject(paths.data);
  const adaptSteps = await readAdaptSteps(paths);
  const ort = opts.engine === 'tfjs' ? null : await tryLoadOnnxRuntime(opts.loadOrt);
  const engine = ort !== null && ort.ok ? 'onnxruntime' : 'tfjs';
  // With adaptation each video gets its own adapted copy of the models (adapt.ts); without, one engine serves all.
  const tracker = await openCheckpointTracker(paths.model, {
    engine,
    ...(ort !== null && ort.ok ? { ort: ort.ort } : {}),
    threads: os.cpus().length,
    adapt: {
      steps: adaptSteps,
      onStep: (step, steps) => logger.debug('Adapting to the first frame', { step, steps }),
    },
  });
  logger.info('Tracker loaded.', {
    engine,
    ...(ort !== null && !ort.ok ? { onnxruntime: ort.reason } : {}),
    short_side: tracker.options.shortSide,
    trained_steps: tracker.config.tracker.steps,
    adapt_steps: adaptSteps,
  });
  let progress: Progress | undefined;
  // A stop (SIGTERM) is seen between frames; the temporary results folder is then removed.
  const stopListening = stopRequests.listen(() => undefined);
  try {
    const summary = await trackVideoProject({
      projectDir: project.root,
      resultDir: path.join(paths.results, project.name),
      makeTracker: tracker.make,
      openFrames: (file) => readVideoFrames(file),
      logger,
      onProgress: (done, total) => {
        progress ??= Progress.start({ logger, subtask: TRACKING_SUBTASK, total });
        progress.setCurrent(done);
      },
    });
    logger.info('Tracking finished.', { ...summary });
  } finally {
    stopListening();
    await tracker.close();
  }
  reportModelApplied(logger);
}

/**
 * `tracking.adapt_steps` of task_config.json (default 0): steps of test-time adaptation to each video's first
 * frame (adapt.ts). The only key a tracker's inference reads; no config file at all means the defaults.
 */
async function readAdaptSteps(paths: TaskPaths): Promise<number> {
  const found = await readTaskConfigIfPresent(paths);
  const tracking = found?.raw.tracking;
  if (found === undefined || tracking === undefined) return 0;
  if (!isJsonObject(tracking)) {
    throw configError(`expected an object such as {"adapt_steps": 20}, got ${JSON.stringify(tracking)}`, {
      file: found.file,
      field: 'tracking',
    });
  }
  const value = tracking.adapt_steps;
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1000) {
    throw configError(
      `expected an integer from 0 to 1000 (steps of adaptation to each video's first frame), got ${JSON.stringify(value)}`,
      { file: found.file, field: 'tracking.adapt_steps' },
    );
  }
  return value;
}
