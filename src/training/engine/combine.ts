/**
 * How shard results become one step: gradients and BatchNorm moving statistics are averaged weighted by each
 * shard's share (counted pixels for gradients, samples for statistics), then Adam is stepped once. Shared by
 * both engines so the in-process engine with k micro-batches and the data-parallel engine with k shards
 * compute the same step.
 */
import * as tf from '@tensorflow/tfjs';

/** Σ weights[s] * grads[s][i] for every variable i; shards with null gradients are skipped. */
export function weightedGradientSum(
  shards: readonly { grads: readonly tf.Tensor[] | null; weight: number }[],
): tf.Tensor[] | null {
  const live = shards.filter((s) => s.grads !== null && s.weight > 0);
  if (live.length === 0) return null;
  const count = (live[0].grads as tf.Tensor[]).length;
  return Array.from({ length: count }, (_, i) =>
    tf.tidy(() => {
      // One shard: hand the gradient over unscaled (a weight of 1 would only add rounding).
      if (live.length === 1) return tf.clone((live[0].grads as tf.Tensor[])[i]);
      return tf.addN(live.map((s) => tf.mul((s.grads as tf.Tensor[])[i], s.weight)));
    }),
  );
}

/**
 * Weighted average of each shard's copy of each statistic tensor. A tensor all shards left equal to the
 * snapshot is kept bit for bit (frozen layers, or statistics nobody updated).
 */
export function averageStatistics(
  snapshot: readonly Float32Array[],
  shards: readonly { values: readonly Float32Array[]; weight: number }[],
): Float32Array[] {
  const total = shards.reduce((a, s) => a + s.weight, 0);
  return snapshot.map((base, i) => {
    const copies = shards.map((s) => s.values[i]);
    if (copies.every((c) => equalArrays(c, base))) return base;
    const out = new Float32Array(base.length);
    for (let j = 0; j < base.length; j++) {
      let acc = 0;
      for (let s = 0; s < shards.length; s++) acc += copies[s][j] * shards[s].weight;
      out[j] = acc / total;
    }
    return out;
  });
}

function equalArrays(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function applyGradients(
  optimizer: tf.Optimizer,
  vars: readonly tf.Variable[],
  grads: tf.Tensor[],
): void {
  const named: tf.NamedTensorMap = {};
  vars.forEach((v, i) => (named[v.name] = grads[i]));
  optimizer.applyGradients(named);
}
