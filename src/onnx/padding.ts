/**
 * Padding arithmetic that makes ONNX Conv / MaxPool / ConvTranspose reproduce TensorFlow's, one spatial axis at
 * a time. Pure functions; the exporter calls them per axis.
 */

/** ONNX pads for one axis: `begin` before the first pixel, `end` after the last. */
export interface AxisPads {
  readonly begin: number;
  readonly end: number;
}

export interface WindowAxis {
  readonly kernel: number;
  readonly stride: number;
  readonly dilation: number;
}

/**
 * TensorFlow's "same" padding for a sliding window (conv or pool): the output has ceil(in / stride) positions
 * and, when the total padding is odd, the extra pixel goes at the END (pad_before = floor(total / 2)).
 * Returns null when the input size is unknown and the padding depends on it (stride > 1).
 */
export function tfSamePads(inSize: number | null, axis: WindowAxis): AxisPads | null {
  const effective = (axis.kernel - 1) * axis.dilation + 1;
  if (axis.stride === 1) return split(effective - 1);
  if (inSize === null) return null;
  const outSize = Math.ceil(inSize / axis.stride);
  return split(Math.max((outSize - 1) * axis.stride + effective - inSize, 0));
}

function split(total: number): AxisPads {
  const begin = Math.floor(total / 2);
  return { begin, end: total - begin };
}

/** How an ONNX ConvTranspose must be configured on one axis to give tfjs's Conv2DTranspose output. */
export interface TransposeAxisPlan {
  readonly pads: AxisPads;
  /** Extra zero rows at the end (ONNX `output_padding`), needed when the kernel is smaller than the stride. */
  readonly outputPadding: number;
}

/**
 * tfjs Conv2DTranspose (`deconvLength` then `conv2dTranspose`) gives `in * stride` outputs for "same" and
 * `in * stride + max(kernel - stride, 0)` for "valid". The unpadded transposed convolution gives
 * `(in - 1) * stride + kernel`; the difference is cropped like TF's forward "same" padding (floor(total / 2)
 * at the start), or, when the kernel is smaller than the stride, added as zero rows at the end. Neither depends
 * on the input size, so dynamic spatial sizes are fine.
 */
export function tfTransposePlan(axis: {
  kernel: number;
  stride: number;
  padding: 'same' | 'valid';
}): TransposeAxisPlan {
  const { kernel, stride } = axis;
  // Written for in = 1; both sizes grow by `stride` per extra input pixel, so the difference is constant.
  const full = kernel;
  const target = axis.padding === 'same' ? stride : stride + Math.max(kernel - stride, 0);
  const crop = full - target;
  if (crop >= 0) return { pads: split(crop), outputPadding: 0 };
  return { pads: { begin: 0, end: 0 }, outputPadding: -crop };
}

/** Output size of tfjs's Conv2DTranspose on one axis (its `deconvLength`). */
export function tfTransposeOutSize(
  inSize: number,
  axis: { kernel: number; stride: number; padding: 'same' | 'valid' },
): number {
  return axis.padding === 'same'
    ? inSize * axis.stride
    : inSize * axis.stride + Math.max(axis.kernel - axis.stride, 0);
}

/** ONNX ConvTranspose's output size for the same axis, from its documented formula. */
export function onnxTransposeOutSize(
  inSize: number,
  kernel: number,
  stride: number,
  plan: TransposeAxisPlan,
): number {
  return stride * (inSize - 1) + plan.outputPadding + kernel - plan.pads.begin - plan.pads.end;
}
