/**
 * Loading a network plugin module by path (e.g. `require.resolve('../../plugin/unet')`), so the runtime and
 * its worker threads never import a concrete network. The entry points choose which module to pass.
 */
import { configError } from '../errors';
import type { AnyNetwork, AnyTrackerNetwork } from './types';

const REQUIRED_FUNCTIONS = ['parseSettings', 'build', 'buildHead'] as const;

/** Checks that a value has the shape of a SegmentationNetwork; returns what is missing or wrong. */
export function networkShapeProblems(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) return ['it is not an object'];
  const v = value as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof v.name !== 'string' || v.name === '') problems.push('"name" is not a non-empty string');
  if (typeof v.task !== 'string' || v.task === '') problems.push('"task" is not a non-empty string');
  const inputs = v.inputs;
  const isInput = (x: unknown): boolean => {
    const i = x as { name?: unknown; channels?: unknown } | null;
    return (
      typeof i === 'object' &&
      i !== null &&
      typeof i.name === 'string' &&
      typeof i.channels === 'number' &&
      Number.isInteger(i.channels) &&
      i.channels > 0
    );
  };
  if (!Array.isArray(inputs) || inputs.length === 0 || !inputs.every(isInput)) {
    problems.push('"inputs" is not a non-empty array of {name, channels}');
  }
  const outputs = v.outputs;
  if (
    !Array.isArray(outputs) ||
    outputs.length === 0 ||
    !outputs.every((o) => typeof o === 'string' && o !== '')
  ) {
    problems.push('"outputs" is not a non-empty array of names');
  }
  for (const fn of REQUIRED_FUNCTIONS)
    if (typeof v[fn] !== 'function') problems.push(`"${fn}" is not a function`);
  if (typeof v.settingsSchema !== 'object' || v.settingsSchema === null)
    problems.push('"settingsSchema" is missing');
  if (typeof v.defaults !== 'object' || v.defaults === null) problems.push('"defaults" is missing');
  if (!Array.isArray(v.headLayerNames) || v.headLayerNames.length === 0) {
    problems.push('"headLayerNames" is not a non-empty array');
  }
  const pre = v.preprocessing as { mean?: unknown; std?: unknown } | undefined;
  const isTriple = (x: unknown): boolean =>
    Array.isArray(x) && x.length === 3 && x.every((n) => typeof n === 'number');
  if (pre === undefined || !isTriple(pre.mean) || !isTriple(pre.std)) {
    problems.push('"preprocessing" needs mean and std of 3 numbers each');
  }
  return problems;
}

/** The `network` export of a plugin module (undefined when it has none), or a config error naming the file. */
function requireNetworkExport(modulePath: string): unknown {
  let mod: unknown;
  try {
    // A runtime-chosen module path: a dynamic require is the point here.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(modulePath);
  } catch (e) {
    throw configError(`cannot load the network plugin: ${e instanceof Error ? e.message : String(e)}`, {
      file: modulePath,
    });
  }
  return (mod as { network?: unknown } | null)?.network;
}

/** Requires a plugin module and returns its `network` export, or a config error saying what is wrong. */
export function loadNetworkPlugin(modulePath: string): AnyNetwork {
  const network = requireNetworkExport(modulePath);
  const problems =
    network === undefined ? ['the module has no "network" export'] : networkShapeProblems(network);
  if (problems.length > 0) {
    throw configError(`not a network plugin: ${problems.join('; ')}`, { file: modulePath });
  }
  return network as AnyNetwork;
}

/** Requires a tracker plugin module (task video_tracking) and returns its `network`, checked. */
export function loadTrackerPlugin(modulePath: string): AnyTrackerNetwork {
  const network = requireNetworkExport(modulePath) as Record<string, unknown> | undefined;
  const missing = ['parseSettings', 'buildEncoder', 'buildDecoder'].filter(
    (fn) => typeof network?.[fn] !== 'function',
  );
  if (network === undefined || missing.length > 0) {
    throw configError(`not a tracker plugin: ${missing.join(', ')} missing from its "network"`, {
      file: modulePath,
    });
  }
  return network as unknown as AnyTrackerNetwork;
}
