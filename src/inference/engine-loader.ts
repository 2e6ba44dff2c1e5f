/**
 * Loading a checkpoint's network into an inference engine: the one sequence both places that run the network
 * use (the network thread, and the main thread when there is no thread). Load model.json + weights.bin,
 * check them against config.json, choose the engine, and keep the tfjs model only while the engine needs it.
 */
import { loadCheckpointModel, type InferenceCheckpoint } from './checkpoint';
import { chooseEngine, type EngineName, type SegmentationEngine } from './engine';
import type { EngineReport } from './network-thread';

export interface LoadEngineOptions {
  readonly checkpoint: InferenceCheckpoint;
  readonly modelDir: string;
  readonly engine?: EngineName;
  readonly intraOpNumThreads: number;
}

export interface LoadedEngine {
  readonly engine: SegmentationEngine;
  readonly report: EngineReport;
  /** Disposes the engine and, if it kept it, the tfjs model. */
  close(): Promise<void>;
}

export async function loadEngine(opts: LoadEngineOptions): Promise<LoadedEngine> {
  const model = await loadCheckpointModel(opts.checkpoint, { dir: opts.modelDir, displayName: 'model' });
  let choice: Awaited<ReturnType<typeof chooseEngine>>;
  try {
    choice = await chooseEngine({
      model,
      ...(opts.engine !== undefined ? { force: opts.engine } : {}),
      intraOpNumThreads: opts.intraOpNumThreads,
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  if (!choice.needsTfjsModel) model.dispose();
  const { engine } = choice;
  return {
    engine,
    report: {
      name: engine.name,
      description: engine.description,
      reason: choice.reason,
      notChosen: choice.notChosen,
    },
    close: async () => {
      await engine.dispose();
      if (choice.needsTfjsModel) model.dispose();
    },
  };
}
