/**
 * onnxruntime-node in one place, for training and inference alike: loading the package (with an error that
 * says what did not load and what to do), finding its native libraries, and the options of every session we
 * create (training steps, validation, inference), built from a few settings.
 *
 * No tfjs here, and onnxruntime-node itself is loaded only when `loadOnnxRuntime` is called (types only at the
 * top), so importing this module costs nothing.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { errorMessage } from '../errors';

export type OrtModule = typeof Ort;
/** How onnxruntime-node is loaded: `loadOnnxRuntime`, or a failing loader in tests. */
export type OrtLoader = () => Promise<OrtModule>;

const PACKAGE = 'onnxruntime-node';

/** onnxruntime-node could not be loaded; the message names the package, the cause and what to do. */
export class OnnxRuntimeLoadError extends Error {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`${PACKAGE} did not load: ${detail}`, options);
    this.name = 'OnnxRuntimeLoadError';
  }
}

/**
 * Loads onnxruntime-node. When it cannot be loaded (not installed, or a native binding that does not fit this
 * platform) the error is an OnnxRuntimeLoadError: the first line of the cause (Node's module errors go on with
 * the whole require stack), the platform, and the fix.
 */
export async function loadOnnxRuntime(): Promise<OrtModule> {
  try {
    return await import('onnxruntime-node');
  } catch (e) {
    const first = errorMessage(e).split('\n')[0].trim();
    throw new OnnxRuntimeLoadError(
      `${first} (on ${process.platform}/${process.arch}, Node ${process.versions.node}; its CPU engine ships ` +
        `in the npm package: reinstall it with npm ci)`,
      { cause: e },
    );
  }
}

/** onnxruntime-node from `load`, or why it did not load (a reason for the log, never a throw). */
export async function tryLoadOnnxRuntime(
  load: OrtLoader = loadOnnxRuntime,
): Promise<{ readonly ok: true; readonly ort: OrtModule } | { readonly ok: false; readonly reason: string }> {
  try {
    return { ok: true, ort: await load() };
  } catch (e) {
    return {
      ok: false,
      reason: e instanceof OnnxRuntimeLoadError ? e.message : `${PACKAGE} did not load: ${errorMessage(e)}`,
    };
  }
}

/** `.../onnxruntime-node/bin/napi-v6/<platform>/<arch>`, where its binding and provider libraries live. */
export function nativeLibraryDir(): string | null {
  try {
    const pkg = path.dirname(require.resolve(`${PACKAGE}/package.json`));
    return path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
}

/** The first CUDA provider library missing from `dir`, or null when both are there. */
export function missingCudaLibrary(dir: string): string | null {
  const ext = process.platform === 'win32' ? '.dll' : process.platform === 'darwin' ? '.dylib' : '.so';
  for (const lib of ['onnxruntime_providers_shared', 'onnxruntime_providers_cuda']) {
    const file = (process.platform === 'win32' ? '' : 'lib') + lib + ext;
    if (!existsSync(path.join(dir, file))) return file;
  }
  return null;
}

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

/** What differs between our sessions; everything else is the same for all of them. */
export interface SessionSettings {
  readonly intraOpNumThreads: number;
  /**
   * Whether idle intra-op threads spin-wait for work (onnxruntime's default) or sleep: sleeping leaves the
   * cores to the rest of the process (the data pipeline) between and inside runs.
   */
  readonly allowSpinning?: boolean;
  /** Graph optimisations; default every one (`all`). */
  readonly optimization?: GraphOptimizationLevel;
  /** Profile every run into `<prefix>_<date>.json` (see onnxruntime's enableProfiling). */
  readonly profilePrefix?: string;
  /** Execution providers in order of preference; default the CPU alone. */
  readonly providers?: readonly ('cuda' | 'cpu')[];
}

/**
 * onnxruntime session options for these settings: one inter-op thread and sequential execution (our graphs are
 * one chain of ops), intra-op threads as given.
 */
export function sessionOptions(s: SessionSettings): Ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: s.intraOpNumThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: s.optimization ?? 'all',
    executionMode: 'sequential',
    executionProviders: [...(s.providers ?? ['cpu'])],
    ...(s.profilePrefix !== undefined ? { enableProfiling: true, profileFilePrefix: s.profilePrefix } : {}),
    ...(s.allowSpinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  };
}
