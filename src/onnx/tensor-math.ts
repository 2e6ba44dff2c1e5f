/**
 * Pure array arithmetic the exporter needs on weights: axis permutation and folding an inference-mode batch
 * normalisation into the convolution before it. Float64 intermediates keep the fold within float32 rounding.
 */

/** Permutes a dense row-major array: `out` has shape `perm.map(p => shape[p])`. */
export function permute(data: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const rank = shape.length;
  if (perm.length !== rank) throw new Error(`permute: perm ${perm} does not match rank ${rank}`);
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += idx[d] * inStrides[perm[d]];
    out[o] = data[src];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
}

export interface BatchNormParams {
  /** null when the layer has `scale: false` (gamma = 1). */
  readonly gamma: Float32Array | null;
  /** null when the layer has `center: false` (beta = 0). */
  readonly beta: Float32Array | null;
  readonly movingMean: Float32Array;
  readonly movingVariance: Float32Array;
  readonly epsilon: number;
}

/** Inference-mode batch norm as `y = x * scale + shift` per channel (tfjs: (x - mean) * gamma / sqrt(var + eps) + beta). */
export function batchNormAffine(p: BatchNormParams): { scale: Float64Array; shift: Float64Array } {
  const n = p.movingMean.length;
  const scale = new Float64Array(n);
  const shift = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    scale[c] = (p.gamma === null ? 1 : p.gamma[c]) / Math.sqrt(p.movingVariance[c] + p.epsilon);
    shift[c] = (p.beta === null ? 0 : p.beta[c]) - p.movingMean[c] * scale[c];
  }
  return { scale, shift };
}

/**
 * Folds `y = conv(x) * scale + shift` into new conv weights and bias. `channelOf(i)` gives the output channel
 * of the i-th weight value (its position differs between Conv [O,I,kh,kw] and ConvTranspose [I,O,kh,kw]).
 */
export function foldAffineIntoConv(opts: {
  weight: Float32Array;
  bias: Float32Array | null;
  channelOf: (flatIndex: number) => number;
  scale: Float64Array;
  shift: Float64Array;
}): { weight: Float32Array; bias: Float32Array } {
  const { weight, bias, channelOf, scale, shift } = opts;
  const w = new Float32Array(weight.length);
  for (let i = 0; i < weight.length; i++) w[i] = weight[i] * scale[channelOf(i)];
  const b = new Float32Array(scale.length);
  for (let c = 0; c < scale.length; c++) b[c] = (bias === null ? 0 : bias[c]) * scale[c] + shift[c];
  return { weight: w, bias: b };
}
