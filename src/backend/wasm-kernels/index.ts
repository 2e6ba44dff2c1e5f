/**
 * Our changes to the wasm backend, each one switchable (the kernel benchmark measures the step with and
 * without each). Registration is per thread: every worker thread has its own tfjs registries.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedBatchNormGradConfig } from './batchnorm-grad';
import { makeConcatConfig, makeSplitVConfig } from './concat-split';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter';
import { makeConv2DBackpropInputConfig } from './conv2d-backprop-input';
import { makeIdentityConfig } from './identity-share';
import { makeMeanConfig, makeSumConfig } from './leading-axis-reduce';
import { makeMaxPoolGradConfig } from './max-pool-grad';
import { fixWasmOneHot } from './one-hot';

export type WasmPatchName =
  | 'conv2dBackpropFilter'
  | 'conv2dBackpropInput'
  | 'batchNormGrad'
  | 'leadingAxisReduce'
  | 'concatSplit'
  | 'maxPoolGrad'
  | 'identityShare';
export type WasmPatchSet = Record<WasmPatchName, boolean>;

export const ALL_WASM_PATCHES: Readonly<WasmPatchSet> = Object.freeze({
  conv2dBackpropFilter: true,
  conv2dBackpropInput: true,
  batchNormGrad: true,
  leadingAxisReduce: true,
  concatSplit: true,
  maxPoolGrad: true,
  identityShare: true,
});

export const NO_WASM_PATCHES: Readonly<WasmPatchSet> = Object.freeze({
  conv2dBackpropFilter: false,
  conv2dBackpropInput: false,
  batchNormGrad: false,
  leadingAxisReduce: false,
  concatSplit: false,
  maxPoolGrad: false,
  identityShare: false,
});

/** The shipped kernels we wrap (each override falls back to them), captured once per thread. */
const WRAPPED_KERNELS = [
  tf.Conv2DBackpropInput,
  tf.Sum,
  tf.Mean,
  tf.Concat,
  tf.SplitV,
  tf.MaxPoolGrad,
  tf.Identity,
] as const;
type WrappedKernel = (typeof WRAPPED_KERNELS)[number];

interface Originals {
  kernels: Record<WrappedKernel, tf.KernelConfig>;
  batchNormGrad: tf.GradConfig | undefined;
}
let originals: Originals | undefined;
const active: WasmPatchSet = { ...NO_WASM_PATCHES };

function captureOriginals(): Originals {
  if (originals !== undefined) return originals;
  const kernels = {} as Record<WrappedKernel, tf.KernelConfig>;
  for (const name of WRAPPED_KERNELS) {
    const k = tf.getKernel(name, 'wasm');
    if (k === undefined) {
      throw new Error(`wasm kernel '${name}' is not registered: import @tensorflow/tfjs-backend-wasm first`);
    }
    kernels[name] = k;
  }
  originals = { kernels, batchNormGrad: tf.getGradient(tf.FusedBatchNorm) };
  return originals;
}

/** Replaces a kernel without tfjs's "already registered" warning. */
function replaceKernel(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName) !== undefined) {
    tf.unregisterKernel(config.kernelName, config.backendName);
  }
  tf.registerKernel(config);
}

/** Each patch as the kernels it registers when on, given the shipped ones. */
function patchKernels(name: WasmPatchName, k: Originals['kernels'], on: boolean): tf.KernelConfig[] {
  switch (name) {
    case 'conv2dBackpropInput':
      return [on ? makeConv2DBackpropInputConfig(k.Conv2DBackpropInput) : k.Conv2DBackpropInput];
    case 'leadingAxisReduce':
      return on ? [makeSumConfig(k.Sum), makeMeanConfig(k.Mean)] : [k.Sum, k.Mean];
    case 'concatSplit':
      return on ? [makeConcatConfig(k.Concat), makeSplitVConfig(k.SplitV)] : [k.Concat, k.SplitV];
    case 'maxPoolGrad':
      return [on ? makeMaxPoolGradConfig(k.MaxPoolGrad) : k.MaxPoolGrad];
    case 'identityShare':
      return [on ? makeIdentityConfig(k.Identity) : k.Identity];
    default:
      return [];
  }
}

/**
 * Makes the registries match `wanted` (missing names keep their current state). Idempotent. Needs the wasm
 * backend package to have been imported (its kernels must be registered), not necessarily started.
 */
export function setWasmPatches(wanted: Partial<WasmPatchSet> = ALL_WASM_PATCHES): WasmPatchSet {
  const orig = captureOriginals();
  fixWasmOneHot(); // a correctness fix, always on: see one-hot.ts
  const want: WasmPatchSet = { ...active, ...wanted };
  for (const name of Object.keys(want) as WasmPatchName[]) {
    if (want[name] === active[name]) continue;
    const on = want[name];
    if (name === 'conv2dBackpropFilter') {
      // wasm ships no such kernel (tfjs issue 8474): "off" means absent.
      if (on) replaceKernel(conv2DBackpropFilterConfig);
      else if (tf.getKernel(tf.Conv2DBackpropFilter, 'wasm') !== undefined) {
        tf.unregisterKernel(tf.Conv2DBackpropFilter, 'wasm');
      }
    } else if (name === 'batchNormGrad') {
      // Gradients are global in tfjs, not per backend; ours computes the same values on every backend.
      if (on) tf.registerGradient(fusedBatchNormGradConfig);
      else if (orig.batchNormGrad !== undefined) tf.registerGradient(orig.batchNormGrad);
    } else {
      patchKernels(name, orig.kernels, on).forEach(replaceKernel);
    }
    active[name] = on;
  }
  return { ...active };
}

/** The patches currently registered in this thread. */
export function activeWasmPatches(): WasmPatchSet {
  return { ...active };
}
