/**
 * Reads a tfjs LayersModel into a plain, tfjs-free description of its graph: one node per layer call, in
 * topological order, with the layer's config, its weights copied out as Float32Arrays, and who consumes whom.
 * This is the only module of the exporter that touches tfjs; everything after it is pure data.
 */
import type * as tf from '@tensorflow/tfjs';
import { modelError } from '../errors';

/** A shape as tfjs reports it, NHWC for images; `null` is an unknown size (the batch, or a free dimension). */
export type Shape = readonly (number | null)[];

export interface WeightArray {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface GraphNode {
  /** Unique id of this call's output (the tfjs SymbolicTensor name, e.g. `conv1/Conv2D1`). */
  readonly id: string;
  readonly layerName: string;
  /** The tfjs class name, e.g. `Conv2D`, `BatchNormalization`, `InputLayer`. */
  readonly className: string;
  /** `layer.getConfig()`: plain JSON, as tfjs serialises it into model.json. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Weights by their short name (`kernel`, `bias`, `gamma`, `beta`, `moving_mean`, `moving_variance`). */
  readonly weights: ReadonlyMap<string, WeightArray>;
  /** Ids of the nodes this call reads, in argument order. */
  readonly inputs: readonly string[];
  readonly inputShapes: readonly Shape[];
  readonly outputShape: Shape;
}

export interface LayerGraph {
  /** Topological order: every node comes after its inputs. */
  readonly nodes: readonly GraphNode[];
  /** Ids of the model's inputs and outputs, in the model's order. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** For each id, how many node inputs read it (a model output is not counted here). */
  readonly consumerCount: ReadonlyMap<string, number>;
}

/**
 * Walks the model from its outputs through `SymbolicTensor.inputs` (public tfjs API; it is the same graph
 * `layer.inboundNodes` records, one SymbolicTensor per layer call, so shared layers are handled too).
 */
export function readLayerGraph(model: tf.LayersModel): LayerGraph {
  const nodes: GraphNode[] = [];
  const visited = new Set<number>();
  const idOf = (t: tf.SymbolicTensor): string => t.name;

  const visit = (t: tf.SymbolicTensor): void => {
    if (visited.has(t.id)) return;
    visited.add(t.id);
    for (const input of t.inputs) visit(input);
    nodes.push(toNode(t, idOf));
  };
  // Recursion depth is the graph's depth: a few dozen layers for our networks.
  for (const out of model.outputs) visit(out);

  const consumerCount = new Map<string, number>();
  for (const n of nodes) {
    for (const i of n.inputs) consumerCount.set(i, (consumerCount.get(i) ?? 0) + 1);
  }
  return {
    nodes,
    inputs: model.inputs.map(idOf),
    outputs: model.outputs.map(idOf),
    consumerCount,
  };
}

function toNode(t: tf.SymbolicTensor, idOf: (t: tf.SymbolicTensor) => string): GraphNode {
  const layer = t.sourceLayer;
  const className = layer.getClassName();
  if ((t.outputTensorIndex ?? 0) !== 0) {
    throw modelError(
      `layer "${layer.name}" (${className}) has several outputs; the ONNX exporter supports one`,
      {
        item: layer.name,
      },
    );
  }
  return {
    id: idOf(t),
    layerName: layer.name,
    className,
    config: layer.getConfig() as Record<string, unknown>,
    weights: readWeights(layer),
    inputs: t.inputs.map(idOf),
    inputShapes: t.inputs.map((i) => [...i.shape]),
    outputShape: [...t.shape],
  };
}

function readWeights(layer: tf.layers.Layer): Map<string, WeightArray> {
  const out = new Map<string, WeightArray>();
  for (const w of layer.weights) {
    const value = w.read();
    out.set(shortWeightName(w.originalName), {
      shape: [...value.shape],
      data: Float32Array.from(value.dataSync()),
    });
  }
  return out;
}

/** `unet/conv1/kernel_3` → `kernel`: tfjs scopes variable names and uniquifies them with a numeric suffix. */
export function shortWeightName(name: string): string {
  const last = name.slice(name.lastIndexOf('/') + 1);
  return last.replace(/_\d+$/, '');
}
