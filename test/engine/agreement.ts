/**
 * Whether an engine takes the steps of the tfjs in-process engine (the autodiff reference): three steps from the
 * same weights give the same losses, pixels and weights, and the same validation loss, within `tolerance`. The
 * onnxruntime and data-parallel engines are made here for a network plugin's setup.
 */
import type * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { DataParallelEngine } from '../../src/training/engine/data-parallel';
import { InProcessEngine, type InProcessEngineOptions } from '../../src/training/engine/in-process';
import { OnnxTrainEngine } from '../../src/training/engine/onnx-engine';
import type { Batch, TrainEngine } from '../../src/training/engine/types';
import { maxRelativeDifference, weightsOf } from './tiny-model';

export interface EngineSetup {
  /** Every engine option but the model. */
  readonly options: () => Omit<InProcessEngineOptions, 'model'>;
  /** How the data-parallel workers build the network. */
  readonly replica: {
    pluginModule: string;
    buildOptions: { inputSize: { height: number; width: number }; numClasses: number; settings: unknown };
  };
  readonly build: () => tf.LayersModel;
  readonly batch: (seed: number) => Batch;
}

export type MakeEngine = (model: tf.LayersModel) => Promise<TrainEngine>;

/** The onnxruntime engine (one intra-op thread; its session in its own thread or not) for the setup. */
export const onnxruntimeEngine =
  (setup: EngineSetup, ownThread?: boolean): MakeEngine =>
  (model) =>
    OnnxTrainEngine.create({ ...setup.options(), model, ort, threads: 1, ownThread });

/** The data-parallel engine with one worker building the network from the setup's plugin. */
export const dataParallelEngine =
  (setup: EngineSetup): MakeEngine =>
  (model) =>
    DataParallelEngine.create({ ...setup.options(), model, replica: setup.replica, workers: 1 });

export async function agreesWithInProcess(
  setup: EngineSetup,
  make: MakeEngine,
  tolerance: number,
  /** More checks on the engine before it is disposed. */
  also?: (engine: TrainEngine) => Promise<void>,
): Promise<void> {
  const [a, b] = [setup.build(), setup.build()];
  b.setWeights(a.getWeights());
  const engine = await make(a);
  const reference = new InProcessEngine({ ...setup.options(), model: b, microBatches: 2 });
  try {
    for (let step = 0; step < 3; step++) {
      const r1 = await engine.trainStep(setup.batch(10 + step));
      const r2 = await reference.trainStep(setup.batch(10 + step));
      expect(r1.applied).toBe(true);
      expect(Math.abs(r1.loss - r2.loss) / r2.loss).toBeLessThan(tolerance);
      expect(r1.pixels).toBe(r2.pixels);
    }
    expect(maxRelativeDifference(weightsOf(a), weightsOf(b))).toBeLessThan(tolerance);
    const [e1, e2] = [await engine.evalStep(setup.batch(99)), await reference.evalStep(setup.batch(99))];
    expect(Math.abs(e1.loss - e2.loss) / e2.loss).toBeLessThan(tolerance);
    await also?.(engine);
  } finally {
    await engine.dispose();
    await reference.dispose();
    a.dispose();
    b.dispose();
  }
}
