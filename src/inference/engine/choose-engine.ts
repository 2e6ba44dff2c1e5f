/**
 * Chooses the inference engine: onnxruntime-node when it loads and the model exports to ONNX, tfjs otherwise.
 * `force` (from the environment variable INFERENCE_ENGINE, read by the entry point) makes one mandatory. The
 * result says which engine runs and why the other does not, for the caller to log.
 */
import type * as tf from '@tensorflow/tfjs';
import { errorMessage, TaskError } from '../../errors';
import { exportToOnnx } from '../../onnx';
import { type OrtLoader, tryLoadOnnxRuntime } from '../../onnx/runtime';
import type { TensorNames } from '../../network/tensors';
import { fixedShapes } from './fixed-shape';
import { OnnxEngine } from './onnx-engine';
import { TfjsEngine } from './tfjs-engine';
import { ENGINE_ENV_VAR, type EngineName, type SegmentationEngine } from './types';

export interface ChooseEngineOptions {
  /** The network, built and loaded. It stays the caller's: dispose it when the chosen engine no longer needs it. */
  readonly model: tf.LayersModel;
  /** Require this engine (an error if it cannot run) instead of choosing. */
  readonly force?: EngineName;
  /** How onnxruntime-node is loaded; tests inject a failing loader. */
  readonly loadOrt?: OrtLoader;
  readonly intraOpNumThreads?: number;
  readonly cuda?: 'auto' | 'never';
  /** The plugin's names for the model's inputs and outputs (the model's layer names by default). */
  readonly tensorNames?: TensorNames;
}

export interface EngineChoice {
  readonly engine: SegmentationEngine;
  /** Why this engine runs, e.g. `onnxruntime-node loaded and the model exported to ONNX`. */
  readonly reason: string;
  /** The other engine and why it is not running. */
  readonly notChosen: { readonly name: EngineName; readonly reason: string };
  /** Whether the tfjs model is still needed (only by the tfjs engine); when false the caller may dispose it. */
  readonly needsTfjsModel: boolean;
}

export async function chooseEngine(opts: ChooseEngineOptions): Promise<EngineChoice> {
  const shapes = fixedShapes(opts.model, opts.tensorNames); // a model neither engine can run fails here, whatever was asked
  if (opts.force === 'tfjs') {
    return {
      engine: await TfjsEngine.create({ model: opts.model, tensorNames: opts.tensorNames }),
      reason: `${ENGINE_ENV_VAR}=tfjs`,
      notChosen: { name: 'onnxruntime', reason: `not tried (${ENGINE_ENV_VAR}=tfjs)` },
      needsTfjsModel: true,
    };
  }
  const onnx = await tryOnnx(opts, shapes);
  if (onnx.ok) {
    return {
      engine: onnx.engine,
      reason:
        opts.force === 'onnxruntime'
          ? `${ENGINE_ENV_VAR}=onnxruntime`
          : 'onnxruntime-node loaded and the model exported to ONNX',
      notChosen: { name: 'tfjs', reason: 'onnxruntime-node is available and faster on this machine' },
      needsTfjsModel: false,
    };
  }
  if (opts.force === 'onnxruntime') {
    throw new TaskError(onnx.kind, `${ENGINE_ENV_VAR}=onnxruntime, but ${onnx.reason}`, {
      field: ENGINE_ENV_VAR,
    });
  }
  return {
    engine: await TfjsEngine.create({ model: opts.model, tensorNames: opts.tensorNames }),
    reason: 'fallback: the onnxruntime engine could not run',
    notChosen: { name: 'onnxruntime', reason: onnx.reason },
    needsTfjsModel: true,
  };
}

type OnnxAttempt = { ok: true; engine: OnnxEngine } | { ok: false; reason: string; kind: 'config' | 'model' };

async function tryOnnx(
  opts: ChooseEngineOptions,
  shapes: ReturnType<typeof fixedShapes>,
): Promise<OnnxAttempt> {
  const loaded = await tryLoadOnnxRuntime(opts.loadOrt);
  if (!loaded.ok) return { ok: false, kind: 'config', reason: loaded.reason };
  const { ort } = loaded;
  let bytes: Uint8Array;
  try {
    bytes = exportToOnnx(opts.model).bytes;
  } catch (e) {
    // An unsupported layer is a TaskError whose message names the layer and its class.
    if (!(e instanceof TaskError)) throw e;
    return { ok: false, kind: 'model', reason: `the model does not export to ONNX: ${e.message}` };
  }
  try {
    const engine = await OnnxEngine.create({
      ort,
      model: bytes,
      ...shapes,
      intraOpNumThreads: opts.intraOpNumThreads,
      cuda: opts.cuda,
    });
    return { ok: true, engine };
  } catch (e) {
    return {
      ok: false,
      kind: 'model',
      reason: `onnxruntime-node could not create a session: ${errorMessage(e)}`,
    };
  }
}
