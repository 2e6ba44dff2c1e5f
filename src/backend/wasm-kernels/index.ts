/**
 * Our changes to the wasm backend, each one switchable (the kernel benchmark measures the step with and
 * without each). Registration is per thread: every worker thread has its own tfjs registries.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedBatchNormGradConfig } from './batchnorm-grad';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter';
import { makeConv2DBackpropInputConfig } from './conv2d-backprop-input';
import { makeMeanConfig, makeSumConfig } from './leading-axis-reduce';

export type WasmPatchName =
  | 'conv2dBackpropFilter'
  | 'conv2dBackpropInput'
  | 'batchNormGrad'
  | 'leadingAxisReduce';
export type WasmPatchSet = Record<WasmPatchName, boolean>;

export const ALL_WASM_PATCHES: WasmPatchSet = {
  conv2dBackpropFilter: true,
  conv2dBackpropInput: true,
  batchNormGrad: true,
  leadingAxisReduce: true,
};

/** What was registered before us, captured once per thread, so a patch can be switched off again. */
interface Originals {
  conv2dBackpropInput: tf.KernelConfig | undefined;
  sum: tf.KernelConfig | undefined;
  mean: tf.KernelConfig | undefined;
  batchNormGrad: tf.GradConfig | undefined;
}
let originals: Originals | undefined;
const active: WasmPatchSet = {
  conv2dBackpropFilter: false,
  conv2dBackpropInput: false,
  batchNormGrad: false,
  leadingAxisReduce: false,
};

function captureOriginals(): Originals {
  originals ??= {
    conv2dBackpropInput: tf.getKernel(tf.Conv2DBackpropInput, 'wasm'),
    sum: tf.getKernel(tf.Sum, 'wasm'),
    mean: tf.getKernel(tf.Mean, 'wasm'),
    batchNormGrad: tf.getGradient(tf.FusedBatchNorm),
  };
  return originals;
}

/** Replaces a kernel without tfjs's "already registered" warning. */
function replaceKernel(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName) !== undefined) {
    tf.unregisterKernel(config.kernelName, config.backendName);
  }
  tf.registerKernel(config);
}

function removeKernel(kernelName: string): void {
  if (tf.getKernel(kernelName, 'wasm') !== undefined) tf.unregisterKernel(kernelName, 'wasm');
}

/**
 * Makes the registries match `wanted` (missing names keep their current state). Idempotent. Needs the wasm
 * backend package to have been imported (its kernels must be registered) but not the backend started.
 */
export function setWasmPatches(wanted: Partial<WasmPatchSet> = ALL_WASM_PATCHES): WasmPatchSet {
  const orig = captureOriginals();
  if (orig.conv2dBackpropInput === undefined || orig.sum === undefined || orig.mean === undefined) {
    throw new Error(
      'The wasm backend kernels are not registered: import @tensorflow/tfjs-backend-wasm first',
    );
  }
  const want: WasmPatchSet = { ...active, ...wanted };

  if (want.conv2dBackpropFilter !== active.conv2dBackpropFilter) {
    if (want.conv2dBackpropFilter) replaceKernel(conv2DBackpropFilterConfig);
    else removeKernel(tf.Conv2DBackpropFilter);
  }
  if (want.conv2dBackpropInput !== active.conv2dBackpropInput) {
    replaceKernel(
      want.conv2dBackpropInput
        ? makeConv2DBackpropInputConfig(orig.conv2dBackpropInput)
        : orig.conv2dBackpropInput,
    );
  }
  if (want.leadingAxisReduce !== active.leadingAxisReduce) {
    replaceKernel(want.leadingAxisReduce ? makeSumConfig(orig.sum) : orig.sum);
    replaceKernel(want.leadingAxisReduce ? makeMeanConfig(orig.mean) : orig.mean);
  }
  if (want.batchNormGrad !== active.batchNormGrad) {
    if (want.batchNormGrad) tf.registerGradient(fusedBatchNormGradConfig);
    else if (orig.batchNormGrad !== undefined) tf.registerGradient(orig.batchNormGrad);
  }
  Object.assign(active, want);
  return { ...active };
}

/** The patches currently registered in this thread. */
export function activeWasmPatches(): WasmPatchSet {
  return { ...active };
}
