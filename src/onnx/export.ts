/**
 * Exports a tfjs LayersModel (the layers our segmentation networks use) to an ONNX model, opset 13.
 *
 * Layout: the ONNX graph takes and returns NHWC tensors, exactly as the tfjs model does, so one normalised
 * batch feeds either engine and the same postprocessing reads either output. Inside, the graph transposes to
 * NCHW once at each input and back once at each output, because ONNX's Conv, ConvTranspose and MaxPool only
 * exist channels-first; two transposes per image cost far less than a conv, and onnxruntime's layout
 * optimiser moves them anyway.
 */
import type * as tf from '@tensorflow/tfjs';
import { modelError } from '../errors';
import { GraphBuilder, OPSET, type Dim, type ValueInfo } from './graph-builder';
import { readLayerGraph, type GraphNode, type LayerGraph, type Shape } from './layer-graph';
import { canFoldBatchNormInto, CONVERTERS, type ConvertContext } from './layer-converters';
import { NCHW_TO_NHWC, NHWC_TO_NCHW, readBatchNorm } from './lowering';
import type { BatchNormParams } from './tensor-math';
import { modelWeightsHash, WEIGHTS_HASH_KEY } from './weights-hash';

/**
 * The ONNX metadata key that records which version of this exporter wrote the graph, and the current version.
 * A graph from an older version still computes the same scores, but inference exports the network again rather
 * than run it (onnx-reuse.ts), so that an old checkpoint gets the current, faster graph. Bump it whenever the
 * graph written for the same network changes. 2: the output softmax runs after the NHWC transpose.
 */
export const EXPORTER_VERSION_KEY = 'exporter_version';
export const EXPORTER_VERSION = 2;

export interface OnnxExportOptions {
  /** Names of the graph inputs; default `input` for a single-input model, else the tfjs input layer names. */
  readonly inputNames?: readonly string[];
  /** Names of the graph outputs; default `scores` for a single-output model, else the tfjs output layer names. */
  readonly outputNames?: readonly string[];
  /** Fold each batch norm into the conv before it when that conv is linear and has no other consumer. */
  readonly foldBatchNorm?: boolean;
  /** Stored as ONNX metadata_props (e.g. the class map); readable from any onnxruntime binding. */
  readonly metadata?: Readonly<Record<string, string>>;
  readonly graphName?: string;
}

export interface OnnxExport {
  /** The serialised ModelProto, ready for `InferenceSession.create(bytes)` or a `.onnx` file. */
  readonly bytes: Uint8Array;
  /** NHWC, with `N` (and `H`/`W` when the model leaves them free) as symbolic dimensions. */
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  readonly opset: number;
  /** Layer names of the batch norms folded into a conv. */
  readonly foldedBatchNorms: readonly string[];
}

/**
 * Exports a model; its metadata also records the weights' hash (`weights_sha256`, weights-hash.ts), so a
 * model.onnx saved beside model.json + weights.bin can be checked against them without loading the network.
 */
export function exportToOnnx(model: tf.LayersModel, options: OnnxExportOptions = {}): OnnxExport {
  const graph = readLayerGraph(model);
  checkExportable(graph); // an unsupported layer fails before the weights are read
  const hash = modelWeightsHash(model);
  return exportLayerGraph(graph, {
    graphName: model.name,
    ...options,
    metadata: { ...(hash === null ? {} : { [WEIGHTS_HASH_KEY]: hash }), ...options.metadata },
  });
}

/** The supported tfjs classes (plus InputLayer), for messages and documentation. */
export const SUPPORTED_LAYER_CLASSES: readonly string[] = ['InputLayer', ...Object.keys(CONVERTERS)];

/**
 * Throws the model error `exportToOnnx` would throw for an unsupported layer class, without building anything.
 * A cheap pre-check for callers that choose an engine.
 */
export function checkExportable(graph: LayerGraph): void {
  for (const n of graph.nodes) {
    if (n.className !== 'InputLayer' && !(n.className in CONVERTERS)) throw unsupportedClass(n);
  }
}

