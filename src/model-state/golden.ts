/**
 * The golden batch of a checkpoint (`golden.json`): a seeded input of the network's shape and what the network
 * gave for it when the checkpoint was written (at 4096 seeded positions of the output, enough to see any
 * difference without storing megabytes). `sly-nn selftest` runs the same input through every engine present and
 * compares: a checkpoint that was damaged, or a machine whose engine computes differently, shows up before it
 * labels a project.
 */
import { mulberry32 } from '../util/random';

export const GOLDEN_FILE = 'golden.json';
const SAMPLES = 4096;

export interface Golden {
  /** NHWC, batch 1. */
  readonly inputShape: readonly number[];
  readonly seed: number;
  /** Output values at `indices` of the flattened NHWC output. */
  readonly indices: readonly number[];
  readonly values: readonly number[];
  readonly outputLength: number;
  /** The engine that computed `values`. */
  readonly engine: string;
}

/** The seeded input: values in [-2, 2), as a normalised image's. */
export function goldenInput(shape: readonly number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const random = mulberry32(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = random() * 4 - 2;
  return x;
}

/** The golden record of `output` (the network's output for goldenInput(shape, seed)). */
export function goldenOf(opts: {
  inputShape: readonly number[];
  seed: number;
  output: Float32Array;
  engine: string;
}): Golden {
  const random = mulberry32(opts.seed + 1);
  const count = Math.min(SAMPLES, opts.output.length);
  const indices = Array.from({ length: count }, () => Math.floor(random() * opts.output.length)).sort(
    (a, b) => a - b,
  );
  return {
    inputShape: [...opts.inputShape],
    seed: opts.seed,
    indices,
    values: indices.map((i) => opts.output[i]),
    outputLength: opts.output.length,
    engine: opts.engine,
  };
}

/** The largest absolute difference at the golden positions (Infinity when the output's length differs). */
export function goldenDifference(golden: Golden, output: Float32Array): number {
  if (output.length !== golden.outputLength) return Number.POSITIVE_INFINITY;
  let worst = 0;
  golden.indices.forEach((idx, k) => {
    const d = Math.abs(output[idx] - golden.values[k]);
    worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(worst, d);
  });
  return worst;
}
