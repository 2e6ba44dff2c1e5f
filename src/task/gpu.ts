/**
 * GPU ids from the config → CUDA_VISIBLE_DEVICES (the SDK's `remap_gpu_devices`, spec G.2, H.4): the listed
 * devices become visible and are renumbered 0..n-1 inside the process. Must run before tfjs is imported.
 */

export interface GpuRemap {
  /** The value for CUDA_VISIBLE_DEVICES, e.g. "0,2". */
  cudaVisibleDevices: string;
  /** The ids to use inside the process, e.g. [0, 1]. */
  deviceIds: number[];
}

export function remapGpuDevices(ids: readonly number[]): GpuRemap {
  return { cudaVisibleDevices: ids.join(','), deviceIds: ids.map((_, i) => i) };
}

/** Apply the remap to an environment (the entry points pass process.env). */
export function applyGpuDevices(ids: readonly number[], env: NodeJS.ProcessEnv): number[] {
  const remap = remapGpuDevices(ids);
  env.CUDA_VISIBLE_DEVICES = remap.cudaVisibleDevices;
  return remap.deviceIds;
}
