/**
 * The checkpoints a server serves, loaded once: at most one of each task (semantic segmentation, click-prompted
 * segmentation, mask tracking), each recognised by its config.json (`network`, then the plugin's task). A
 * checkpoint of a network the image does not ship, or two of one task, fail before the server listens.
 */
import os from 'node:os';
import path from 'node:path';
import { configError } from '../errors';
import { ImageAnnotator } from '../inference/image-annotator';
import type { EngineName } from '../inference/engine';
import { readModelConfig } from '../model-state/config';
import { networkSignature, pluginOfCheckpoint, type PluginEntry } from '../plugins';
import type { ClickSegmenter } from '../tasks/click-segmentation/segment';
import type { CheckpointTracker } from '../tasks/video-tracking/adapt';

export type ServedTask = 'semantic_segmentation' | 'click_segmentation' | 'video_tracking';

interface Served<T> {
  /** The checkpoint folder as given. */
  readonly dir: string;
  readonly plugin: PluginEntry;
  readonly model: T;
  /** config.json's extra keys (network, task, training figures): what get_deploy_info tells. */
  readonly config: Readonly<Record<string, unknown>>;
}

export interface ServedModels {
  readonly semantic?: Served<ImageAnnotator>;
  readonly clicks?: Served<ClickSegmenter>;
  readonly tracker?: Served<CheckpointTracker>;
}

export interface LoadModelsOptions {
  readonly checkpoints: readonly string[];
  readonly engine?: EngineName;
  /** Largest network batch of the semantic model (dynamic batching). */
  readonly batchSize?: number;
  /** Network threads of the semantic model; default one per core up to two. */
  readonly networkThreads?: number;
  /**
   * Start a partial network batch whenever a network thread is free (default true): requests to a server
   * trickle in, and with only one batch at a time the second thread would wait (bench:serve at concurrency 8).
   */
  readonly partialOnFreeThread?: boolean;
  /**
   * Test-time adaptation of the tracker (adapt.ts): this many training steps on each tracking's first frame and
   * masks before it tracks (default 0, none). Better on objects only texture tells apart, seconds a tracking.
   */
  readonly trackerAdaptSteps?: number;
  /** After each adaptation step (a server logs its progress). */
  readonly onAdaptStep?: (step: number, steps: number) => void;
}

/** The task a checkpoint folder holds, and its plugin, from config.json alone (nothing heavy is loaded). */
export async function checkpointTask(
  dir: string,
): Promise<{ task: ServedTask; plugin: PluginEntry; config: Record<string, unknown> }> {
  const file = `${dir}/config.json`;
  const config = await readModelConfig(dir, { displayName: file });
  const extra = { ...config.extra } as Record<string, unknown>;
  const plugin = pluginOfCheckpoint(extra, file);
  const task = plugin.task as ServedTask;
  return { task, plugin, config: { ...extra, network: plugin.name } };
}

export async function loadServedModels(opts: LoadModelsOptions): Promise<ServedModels> {
  if (opts.checkpoints.length === 0) {
    throw configError('give at least one --checkpoint DIR (a semantic, click or tracker checkpoint)');
  }
  const byTask = new Map<ServedTask, { dir: string; plugin: PluginEntry; config: Record<string, unknown> }>();
  for (const dir of opts.checkpoints) {
    const found = await checkpointTask(dir);
    const before = byTask.get(found.task);
    if (before !== undefined) {
      throw configError(
        `${before.dir} and ${dir} are both ${found.task} checkpoints; a server serves one model per task`,
        { file: `${dir}/config.json`, field: 'network' },
      );
    }
    byTask.set(found.task, { dir, ...found });
  }
  const models: {
    semantic?: Served<ImageAnnotator>;
    clicks?: Served<ClickSegmenter>;
    tracker?: Served<CheckpointTracker>;
  } = {};
  try {
    const semantic = byTask.get('semantic_segmentation');
    if (semantic !== undefined) {
      const model = await ImageAnnotator.load({
        modelDir: semantic.dir,
        displayName: semantic.dir,
        ...(opts.engine !== undefined ? { engine: opts.engine } : {}),
        ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
        ...(opts.networkThreads !== undefined ? { networkThreads: opts.networkThreads } : {}),
        partialOnFreeThread: opts.partialOnFreeThread ?? true,
        ...(semantic.plugin.legacyPreprocessing !== undefined
          ? { assumedPreprocessing: semantic.plugin.legacyPreprocessing }
          : {}),
        ...(semantic.plugin.signature !== undefined ? { signature: semantic.plugin.signature } : {}),
      });
      models.semantic = { ...semantic, model };
    }
    const clicks = byTask.get('click_segmentation');
    if (clicks !== undefined) {
      const { ClickSegmenter } = await import('../tasks/click-segmentation/segment');
      const { initBackend } = await import('../backend/select');
      await initBackend();
      const model = await ClickSegmenter.load(clicks.dir, {
        signatureOf: networkSignature,
        displayName: clicks.dir,
        ...(opts.engine !== undefined ? { engine: opts.engine } : {}),
        threads: 1,
      });
      models.clicks = { ...clicks, model };
    }
    const tracker = byTask.get('video_tracking');
    if (tracker !== undefined) {
      const { openCheckpointTracker } = await import('../tasks/video-tracking/adapt');
      const adaptSteps = opts.trackerAdaptSteps ?? 0;
      const ort =
        opts.engine === 'tfjs' ? undefined : await (await import('../onnx/runtime')).loadOnnxRuntime();
      // One tracking at a time holds the tracker (the server's tracking turn), as an adapted copy needs.
      const model = await openCheckpointTracker(tracker.dir, {
        engine: ort === undefined ? 'tfjs' : 'onnxruntime',
        ...(ort !== undefined ? { ort } : {}),
        threads: os.availableParallelism(),
        adapt: {
          steps: adaptSteps,
          ...(opts.onAdaptStep !== undefined ? { onStep: opts.onAdaptStep } : {}),
        },
      });
      models.tracker = { ...tracker, model };
    }
  } catch (e) {
    await closeServedModels(models);
    throw e;
  }
  return models;
}

export async function closeServedModels(models: ServedModels): Promise<void> {
  await models.semantic?.model.close();
  await models.clicks?.model.dispose();
  await models.tracker?.model.close();
}

/** A checkpoint's name for get_deploy_info: its folder's name. */
export function checkpointName(dir: string): string {
  return path.basename(path.resolve(dir));
}
