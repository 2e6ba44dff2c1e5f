/**
 * inference.py with a tracker checkpoint in model/: the input is a Supervisely video project, and every object
 * annotated on its first annotated frame is tracked to the end of its video (trackVideoProject). The result, the
 * same project with a bitmap figure per object per frame, is written in a temporary folder and renamed to
 * results/<project name>, then "model applied" is printed. Progress per frame. The checkpoint runs on
 * onnxruntime when it loads, else on tfjs.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../backend/select';
import { readSingleVideoProject } from '../../format/video-project-reader';
import { tryLoadOnnxRuntime, type OrtLoader } from '../../onnx/runtime';
import { reportModelApplied } from '../../protocol/events';
import type { Logger } from '../../protocol/logger';
import { Progress } from '../../protocol/progress';
import type { TaskPaths } from '../../task/paths';
import { readVideoFrames } from '../../video/reader';
import { MatchTracker } from './match-tracker';
import { loadTracker, type LoadedTracker } from './tracker-checkpoint';
import { trackVideoProject } from './track-video-project';
import { stopRequests } from '../../protocol/stop';

export const TRACKING_SUBTASK = 'Tracking frames: ';

export async function runTrackingInference(
  ctx: { paths: TaskPaths; logger: Logger },
  opts: { loadOrt?: OrtLoader; engine?: 'onnxruntime' | 'tfjs' } = {},
): Promise<void> {
  const { paths, logger } = ctx;
  const project = await readSingleVideoProject(paths.data);
  const ort = opts.engine === 'tfjs' ? null : await tryLoadOnnxRuntime(opts.loadOrt);
  let loaded: LoadedTracker;
  if (ort !== null && ort.ok) {
    loaded = await loadTracker(paths.model, {
      engine: 'onnxruntime',
      ort: ort.ort,
      threads: os.cpus().length,
    });
  } else {
    await initBackend();
    loaded = await loadTracker(paths.model, { engine: 'tfjs' });
  }
  logger.info('Tracker loaded.', {
    engine: loaded.engine.name,
    ...(ort !== null && !ort.ok ? { onnxruntime: ort.reason } : {}),
    short_side: loaded.options.shortSide,
    trained_steps: loaded.config.tracker.steps,
  });
  let progress: Progress | undefined;
  // A stop (SIGTERM) is seen between frames; the temporary results folder is then removed.
  const stopListening = stopRequests.listen(() => undefined);
  try {
    const summary = await trackVideoProject({
      projectDir: project.root,
      resultDir: path.join(paths.results, project.name),
      makeTracker: (first, mask) => MatchTracker.create(loaded.engine, first, mask, loaded.options),
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
    await loaded.engine.dispose();
  }
  reportModelApplied(logger);
}
