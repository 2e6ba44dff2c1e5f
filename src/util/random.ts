/**
 * Seeded pseudo-random numbers: small, fast and the same on every machine, so a seed reproduces a shuffle, an
 * augmentation or a synthetic project exactly. Not for anything cryptographic.
 */

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/** mulberry32: a 32-bit state generator with good statistical quality for its size (public domain). */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A 32-bit seed derived from several integers (a base seed, an epoch, an item index...), so independent streams
 * never share a state by accident: `mixSeed(seed, 1)` and `mixSeed(seed + 1, 0)` differ.
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5; // FNV offset basis; each part is folded in and avalanched (murmur3 finaliser).
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x01000193) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A uniform integer in [min, max], both inclusive. */
export function randomInt(rand: Random, min: number, max: number): number {
  return min + Math.floor(rand() * (max - min + 1));
}

/** A uniform float in [min, max). */
export function randomRange(rand: Random, min: number, max: number): number {
  return min + rand() * (max - min);
}
