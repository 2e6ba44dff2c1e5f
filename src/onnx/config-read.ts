/**
 * Typed reads of a tfjs layer config (`layer.getConfig()`), failing with a model error that names the layer,
 * its class and the field, so an unsupported setting is reported as precisely as an unsupported layer.
 */
import { modelError, type TaskError } from '../errors';
import type { GraphNode } from './layer-graph';

export function unsupported(node: GraphNode, detail: string, field?: string): TaskError {
  return modelError(`ONNX export: layer "${node.layerName}" (${node.className}): ${detail}`, {
    item: node.layerName,
    field,
  });
}

/** `kernelSize`, `strides`, `dilationRate`, `size`...: a number or a pair in tfjs configs. */
export function readPair(
  node: GraphNode,
  field: string,
  fallback?: readonly [number, number],
): [number, number] {
  const v = node.config[field];
  if ((v === undefined || v === null) && fallback !== undefined) return [fallback[0], fallback[1]];
  if (typeof v === 'number' && Number.isInteger(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isInteger(x))) {
    return [v[0] as number, v[1] as number];
  }
  throw unsupported(node, `expected an integer or a pair of integers, got ${JSON.stringify(v)}`, field);
}

export function readNumber(node: GraphNode, field: string, fallback: number): number {
  const v = node.config[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw unsupported(node, `expected a number, got ${JSON.stringify(v)}`, field);
}

export function readOptionalNumber(node: GraphNode, field: string): number | null {
  const v = node.config[field];
  if (v === undefined || v === null) return null;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw unsupported(node, `expected a number, got ${JSON.stringify(v)}`, field);
}

export function readBool(node: GraphNode, field: string, fallback: boolean): boolean {
  const v = node.config[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'boolean') return v;
  throw unsupported(node, `expected a boolean, got ${JSON.stringify(v)}`, field);
}

export function readChoice<T extends string>(
  node: GraphNode,
  field: string,
  choices: readonly T[],
  fallback: T,
): T {
  const v = node.config[field];
  if (v === undefined || v === null) return fallback;
  const hit = choices.find((c) => c === v);
  if (hit !== undefined) return hit;
  throw unsupported(node, `${JSON.stringify(v)} is not supported (supported: ${choices.join(', ')})`, field);
}

/** Every layer we export works on NHWC tensors, as tfjs does by default. */
export function requireChannelsLast(node: GraphNode): void {
  readChoice(node, 'dataFormat', ['channelsLast'], 'channelsLast');
}

/** The activation name (`relu`, `softmax`, ...), `linear` when absent. */
export function readActivation(node: GraphNode, field = 'activation'): string {
  const v = node.config[field];
  if (v === undefined || v === null) return 'linear';
  if (typeof v === 'string') return v;
  throw unsupported(node, `expected an activation name, got ${JSON.stringify(v)}`, field);
}

export function requireWeight(
  node: GraphNode,
  name: string,
): { shape: readonly number[]; data: Float32Array } {
  const w = node.weights.get(name);
  if (w === undefined) {
    throw unsupported(
      node,
      `weight "${name}" is missing (has: ${[...node.weights.keys()].join(', ') || 'none'})`,
    );
  }
  return w;
}
