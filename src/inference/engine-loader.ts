/**
 * Loading a checkpoint's network into an inference engine: the one sequence both places that run the network
 * use (the network threads, and the main thread when there is none).
 *
 * First choice, unless tfjs is forced: the checkpoint's own model.onnx, when its weights hash shows it holds
 * the weights of model.json + weights.bin (onnx-reuse.ts). That skips tfjs altogether (loading it, the
 * network and exporting took about 0.6 s of CPU per thread): `initTfjs` is called only on the other path. Otherwise, as before: load model.json +
 * weights.bin, check them against config.json, choose the engine (exporting to ONNX in memory), and keep the
 * tfjs model only while the engine needs it. The report says which ONNX source was used and why.
 */
import type { TensorNames } from '../network/tensors';
import type { InferenceCheckpoint } from './checkpoint';
import { classScoresExpected, type ExpectedNetwork } from './model-shapes';
import type { EngineName, SegmentationEngine } from './engine/types';
import { loadOnnxRuntime, type OrtLoader } from '../onnx/runtime';
import { OnnxEngine } from './engine/onnx-engine';
import type { EngineReport, TfjsBackendReport } from './network-thread';
import type { OnnxReuse } from './onnx-reuse';

export interface LoadEngineOptions {
  readonly checkpoint: InferenceCheckpoint;
  readonly modelDir: string;
  readonly engine?: EngineName;
  readonly intraOpNumThreads: number;
  /** Initialises tfjs's backend; called only when tfjs is needed. */
  readonly initTfjs: () => Promise<TfjsBackendReport>;
  /** How onnxruntime-node is loaded; tests inject a failing loader. */
  readonly loadOrt?: OrtLoader;
  /** `reusableOnnx`'s verdict on the checkpoint, when the caller has it already (checked once for all threads). */
  readonly onnx?: OnnxReuse;
  /**
   * What the network must take and give (model-shapes.ts), by the names its plugin declares, by which `runNamed`
   * binds; the model.json or model.onnx is checked against it. Default: a segmenter's (the image in, the class
   * map's scores out).
   */
  readonly network?: ExpectedNetwork;
}

export interface LoadedEngine {
  readonly engine: SegmentationEngine;
  readonly report: EngineReport;
  /** Disposes the engine and, if it kept it, the tfjs model. */
  close(): Promise<void>;
}

export async function loadEngine(opts: LoadEngineOptions): Promise<LoadedEngine> {
  const expected = opts.network ?? classScoresExpected(opts.checkpoint.channels);
  let onnxSource: string | undefined;
  if (opts.engine !== 'tfjs') {
    // The ONNX reader is loaded only when the check was not made already (network threads get its verdict).
    const reuse =
      opts.onnx ??
      (await (await import('./onnx-reuse')).reusableOnnx(opts.modelDir, opts.checkpoint, expected));
    if ('bytes' in reuse) {
      const engine = await onnxFromFile(opts, expected, reuse.bytes);
      if (engine !== null) {
        return {
          engine,
          report: {
            name: 'onnxruntime',
            description: engine.description,
            reason:
              opts.engine === 'onnxruntime'
                ? 'INFERENCE_ENGINE=onnxruntime'
                : 'onnxruntime-node loaded the checkpoint model.onnx',
            notChosen: { name: 'tfjs', reason: 'onnxruntime-node is available and faster on this machine' },
            onnxSource: 'model.onnx from the checkpoint (its weights hash matches weights.bin)',
          },
          close: () => engine.dispose(),
        };
      }
      // onnxruntime did not start: the usual path below tries again and says why, or falls back to tfjs.
      onnxSource = 'exported in memory: onnxruntime-node did not start with model.onnx';
    } else {
      onnxSource = `exported in memory: ${reuse.reason}`;
    }
  }
  const tfjsBackend = await opts.initTfjs();
  // tfjs and the exporter are loaded only on this path.
  const { loadCheckpointModel } = await import('./checkpoint');
  const { chooseEngine } = await import('./engine/choose-engine');
  const model = await loadCheckpointModel(opts.checkpoint, {
    dir: opts.modelDir,
    displayName: 'model',
    expected,
  });
  let choice: Awaited<ReturnType<typeof chooseEngine>>;
  try {
    choice = await chooseEngine({
      model,
      ...(opts.engine !== undefined ? { force: opts.engine } : {}),
      ...(opts.loadOrt !== undefined ? { loadOrt: opts.loadOrt } : {}),
      intraOpNumThreads: opts.intraOpNumThreads,
      tensorNames: namesOf(expected),
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  if (!choice.needsTfjsModel) model.dispose();
  const { engine } = choice;
  return {
    engine,
    report: {
      name: engine.name,
      description: engine.description,
      reason: choice.reason,
      notChosen: choice.notChosen,
      ...(engine.name === 'onnxruntime' && onnxSource !== undefined ? { onnxSource } : {}),
      tfjsBackend,
    },
    close: async () => {
      await engine.dispose();
      if (choice.needsTfjsModel) model.dispose();
    },
  };
}

/**
 * Initialises tfjs's backend in this thread (loading tfjs): `force` as given, else as backend/select.ts
 * chooses (TFJS_BACKEND, then the best that loads), the same answer in every thread.
 */
export async function initTfjsBackend(force?: string): Promise<TfjsBackendReport> {
  const { initBackend } = await import('../backend/select');
  const b = await initBackend(force !== undefined ? { force, env: {} } : {});
  return { name: b.name, notUsed: b.reasons };
}

/** The declared names, by which the engines bind (whatever the model calls its layers or graph tensors). */
function namesOf(expected: ExpectedNetwork): TensorNames {
  return { inputs: expected.inputs.map((i) => i.name), outputs: expected.outputs.map((o) => o.name) };
}

/**
 * An onnxruntime engine on the file's bytes (checked against `expected`, so every input's shape is known), or
 * null when onnxruntime does not load or refuses the model.
 */
async function onnxFromFile(
  opts: LoadEngineOptions,
  expected: ExpectedNetwork,
  bytes: Uint8Array,
): Promise<OnnxEngine | null> {
  try {
    const ort = await (opts.loadOrt ?? loadOnnxRuntime)();
    const { height, width } = opts.checkpoint.inputSize;
    const inputs = expected.inputs.map((i) => ({ name: i.name, shape: [height, width, i.channels] }));
    // An output the task does not read may have any channels: the engine reads its shape from the result.
    const outputs = expected.outputs.map((o) => ({ name: o.name, shape: [height, width, o.channels] }));
    return await OnnxEngine.create({
      ort,
      model: bytes,
      inputShape: [height, width, expected.inputs[0].channels],
      outputChannels: expected.outputs[0].channels ?? opts.checkpoint.channels,
      intraOpNumThreads: opts.intraOpNumThreads,
      signature: { inputs, outputs },
    });
  } catch {
    return null;
  }
}
