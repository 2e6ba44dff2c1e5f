/**
 * Reproducible initial weights. tfjs layers ignore the seeds given to their initialisers (tfjs issue 7104); each
 * random op then seeds its own generator from Math.random(). So, while a network is built (synchronously: a
 * layer's weights are drawn when the model is built, and nothing else can run meanwhile), Math.random is a
 * generator seeded from the config's `seed`: the same seed gives the same initial weights.
 */
import { mixSeed, mulberry32 } from '../util/random';

/** A stream of its own for weight initialisation, apart from the shuffles and flips drawn from the same seed. */
const INIT_STREAM = 0x1417;

export function withSeededRandom<T>(seed: number, build: () => T): T {
  const original = Math.random;
  Math.random = mulberry32(mixSeed(seed, INIT_STREAM));
  try {
    return build();
  } finally {
    Math.random = original;
  }
}
