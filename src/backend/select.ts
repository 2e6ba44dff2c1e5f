/**
 * Chooses the tfjs backend: the best one that loads, in the order tfjs-node-gpu, tfjs-node, wasm, cpu. The
 * native packages are optional dependencies (their install downloads libtensorflow, which fails offline and
 * is then silently skipped), so "not installed" is an ordinary outcome, reported as a reason, not an error.
 * The environment variable TFJS_BACKEND forces one; a forced backend that is unknown or does not load is an
 * error. Safe to call again (same answer, nothing registered twice) and inside worker threads (each thread
 * has its own tfjs engine).
 */
import * as tf from '@tensorflow/tfjs';
import { applyCpuKernelFixes } from './cpu-kernels';
import { configError, errorMessage } from '../errors';
import { setWasmPatches, type WasmPatchSet } from './wasm-kernels';

export type BackendChoice = 'node-gpu' | 'node' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendChoice[] = ['node-gpu', 'node', 'wasm', 'cpu'];

/** Names accepted in TFJS_BACKEND, mapped to a choice. */
const ALIASES: Readonly<Record<string, BackendChoice>> = {
  'node-gpu': 'node-gpu',
  'tfjs-node-gpu': 'node-gpu',
  gpu: 'node-gpu',
  node: 'node',
  'tfjs-node': 'node',
  tensorflow: 'node',
  wasm: 'wasm',
  cpu: 'cpu',
};

export interface BackendSelection {
  /** The backend in use. */
  name: BackendChoice;
  /** The name tfjs knows it by ('tensorflow' for both native packages). */
  tfjsName: string;
  /** Why each better backend was not used, best first, e.g. "node-gpu: not installed". For the log. */
  reasons: string[];
  /** True when TFJS_BACKEND (or `force`) chose it. */
  forced: boolean;
  /** Which of our wasm kernel patches are registered (all false off wasm). */
  wasmPatches?: WasmPatchSet;
}

export interface InitBackendOptions {
  /** A backend name or alias; overrides the environment. */
  force?: string;
  /** Where TFJS_BACKEND is read from; process.env when absent. Tests pass their own. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Candidates to skip without trying (tests use it to exercise the fallback). */
  skip?: readonly BackendChoice[];
}

interface Attempt {
  ok: boolean;
  reason?: string;
}

const NATIVE_PACKAGES: Readonly<Record<'node-gpu' | 'node', string>> = {
  'node-gpu': '@tensorflow/tfjs-node-gpu',
  node: '@tensorflow/tfjs-node',
};

let current: { key: string; selection: BackendSelection } | undefined;

/** Resolves a user-given backend name, or fails listing the valid ones. */
export function parseBackendName(value: string): BackendChoice {
  const choice = ALIASES[value.trim().toLowerCase()];
  if (choice === undefined) {
    throw configError(`unknown tfjs backend "${value}"; valid values: ${Object.keys(ALIASES).join(', ')}`, {
      field: 'TFJS_BACKEND',
    });
  }
  return choice;
}

/** Picks and starts a backend (see the module comment). */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendSelection> {
  const env = opts.env ?? process.env;
  const raw = opts.force ?? nonEmpty(env.TFJS_BACKEND);
  const forced = raw === undefined ? undefined : parseBackendName(raw);
  const key = `${forced ?? 'auto'}|${(opts.skip ?? []).join(',')}`;
  if (current !== undefined && current.key === key && tf.getBackend() === current.selection.tfjsName) {
    return { ...current.selection, reasons: [...current.selection.reasons] };
  }

  const reasons: string[] = [];
  const candidates =
    forced !== undefined ? [forced] : BACKEND_ORDER.filter((b) => !(opts.skip ?? []).includes(b));
  for (const name of candidates) {
    const attempt = await tryBackend(name);
    if (attempt.ok) {
      const selection: BackendSelection = {
        name,
        tfjsName: tf.getBackend(),
        reasons: attempt.reason !== undefined ? [...reasons, `${name}: ${attempt.reason}`] : reasons,
        forced: forced !== undefined,
        ...(name === 'wasm' ? { wasmPatches: setWasmPatches() } : {}),
      };
      current = { key, selection };
      return { ...selection, reasons: [...selection.reasons] };
    }
    reasons.push(`${name}: ${attempt.reason ?? 'did not start'}`);
  }
  if (forced !== undefined) {
    throw configError(`the forced tfjs backend "${raw}" is not available (${reasons.join('; ')})`, {
      field: 'TFJS_BACKEND',
    });
  }
  // cpu is built into tfjs: this means tfjs itself is broken.
  throw new Error(`no tfjs backend could be started: ${reasons.join('; ')}`);
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}

async function tryBackend(name: BackendChoice): Promise<Attempt> {
  switch (name) {
    case 'node-gpu':
    case 'node':
      return tryNative(name);
    case 'wasm':
      return tryWasm();
    case 'cpu':
      applyCpuKernelFixes();
      return setBackend('cpu');
  }
}

async function tryNative(name: 'node-gpu' | 'node'): Promise<Attempt> {
  const loaded = loadOptionalPackage(NATIVE_PACKAGES[name]);
  if (!loaded.ok) return loaded;
  const started = await setBackend('tensorflow');
  if (!started.ok || name !== 'node-gpu') return started;
  // tfjs-node-gpu silently runs on the CPU when CUDA 11 / cuDNN 8 are missing (tfjs 8362, 8187, 8269).
  const usesGpu = (tf.backend() as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
  return usesGpu === false
    ? {
        ok: true,
        reason:
          'loaded, but no GPU device is in use (CUDA 11.x and cuDNN 8 are needed); running native on the CPU',
      }
    : started;
}

function loadOptionalPackage(pkg: string): Attempt {
  try {
    // A runtime require on purpose: the package is optional and must not be resolved at build time.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(pkg);
    return { ok: true };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'MODULE_NOT_FOUND' && errorMessage(e).includes(pkg))
      return { ok: false, reason: 'not installed' };
    return { ok: false, reason: `failed to load (${firstLine(errorMessage(e))})` };
  }
}

async function tryWasm(): Promise<Attempt> {
  try {
    // Importing registers the backend factory and its kernels; cached by require after the first time.
    await import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    return { ok: false, reason: `failed to load (${firstLine(errorMessage(e))})` };
  }
  // Register before starting, so the backend's start-up also sets up our kernels.
  setWasmPatches();
  return setBackend('wasm');
}

async function setBackend(tfjsName: string): Promise<Attempt> {
  try {
    const ok = await tf.setBackend(tfjsName);
    await tf.ready();
    return ok ? { ok: true } : { ok: false, reason: 'failed to start' };
  } catch (e) {
    return { ok: false, reason: `failed to start (${firstLine(errorMessage(e))})` };
  }
}

function firstLine(s: string): string {
  return s.split('\n', 1)[0];
}
