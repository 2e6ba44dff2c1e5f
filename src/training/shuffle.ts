/**
 * Seeded shuffles: the training order of an epoch depends only on the seed and the epoch number, so a run can be
 * repeated, and resumed at an epoch without replaying the ones before it.
 */

import type { Random } from '../util/random';
import { mixSeed, mulberry32 } from '../util/random';

/** Fisher-Yates on a copy; the input is left alone. */
export function shuffled<T>(items: readonly T[], rand: Random): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(rand() * (i + 1));
    const held = out[i];
    out[i] = out[j];
    out[j] = held;
  }
  return out;
}

/** The order in which to visit `count` items in `epoch`: a permutation of 0..count-1. */
export function epochOrder(opts: { count: number; seed: number; epoch: number }): number[] {
  if (!Number.isInteger(opts.count) || opts.count < 0)
    throw new RangeError(`count must be a natural number, got ${opts.count}`);
  const identity = Array.from({ length: opts.count }, (_, i) => i);
  return shuffled(identity, mulberry32(mixSeed(opts.seed, opts.epoch)));
}
