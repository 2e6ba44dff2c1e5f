/**
 * The engines' vocabulary (issue #13): tensors by name. A batch, an engine's feeds and an engine's results are
 * sets of named tensors; a network's signature names its input and output tensors in the model's order, and the
 * engines bind a batch's tensors to the model's inputs by those names, checking each shape. Plain arrays, no
 * tensor library: these cross worker threads as transferables.
 */
import type * as tf from '@tensorflow/tfjs';
import { dataError, modelError } from '../errors';

/** Row-major values of `shape`, batch first. */
export interface Tensor<A extends Float32Array | Int32Array = Float32Array> {
  readonly data: A;
  readonly shape: readonly number[];
}

export type NamedTensors = Readonly<Record<string, Tensor>>;

/** One tensor of a signature: its name and its shape without the batch dimension (null: any size). */
export interface TensorSpec {
  readonly name: string;
  readonly shape: readonly (number | null)[];
}

/** A model's named inputs and outputs, in the model's own order. */
export interface Signature {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

/** The names a network gives its model's inputs and outputs, in the model's order. */
export interface TensorNames {
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

/**
 * A layers model's signature: shapes from the model, names as given (the plugin's declaration) or else the
 * model's own input and output layer names.
 */
export function modelSignature(model: tf.LayersModel, names?: TensorNames): Signature {
  const inputNames = names?.inputs ?? model.inputLayers.map((l) => l.name);
  const outputNames = names?.outputs ?? model.outputLayers.map((l) => l.name);
  if (inputNames.length !== model.inputs.length || outputNames.length !== model.outputs.length) {
    throw modelError(
      `the network declares ${inputNames.length} input(s) [${inputNames.join(', ')}] and ${outputNames.length} ` +
        `output(s) [${outputNames.join(', ')}], the model has ${model.inputs.length} and ${model.outputs.length}`,
      { item: model.name },
    );
  }
  const spec = (t: tf.SymbolicTensor, name: string): TensorSpec => ({ name, shape: t.shape.slice(1) });
  return {
    inputs: model.inputs.map((t, i) => spec(t, inputNames[i])),
    outputs: model.outputs.map((t, i) => spec(t, outputNames[i])),
  };
}

/** `[n, 64, 64, 3]`; null sizes read `?`. */
export function formatShape(shape: readonly (number | string | null)[]): string {
  return `[${shape.map((d) => d ?? '?').join(', ')}]`;
}

/**
 * The tensors of `specs` from `tensors`, in the specs' order, each checked: every name present and none
 * unknown, shapes as declared (the batch dimension free but the same for all). Returns the batch size too.
 * Errors name the tensor, the expected and the actual shape.
 */
export function bindTensors<T extends Tensor<Float32Array | Int32Array>>(
  specs: readonly TensorSpec[],
  tensors: Readonly<Record<string, T>>,
  what = 'input',
): { n: number; bound: T[] } {
  const names = specs.map((s) => s.name);
  const unknown = Object.keys(tensors).filter((k) => !names.includes(k));
  if (unknown.length > 0) {
    throw dataError(`the network has no ${what} "${unknown[0]}"; its ${what}s are [${names.join(', ')}]`, {
      field: unknown[0],
    });
  }
  let n: number | undefined;
  const bound = specs.map((spec) => {
    const t = Object.hasOwn(tensors, spec.name) ? tensors[spec.name] : undefined;
    const expected = formatShape(['n', ...spec.shape]);
    if (t === undefined) {
      throw dataError(
        `the network's ${what} "${spec.name}" ${expected} is missing; given [${Object.keys(tensors).join(', ')}]`,
        { field: spec.name },
      );
    }
    const [batch, ...rest] = t.shape;
    const fits =
      t.shape.length === spec.shape.length + 1 &&
      Number.isInteger(batch) &&
      batch > 0 &&
      (n === undefined || batch === n) &&
      rest.every((d, i) => spec.shape[i] === null || d === spec.shape[i]);
    if (!fits) {
      const also = n !== undefined && batch !== n ? ` (the other ${what}s hold ${n} samples)` : '';
      throw dataError(
        `${what} "${spec.name}": expected shape ${expected}, got ${formatShape(t.shape)}${also}`,
        { field: spec.name },
      );
    }
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== size) {
      throw dataError(
        `${what} "${spec.name}" of shape ${formatShape(t.shape)} needs ${size} values, got ${t.data.length}`,
        { field: spec.name },
      );
    }
    n = batch;
    return t;
  });
  if (n === undefined) throw modelError(`the network has no ${what}`);
  return { n, bound };
}

/** Samples [start, start + count) of a batch-first tensor, as a copy (its buffer can be transferred). */
export function sliceTensor<A extends Float32Array | Int32Array>(
  t: Tensor<A>,
  start: number,
  count: number,
): Tensor<A> {
  const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return { data: t.data.slice(start * per, (start + count) * per) as A, shape: [count, ...t.shape.slice(1)] };
}

/** Each tensor of a set, sliced as `sliceTensor` does. */
export function sliceTensors(tensors: NamedTensors, start: number, count: number): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(tensors)) out[name] = sliceTensor(t, start, count);
  return out;
}
