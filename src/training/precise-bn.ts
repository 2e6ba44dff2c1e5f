/**
 * Precise batch norm (detectron2's PreciseBN hook; Wu and Johnson, "Rethinking 'Batch' in BatchNorm", 2021):
 * before a model is validated and saved, each batch-norm layer's moving mean and variance become the plain
 * average of its batch statistics over a number of training batches, run forward only; the weights are untouched.
 *
 * Why: the moving averages (momentum 0.99) weigh the last hundred or so batches, so with small batches they wander
 * from checkpoint to checkpoint, and so does every figure measured with them. Measured on the tracker's 9000- and
 * 10000-step checkpoints (unadapted J&F on three held-out sets of 96, 48 and 32 clips; 400 batches):
 * 0.719 / 0.711 / 0.762 → 0.713 / 0.711 / 0.773, and 0.699 / 0.703 / 0.757 → 0.717 / 0.711 / 0.771 (200 batches:
 * 0.717 and 0.722 on the first set, two draws). The checkpoints stop being draws of the averages.
 *
 * The training forward pass updates the moving statistics as usual (tfjs's BatchNormalization does it in `call`
 * with `training`); here each layer's momentum is set before each of its calls to 1 - 1/n, n counting its calls,
 * which makes the moving value the mean over the calls (a layer called twice a batch counts both). The momentum and
 * the layer's own `call` are restored afterwards, also when the forward pass throws.
 */
import type * as tf from '@tensorflow/tfjs';
import { yieldToEventLoop } from './trainer';

/** A layer as precise BN reaches into it: tfjs's fields, read-only in its types, are plain properties. */
interface MutableBatchNorm {
  momentum: number;
  call: (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];
}

/** Every BatchNormalization layer of the models, nested models included. */
export function batchNormLayers(models: readonly tf.LayersModel[]): tf.layers.Layer[] {
  const found: tf.layers.Layer[] = [];
  const visit = (layer: tf.layers.Layer): void => {
    if (layer.getClassName() === 'BatchNormalization') found.push(layer);
    const inner = (layer as unknown as { layers?: tf.layers.Layer[] }).layers;
    if (Array.isArray(inner)) for (const l of inner) visit(l);
  };
  for (const m of models) for (const l of m.layers) visit(l);
  return found;
}

/**
 * Runs `forward(i)` for i = 0 .. batches - 1 (each must call the models with `training: true` and dispose what it
 * makes) with every batch-norm layer of `models` averaging its batch statistics. Between batches the event loop
 * gets a turn, and `shouldStop` (a stop request) ends the pass early: the statistics are then the average over
 * the batches run, which is still an average. Returns the batch-norm layers set and the batches run; no layers
 * or no batches: nothing runs.
 */
export async function preciseBatchNorm(
  models: readonly tf.LayersModel[],
  batches: number,
  forward: (i: number) => Promise<void> | void,
  shouldStop: () => boolean = () => false,
): Promise<{ layers: number; batches: number }> {
  const layers = batchNormLayers(models);
  if (layers.length === 0 || batches <= 0) return { layers: 0, batches: 0 };
  const saved = layers.map((layer) => {
    const bn = layer as unknown as MutableBatchNorm;
    const momentum = bn.momentum;
    const call = bn.call.bind(layer);
    let calls = 0;
    bn.call = (inputs, kwargs) => {
      calls += 1;
      bn.momentum = 1 - 1 / calls;
      return call(inputs, kwargs);
    };
    return { bn, momentum };
  });
  let run = 0;
  try {
    for (; run < batches; run++) {
      await yieldToEventLoop();
      if (shouldStop()) break;
      await forward(run);
    }
  } finally {
    for (const { bn, momentum } of saved) {
      // The instance property shadowed the prototype's call; deleting it restores the layer as it was.
      delete (bn as Partial<MutableBatchNorm>).call;
      bn.momentum = momentum;
    }
  }
  return { layers: layers.length, batches: run };
}