export function exportLayerGraph(graph: LayerGraph, options: OnnxExportOptions = {}): OnnxExport {
  checkExportable(graph);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const consumers = consumersOf(graph);
  const b = new GraphBuilder();
  const onnxName = new Map<string, string>();

  const inputNames = names(options.inputNames, graph.inputs, 'input', byId, 'inputNames');
  const outputNames = names(options.outputNames, graph.outputs, 'scores', byId, 'outputNames');
  inputNames.forEach((n) => b.reserve(n));
  outputNames.forEach((n) => b.reserve(n));

  const inputs: ValueInfo[] = graph.inputs.map((id, i) => {
    const node = byId.get(id) as GraphNode;
    const nhwc = requireRank4(node, node.outputShape);
    const nchw = b.fresh(`${node.layerName}/nchw`);
    b.node('Transpose', [inputNames[i]], [nchw], { perm: NHWC_TO_NCHW });
    onnxName.set(id, nchw);
    return { name: inputNames[i], dims: dims(nhwc) };
  });

  const ctx: ConvertContext = {
    builder: b,
    input(node, i) {
      const name = onnxName.get(node.inputs[i]);
      if (name === undefined)
        throw new Error(`ONNX exporter: input ${i} of ${node.layerName} was not converted`);
      return name;
    },
  };
  const folded: string[] = [];
  const skip = new Set<string>();
  for (const node of graph.nodes) {
    if (node.className === 'InputLayer' || skip.has(node.id)) continue;
    for (const s of node.inputShapes) requireRank4(node, s);
    const bn = options.foldBatchNorm === false ? undefined : foldableBatchNorm(node, graph, consumers);
    let foldedBatchNorm: BatchNormParams | undefined;
    let producedId = node.id;
    if (bn !== undefined) {
      foldedBatchNorm = readBatchNorm(bn);
      producedId = bn.id;
      skip.add(bn.id);
      folded.push(bn.layerName);
    }
    const producer = byId.get(producedId) as GraphNode;
    const output = b.fresh(producer.layerName);
    CONVERTERS[node.className](node, ctx, { output, foldedBatchNorm });
    onnxName.set(producedId, output);
  }

  const outputs: ValueInfo[] = graph.outputs.map((id, i) => {
    const node = byId.get(id) as GraphNode;
    const nhwc = requireRank4(node, node.outputShape);
    emitNhwcOutput(b, onnxName.get(id) as string, outputNames[i]);
    return { name: outputNames[i], dims: dims(nhwc) };
  });

  const bytes = b.toModelProto({
    inputs,
    outputs,
    graphName: options.graphName ?? 'model',
    docString: 'Exported from a TensorFlow.js LayersModel. Inputs and outputs are NHWC float32.',
    metadata: { layout: 'NHWC', [EXPORTER_VERSION_KEY]: String(EXPORTER_VERSION), ...options.metadata },
  });
  return { bytes, inputs, outputs, opset: OPSET, foldedBatchNorms: folded };
}

/**
 * Writes the graph output `name`: `value` (NCHW) transposed to NHWC. When `value` is a channel softmax read by
 * nothing else, the transpose moves before it and the softmax runs on the last axis, giving the same values bit
 * for bit: onnxruntime runs a softmax on a non-last axis between two transposes of its own, and its NCHWc
 * optimiser can then fold the output transpose into the last conv's reorder. Measured on the bench U-Net
 * (128x128, batch 8, one thread): the softmax fell from 14.5 to 3.6 ms per batch, about 0.9 ms of CPU per image.
 */
function emitNhwcOutput(b: GraphBuilder, value: string, name: string): void {
  const producer = b.unreadProducer(value);
  const x = producer?.input?.[0];
  const axis = producer?.attribute?.find((a) => a.name === 'axis')?.i;
  if (
    producer?.opType !== 'Softmax' ||
    Number(axis) !== 1 ||
    producer.output?.length !== 1 ||
    typeof x !== 'string'
  ) {
    b.node('Transpose', [value], [name], { perm: NCHW_TO_NHWC });
    return;
  }
  b.remove(producer);
  const nhwc = b.fresh(`${value}/nhwc`);
  b.node('Transpose', [x], [nhwc], { perm: NCHW_TO_NHWC });
  b.node('Softmax', [nhwc], [name], { axis: -1 }, producer.name ?? undefined);
}

/** The batch norm that may be folded into `node`: its only consumer, when `node` is a linear conv not itself an output. */
function foldableBatchNorm(
  node: GraphNode,
  graph: LayerGraph,
  consumers: ReadonlyMap<string, GraphNode[]>,
): GraphNode | undefined {
  if (!canFoldBatchNormInto(node) || graph.outputs.includes(node.id)) return undefined;
  const readers = consumers.get(node.id) ?? [];
  if (readers.length !== 1 || readers[0].className !== 'BatchNormalization') return undefined;
  return readers[0];
}

function consumersOf(graph: LayerGraph): Map<string, GraphNode[]> {
  const out = new Map<string, GraphNode[]>();
  for (const n of graph.nodes) {
    for (const i of n.inputs) {
      const list = out.get(i) ?? [];
      list.push(n);
      out.set(i, list);
    }
  }
  return out;
}

function unsupportedClass(n: GraphNode): Error {
  return modelError(
    `ONNX export: layer "${n.layerName}" has class ${n.className}, which the exporter does not support ` +
      `(supported: ${SUPPORTED_LAYER_CLASSES.join(', ')})`,
    { item: n.layerName },
  );
}

function requireRank4(node: GraphNode, shape: Shape): Shape {
  if (shape.length !== 4) {
    throw modelError(
      `ONNX export: layer "${node.layerName}" (${node.className}) works on a rank-${shape.length} tensor; ` +
        `the exporter supports rank-4 image tensors only`,
      { item: node.layerName },
    );
  }
  return shape;
}

/** NHWC dims with symbolic names for unknown sizes. */
function dims(shape: Shape): Dim[] {
  const symbols = ['N', 'H', 'W', 'C'];
  return shape.map((d, i) => d ?? symbols[i]);
}

function names(
  given: readonly string[] | undefined,
  ids: readonly string[],
  single: string,
  byId: ReadonlyMap<string, GraphNode>,
  field: string,
): string[] {
  if (given !== undefined) {
    if (given.length !== ids.length || new Set(given).size !== given.length) {
      throw modelError(
        `ONNX export: ${field} needs ${ids.length} distinct names, got ${JSON.stringify(given)}`,
        {
          field,
        },
      );
    }
    return [...given];
  }
  if (ids.length === 1) return [single];
  return ids.map((id) => (byId.get(id) as GraphNode).layerName);
}
