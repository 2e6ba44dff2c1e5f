/**
 * Runs an exported ONNX graph with onnxruntime-node: the CPU provider with one intra-op thread per core and
 * every graph optimisation, or the CUDA provider when its library is installed (it is not in the npm package:
 * only onnxruntime-node's install script downloads it), falling back to the CPU.
 */
import { availableParallelism } from 'node:os';
import type * as Ort from 'onnxruntime-node';
import {
  missingCudaLibrary,
  nativeLibraryDir,
  type OrtModule,
  sessionOptions,
  type SessionSettings,
} from '../../onnx/runtime';
import { modelError } from '../../errors';
import { bindTensors, type NamedTensors, type Signature, type Tensor } from '../../network/tensors';
import { checkBatch, type SegmentationEngine } from './types';

export type { OrtModule };

export interface OnnxEngineOptions {
  readonly ort: OrtModule;
  /** The serialised ONNX model (see src/onnx). */
  readonly model: Uint8Array;
  readonly inputShape: readonly [number, number, number];
  readonly outputChannels: number;
  /**
   * The network's named inputs and outputs, in the graph's order (the model's: the exporter keeps it). Default:
   * one input of `inputShape` and one output, under the graph's own names.
   */
  readonly signature?: Signature;
  /** Default: the machine's cores (`os.availableParallelism()`). */
  readonly intraOpNumThreads?: number;
  /** `auto`: CUDA when its provider library is present, else the CPU. Default `auto`. */
  readonly cuda?: 'auto' | 'never';
  /** Where onnxruntime-node keeps its native libraries; found from the module by default (tests override). */
  readonly nativeDir?: string;
}

export class OnnxEngine implements SegmentationEngine {
  readonly name = 'onnxruntime' as const;

  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    readonly inputShape: readonly [number, number, number],
    readonly outputChannels: number,
    readonly description: string,
    /** Why CUDA is not used, when it is not; null when it is. */
    readonly cudaNote: string | null,
    readonly signature: Signature,
  ) {}

  private static make(
    opts: OnnxEngineOptions,
    session: Ort.InferenceSession,
    description: string,
    cudaNote: string | null,
  ): OnnxEngine {
    const [h, w] = opts.inputShape;
    const signature = opts.signature ?? {
      inputs: [{ name: session.inputNames[0], shape: [...opts.inputShape] }],
      outputs: [{ name: session.outputNames[0], shape: [h, w, opts.outputChannels] }],
    };
    if (
      signature.inputs.length !== session.inputNames.length ||
      signature.outputs.length !== session.outputNames.length
    ) {
      void session.release();
      throw modelError(
        `the ONNX graph has the inputs [${session.inputNames.join(', ')}] and outputs ` +
          `[${session.outputNames.join(', ')}], the network declares ${signature.inputs.length} and ${signature.outputs.length}`,
      );
    }
    return new OnnxEngine(
      opts.ort,
      session,
      opts.inputShape,
      opts.outputChannels,
      description,
      cudaNote,
      signature,
    );
  }

  static async create(opts: OnnxEngineOptions): Promise<OnnxEngine> {
    const threads = opts.intraOpNumThreads ?? availableParallelism();
    const base: SessionSettings = { intraOpNumThreads: threads };
    const version = opts.ort.env.versions.common;
    let cudaNote: string | null;
    if (opts.cuda === 'never') {
      cudaNote = 'CUDA not requested';
    } else {
      const dir = opts.nativeDir ?? nativeLibraryDir();
      const missing = dir === null ? 'onnxruntime-node native folder' : missingCudaLibrary(dir);
      if (missing === null) {
        try {
          const session = await opts.ort.InferenceSession.create(
            opts.model,
            sessionOptions({ ...base, providers: ['cuda', 'cpu'] }),
          );
          const d = `onnxruntime-node ${version}, cuda provider (cpu fallback), ${threads} cpu threads`;
          return OnnxEngine.make(opts, session, d, null);
        } catch (e) {
          cudaNote = `the CUDA provider failed to start: ${e instanceof Error ? e.message : String(e)}`;
        }
      } else {
        // Checked first because a failed provider load also prints a native error line on stderr.
        cudaNote = `no CUDA provider (${missing} not found)`;
      }
    }
    const session = await opts.ort.InferenceSession.create(opts.model, sessionOptions(base));
    const d = `onnxruntime-node ${version}, cpu provider, ${threads} threads`;
    return OnnxEngine.make(opts, session, d, cudaNote);
  }

  async run(x: Float32Array, n: number): Promise<Float32Array> {
    const shape = checkBatch(this, x, n);
    const feeds = { [this.session.inputNames[0]]: new this.ort.Tensor('float32', x, [...shape]) };
    const result = await this.session.run(feeds);
    const out = result[this.session.outputNames[0]];
    const expected = n * this.inputShape[0] * this.inputShape[1] * this.outputChannels;
    if (out.type !== 'float32' || out.size !== expected) {
      throw new Error(
        `onnxruntime engine: output ${out.type} [${out.dims.join(', ')}], expected ${expected} float32 values`,
      );
    }
    return out.data as Float32Array;
  }

  async runNamed(inputs: NamedTensors): Promise<Record<string, Tensor>> {
    const { bound } = bindTensors(this.signature.inputs, inputs);
    // The graph's inputs and outputs are the model's, in its order: bound by position to the declared names.
    const feeds: Record<string, Ort.Tensor> = {};
    this.session.inputNames.forEach((name, i) => {
      feeds[name] = new this.ort.Tensor('float32', bound[i].data, [...bound[i].shape]);
    });
    const result = await this.session.run(feeds);
    const out: Record<string, Tensor> = {};
    this.session.outputNames.forEach((name, i) => {
      const t = result[name];
      if (t.type !== 'float32') {
        throw new Error(`onnxruntime engine: output ${name} is ${t.type}, expected float32`);
      }
      out[this.signature.outputs[i].name] = { data: t.data as Float32Array, shape: [...t.dims] };
    });
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
