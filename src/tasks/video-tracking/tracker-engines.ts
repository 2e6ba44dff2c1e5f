/**
 * The two engines a trained tracker runs on, behind one interface: tfjs (the layer models and matching.ts's ops;
 * validation during training uses it) and onnxruntime (encoder.onnx and decoder.onnx exported from the same
 * models, and match-graph.ts). Per frame: encode once, match every object at once, decode the objects as one
 * batch. What a tracker remembers between frames (keys and labels) is plain arrays outside the graphs, so the
 * graphs are static per frame and memory does not grow with the video.
 */
import * as tf from '@tensorflow/tfjs';
import type * as Ort from 'onnxruntime-node';
import { exportToOnnx } from '../../onnx/export';
import { sessionOptions, type OrtModule } from '../../onnx/runtime';
import { TRACKER_MATCH_CHANNELS } from '../../network/types';
import { buildMatchGraph } from './match-graph';
import { distanceMatrix, matchMaps } from './matching';

/** A frame through the encoder: its unit keys [P, C] for matching, and the features the decoder reads. */
export interface EncodedFrame {
  readonly key: Float32Array;
  readonly h8: number;
  readonly w8: number;
  readonly keyChannels: number;
  /** Engine-specific: the stride-4 and stride-8 features. */
  readonly features: unknown;
}

export interface References {
  /** [R, C] unit keys. */
  keys: Float32Array;
  /** [K, R]: 1 where the reference pixel is object k. */
  labels: Float32Array;
  count: number;
}

export interface TrackerEngine {
  readonly name: 'tfjs' | 'onnxruntime';
  /** A normalised NHWC image [1, height, width, 3], sides multiples of 8. */
  encode(image: Float32Array, height: number, width: number): Promise<EncodedFrame>;
  /** → [K, P, 6]: global object, other, carried; local object, other, carried (match-graph.ts). */
  match(
    frame: EncodedFrame,
    global: References,
    local: References,
    window: Float32Array,
    k: number,
  ): Promise<Float32Array>;
  /** `match` [K, h8, w8, MATCH_INPUT] (the six maps and the previous mask) → logits [K, h4, w4]. */
  decode(frame: EncodedFrame, match: Float32Array, k: number): Promise<Float32Array>;
  release(frame: EncodedFrame): void;
  dispose(): Promise<void>;
}

/** Scales each row of [P, C] to unit length (in place). */
export function normaliseRows(x: Float32Array, channels: number): Float32Array {
  for (let o = 0; o < x.length; o += channels) {
    let s = 0;
    for (let c = 0; c < channels; c++) s += x[o + c] * x[o + c];
    const inv = 1 / (Math.sqrt(s) + 1e-6);
    for (let c = 0; c < channels; c++) x[o + c] *= inv;
  }
  return x;
}

export class TfjsTrackerEngine implements TrackerEngine {
  readonly name = 'tfjs';
  constructor(
    private readonly encoder: tf.LayersModel,
    private readonly decoder: tf.LayersModel,
  ) {}

  async encode(image: Float32Array, height: number, width: number): Promise<EncodedFrame> {
    const [f4, f8, key] = tf.tidy(() => {
      const out = this.encoder.predict(tf.tensor4d(image, [1, height, width, 3])) as tf.Tensor[];
      return out;
    });
    const [, h8, w8, c] = key.shape;
    const data = normaliseRows((await key.data()) as Float32Array, c);
    key.dispose();
    return { key: data, h8, w8, keyChannels: c, features: { f4, f8 } };
  }

  async match(
    frame: EncodedFrame,
    global: References,
    local: References,
    window: Float32Array,
    k: number,
  ): Promise<Float32Array> {
    const p = frame.h8 * frame.w8;
    const c = frame.keyChannels;
    const out = tf.tidy(() => {
      const q = tf.tensor3d(frame.key, [1, p, c]);
      const side = (r: References, penalty?: tf.Tensor2D): tf.Tensor3D =>
        matchMaps(
          distanceMatrix(q, tf.tensor3d(r.keys, [1, r.count, c])),
          tf.tensor2d(r.labels, [k, r.count]),
          penalty,
        );
      return tf.concat([side(global), side(local, tf.tensor2d(window, [p, local.count]))], 2);
    });
    const data = (await out.data()) as Float32Array;
    out.dispose();
    return data;
  }

  async decode(frame: EncodedFrame, match: Float32Array, k: number): Promise<Float32Array> {
    const { f4, f8 } = frame.features as { f4: tf.Tensor4D; f8: tf.Tensor4D };
    const logits = tf.tidy(() => {
      const m = tf.tensor4d(match, [k, frame.h8, frame.w8, TRACKER_MATCH_CHANNELS.length]);
      return this.decoder.predict([tf.tile(f8, [k, 1, 1, 1]), m, tf.tile(f4, [k, 1, 1, 1])]) as tf.Tensor;
    });
    const data = (await logits.data()) as Float32Array;
    logits.dispose();
    return data;
  }

