/**
 * One interface for running a segmentation network at inference time, whatever runs it: onnxruntime-node
 * (native, several times faster on CPU) or tfjs (any backend; always available).
 */
import { configError } from '../../errors';
import { formatShape, type NamedTensors, type Signature, type Tensor } from '../../network/tensors';

export type EngineName = 'onnxruntime' | 'tfjs';

export const ENGINE_NAMES: readonly EngineName[] = ['onnxruntime', 'tfjs'];

/**
 * Old engine names still accepted, each with the name to use instead: `onnx` was the inference side's name for
 * onnxruntime before training and inference shared one vocabulary (`train_engine` always said `onnxruntime`).
 */
export const DEPRECATED_ENGINE_NAMES: Readonly<Record<string, EngineName>> = { onnx: 'onnxruntime' };

/** Forces an engine (read by the entry point; here, not in choose-engine.ts, so reading it loads no tfjs). */
export const ENGINE_ENV_VAR = 'INFERENCE_ENGINE';

export interface ParseEngineOptions {
  /** Where the value came from, named in errors (default INFERENCE_ENGINE). */
  readonly field?: string;
  /** Called when `value` is a deprecated name, with the name to use instead; the value is accepted. */
  readonly onDeprecated?: (given: string, use: EngineName) => void;
}

/** An engine name (INFERENCE_ENGINE's value, `--engine`) → the forced engine; empty or absent means "choose". */
export function parseEngineChoice(
  value: string | undefined,
  opts: ParseEngineOptions = {},
): EngineName | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim().toLowerCase();
  const hit = ENGINE_NAMES.find((n) => n === v);
  if (hit !== undefined) return hit;
  const renamed = Object.hasOwn(DEPRECATED_ENGINE_NAMES, v) ? DEPRECATED_ENGINE_NAMES[v] : undefined;
  if (renamed !== undefined) {
    opts.onDeprecated?.(v, renamed);
    return renamed;
  }
  throw configError(`unknown engine "${value}"; use one of: ${ENGINE_NAMES.join(', ')} (or leave it unset)`, {
    field: opts.field ?? ENGINE_ENV_VAR,
  });
}

/**
 * INFERENCE_ENGINE from the environment, for the inference task: a deprecated name works and is a warning line
 * that names the variable and the value to use instead.
 */
export function engineFromEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  logger: { warn(message: string, extras?: Record<string, unknown>): void },
): EngineName | undefined {
  return parseEngineChoice(env[ENGINE_ENV_VAR], {
    onDeprecated: (given, use) =>
      logger.warn(`${ENGINE_ENV_VAR}=${given} is deprecated; use ${ENGINE_ENV_VAR}=${use}`, {
        field: ENGINE_ENV_VAR,
        value: given,
        use,
      }),
  });
}

export interface SegmentationEngine {
  readonly name: EngineName;
  /** `[height, width, channels]` of one input image: the network's fixed input size. */
  readonly inputShape: readonly [number, number, number];
  /** Channels of the output (the number of classes). */
  readonly outputChannels: number;
  /** What runs, for the log: e.g. `onnxruntime-node 1.30.0, cpu provider, 2 threads`. */
  readonly description: string;
  /** The network's inputs and outputs by name, in the model's order. */
  readonly signature: Signature;
  /**
   * A network of one input and one output: runs `n` images: `x` is NHWC float32, already normalised, of length
   * n * h * w * c. Resolves to the network's output (softmax scores) NHWC, n * h * w * outputChannels values,
   * owned by the caller.
   */
  run(x: Float32Array, n: number): Promise<Float32Array>;
  /**
   * Any network: its inputs by name (bound to the model's by the signature, each [n, ...] as declared; a wrong
   * name or shape is an error naming the tensor) → every output by name, [n, ...], owned by the caller.
   */
  runNamed(inputs: NamedTensors): Promise<Record<string, Tensor>>;
  /** Frees the engine's native or tensor memory. Never disposes a tfjs model it was given. */
  dispose(): Promise<void>;
}

/** Checks a batch against the engine's input shape; a mismatch is a bug in the caller, not a user error. */
export function checkBatch(engine: SegmentationEngine, x: Float32Array, n: number): readonly number[] {
  const { inputs, outputs } = engine.signature;
  if (inputs.length !== 1 || outputs.length !== 1) {
    const list = (specs: Signature['inputs']) =>
      specs.map((s) => `${s.name} ${formatShape(['n', ...s.shape])}`);
    throw new Error(
      `${engine.name} engine: the network takes [${list(inputs).join(', ')}] and gives ` +
        `[${list(outputs).join(', ')}]: run it by name`,
    );
  }
  const [h, w, c] = engine.inputShape;
  if (!Number.isInteger(n) || n < 1 || x.length !== n * h * w * c) {
    throw new Error(
      `${engine.name} engine: a batch of ${n} images of ${h}x${w}x${c} needs ${n * h * w * c} values, got ${x.length}`,
    );
  }
  return [n, h, w, c];
}

/**
 * Runs a batch of `n` samples given as flat buffers by input name, giving flat buffers by output name: a
 * network of one input and one output through `run` (the image path, exactly as fast as before), any other
 * through `runNamed`, each buffer shaped by the engine's signature.
 */
export async function runFlat(
  engine: SegmentationEngine,
  x: Readonly<Record<string, Float32Array>>,
  n: number,
): Promise<Record<string, Float32Array>> {
  const { inputs, outputs } = engine.signature;
  if (inputs.length === 1 && outputs.length === 1) {
    const data = Object.hasOwn(x, inputs[0].name) ? x[inputs[0].name] : undefined;
    if (data === undefined || Object.keys(x).length !== 1) {
      throw new Error(
        `${engine.name} engine: the network takes the input "${inputs[0].name}", given [${Object.keys(x).join(', ')}]`,
      );
    }
    return { [outputs[0].name]: await engine.run(data, n) };
  }
  const named: Record<string, Tensor> = {};
  for (const [name, data] of Object.entries(x)) {
    const spec = inputs.find((s) => s.name === name);
    named[name] = { data, shape: [n, ...(spec?.shape.map((d) => d ?? 0) ?? [])] };
  }
  const result = await engine.runNamed(named);
  return Object.fromEntries(Object.entries(result).map(([name, t]) => [name, t.data]));
}
