/**
 * The contract between the runtime and a segmentation network plugin. The runtime builds, trains, saves and
 * transfers models only through this interface, so a second network is one more module exporting `network`,
 * with no change to the runtime.
 */
import type * as tf from '@tensorflow/tfjs';

export interface InputSize {
  height: number;
  width: number;
}

/** A JSON Schema object (draft-07, what ajv 8 validates by default). */
export type JsonSchema = Readonly<Record<string, unknown>>;

export interface NetworkBuildOptions<S> {
  inputSize: InputSize;
  /** Output channels: max(class_title_to_idx) + 1. */
  numClasses: number;
  /** The network's own settings, as returned by `parseSettings`. */
  settings: S;
}

export interface NetworkHeadOptions<S> {
  numClasses: number;
  settings: S;
}

/**
 * One named input tensor of the network, NHWC at the input size: the engines bind a batch's tensor of this name
 * to the model's input at the same position. A tensor may pack several named parts along its channels, in
 * order (the click network's one input holds the image, the click maps and the previous mask).
 */
export interface NamedInput {
  readonly name: string;
  readonly channels: number;
  /** The parts packed along the channels, when there are several; their channels add up to `channels`. */
  readonly parts?: readonly NamedInput[];
}

/** What a plain segmentation network takes: the RGB image alone. */
export const IMAGE_INPUT: readonly NamedInput[] = [{ name: 'image', channels: 3 }];

/** What a segmentation network gives: one tensor of class scores (the name the ONNX export gives it too). */
export const SCORES_OUTPUT: readonly string[] = ['scores'];

/** The named parts a network takes, in channel order over its inputs (what a task must feed). */
export function inputParts(inputs: readonly NamedInput[]): NamedInput[] {
  return inputs.flatMap((i) => i.parts ?? [i]);
}

/** What a network declares it takes and gives, by name, in the model's order. */
export type NetworkSignature = Pick<SegmentationNetwork, 'inputs' | 'outputs'>;

/** The names of a network's model inputs and outputs, in the model's order (see src/network/tensors.ts). */
export function networkTensorNames(network: NetworkSignature): {
  inputs: string[];
  outputs: string[];
} {
  return { inputs: network.inputs.map((i) => i.name), outputs: [...network.outputs] };
}

/** Per-channel normalisation applied to RGB values scaled to [0, 1]: (x / 255 - mean) / std. */
export interface Preprocessing {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/**
 * A segmentation network. The built model takes NHWC float32 images (RGB, normalised with `preprocessing`)
 * of `inputSize` and returns softmax probabilities NHWC `[n, height, width, numClasses]`.
 *
 * Layer names must be explicit, unique and stable across builds with the same settings: saved weights,
 * transfer learning and the ONNX export find layers by name.
 */
export interface SegmentationNetwork<S = unknown> {
  /** Short identifier, e.g. `unet`; recorded in checkpoints, chosen by `network` in the training config. */
  readonly name: string;
  /** The task this network is built for (e.g. `semantic_segmentation`); the task layer checks it. */
  readonly task: string;
  /** The model's input tensors by name, in the model's input order (see NamedInput). */
  readonly inputs: readonly NamedInput[];
  /** The model's output tensors by name, in the model's output order (SCORES_OUTPUT for a segmenter). */
  readonly outputs: readonly string[];
  /** The defaults of `custom_model_config`. */
  readonly defaults: Readonly<S>;
  /** JSON Schema of `custom_model_config` (merged into the training config schema by the runtime). */
  readonly settingsSchema: JsonSchema;
  /** The layers `buildHead` creates, in graph order; the first one takes the backbone's feature tensor. */
  readonly headLayerNames: readonly string[];
  readonly preprocessing: Preprocessing;
  /**
   * `custom_model_config` as found in the training config (possibly partial, or absent) merged over the
   * defaults and checked. Throws a config TaskError naming the field.
   */
  parseSettings(raw: unknown): S;
  /** Builds a freshly initialised model. Throws a config TaskError if the input size does not suit. */
  build(opts: NetworkBuildOptions<S>): tf.LayersModel;
  /**
   * Adds a freshly initialised head on the backbone's features, with the layer names in `headLayerNames`.
   * `build` uses it too, so transfer learning gets exactly the head a fresh model has.
   */
  buildHead(features: tf.SymbolicTensor, opts: NetworkHeadOptions<S>): tf.SymbolicTensor;
}

/** What the runtime handles: a network whose settings type it does not know. */
export type AnyNetwork = SegmentationNetwork<unknown>;

/** The shape of a plugin module (e.g. `plugin/unet`): it exports its network as `network`. */
export interface NetworkPluginModule {
  network: AnyNetwork;
}

/**
 * The matching maps a tracker's decoder reads per object, at the encoder's stride 8, in this channel order
 * (computed by the video-tracking task): the distance to the nearest reference pixel of the object and of
 * everything else in the given frames and the object's share of the labels carried by a softmax over distances
 * (global), the same three in a window of the previous frame (local), and the previous frame's mask.
 */
export const TRACKER_MATCH_CHANNELS = [
  'global_object',
  'global_other',
  'global_carried',
  'local_object',
  'local_other',
  'local_carried',
  'previous_mask',
];

/**
 * A mask tracker's learnt parts (task `video_tracking`). The task matches pixel embeddings between frames; the
 * network supplies the embedding (encoder) and reads the matching maps (decoder). Both are layer models so
 * either engine runs them and the ONNX exporter writes them; the matching between them is the task's.
 */
export interface TrackerNetwork<S = unknown> {
  readonly name: string;
  readonly task: string;
  readonly defaults: Readonly<S>;
  readonly settingsSchema: JsonSchema;
  /** RGB normalisation of the encoder's input. */
  readonly preprocessing: Preprocessing;
  parseSettings(raw: unknown): S;
  /**
   * Image [n, h, w, 3] (h and w multiples of 8, free) → [f4 [n, h/4, w/4, *] skip features, f8 [n, h/8, w/8, *]
   * features, key [n, h/8, w/8, keyChannels] the embedding before L2 normalisation].
   */
  buildEncoder(settings: S): tf.LayersModel;
  /** [f8, match [n, h/8, w/8, TRACKER_MATCH_CHANNELS.length], f4] → the object's logits [n, h/4, w/4, 1]. */
  buildDecoder(settings: S): tf.LayersModel;
}

export type AnyTrackerNetwork = TrackerNetwork<unknown>;