  release(frame: EncodedFrame): void {
    const { f4, f8 } = frame.features as { f4: tf.Tensor; f8: tf.Tensor };
    f4.dispose();
    f8.dispose();
  }

  dispose(): Promise<void> {
    return Promise.resolve();
  }
}

interface OrtFeatures {
  f4: Float32Array;
  f4Dims: number[];
  f8: Float32Array;
  f8Dims: number[];
}

export class OrtTrackerEngine implements TrackerEngine {
  readonly name = 'onnxruntime';
  private constructor(
    private readonly ort: OrtModule,
    private readonly encoder: Ort.InferenceSession,
    private readonly matcher: Ort.InferenceSession,
    private readonly decoder: Ort.InferenceSession,
  ) {}

  /** Sessions from exported bytes (a checkpoint's encoder.onnx and decoder.onnx) or from the layer models. */
  static async create(
    ort: OrtModule,
    source:
      | { encoder: Uint8Array; decoder: Uint8Array }
      | { encoderModel: tf.LayersModel; decoderModel: tf.LayersModel },
    threads: number,
  ): Promise<OrtTrackerEngine> {
    const bytes = 'encoder' in source ? source : trackerOnnx(source.encoderModel, source.decoderModel);
    const options = sessionOptions({ intraOpNumThreads: threads, allowSpinning: false });
    return new OrtTrackerEngine(
      ort,
      await ort.InferenceSession.create(bytes.encoder, options),
      await ort.InferenceSession.create(buildMatchGraph(), options),
      await ort.InferenceSession.create(bytes.decoder, options),
    );
  }

  async encode(image: Float32Array, height: number, width: number): Promise<EncodedFrame> {
    const out = await this.encoder.run({
      image: new this.ort.Tensor('float32', image, [1, height, width, 3]),
    });
    const key = out.key;
    const [, h8, w8, c] = key.dims as number[];
    const features: OrtFeatures = {
      f4: out.f4.data as Float32Array,
      f4Dims: out.f4.dims as number[],
      f8: out.f8.data as Float32Array,
      f8Dims: out.f8.dims as number[],
    };
    return { key: normaliseRows(key.data as Float32Array, c), h8, w8, keyChannels: c, features };
  }

  async match(
    frame: EncodedFrame,
    global: References,
    local: References,
    window: Float32Array,
    k: number,
  ): Promise<Float32Array> {
    const T = this.ort.Tensor;
    const p = frame.h8 * frame.w8;
    const c = frame.keyChannels;
    const out = await this.matcher.run({
      query: new T('float32', frame.key, [p, c]),
      global_keys: new T('float32', global.keys, [global.count, c]),
      global_labels: new T('float32', global.labels, [k, global.count]),
      local_keys: new T('float32', local.keys, [local.count, c]),
      local_labels: new T('float32', local.labels, [k, local.count]),
      window: new T('float32', window, [p, local.count]),
    });
    return out.match.data as Float32Array;
  }

  async decode(frame: EncodedFrame, match: Float32Array, k: number): Promise<Float32Array> {
    const T = this.ort.Tensor;
    const f = frame.features as OrtFeatures;
    const tile = (data: Float32Array, dims: number[]): Ort.Tensor => {
      if (k === 1) return new T('float32', data, dims);
      const out = new Float32Array(data.length * k);
      for (let i = 0; i < k; i++) out.set(data, i * data.length);
      return new T('float32', out, [k, ...dims.slice(1)]);
    };
    const out = await this.decoder.run({
      f8: tile(f.f8, f.f8Dims),
      match: new T('float32', match, [k, frame.h8, frame.w8, TRACKER_MATCH_CHANNELS.length]),
      f4: tile(f.f4, f.f4Dims),
    });
    return out.logits.data as Float32Array;
  }

  release(): void {
    // The arrays are garbage-collected with the frame.
  }

  async dispose(): Promise<void> {
    await this.encoder.release();
    await this.matcher.release();
    await this.decoder.release();
  }
}

/** The tracker's two layer models as ONNX graphs with the names the onnxruntime engine feeds and reads. */
export function trackerOnnx(
  encoder: tf.LayersModel,
  decoder: tf.LayersModel,
): { encoder: Uint8Array; decoder: Uint8Array } {
  return {
    encoder: exportToOnnx(encoder, { inputNames: ['image'], outputNames: ['f4', 'f8', 'key'] }).bytes,
    decoder: exportToOnnx(decoder, { inputNames: ['f8', 'match', 'f4'], outputNames: ['logits'] }).bytes,
  };
}
