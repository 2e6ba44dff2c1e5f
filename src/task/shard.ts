/**
 * Which share of the project an inference task applies the model to when a large project is split across
 * machines: shard `index` of `count` (README, "Sharded inference"). The agent runs the task with no arguments,
 * so besides `--shard i/n` on the command line the shard comes from the environment, first found wins:
 *
 *   1. `--shard i/n` (python -u src/inference.py --shard 2/8);
 *   2. SLY_SHARD=i/n (ours; SLY_SHARD=none turns the next two off, e.g. inside an unrelated SLURM array);
 *   3. a Kubernetes Indexed Job: JOB_COMPLETION_INDEX, with the count in SLY_SHARD_COUNT (Kubernetes exports
 *      the index but not the Job's completions, so the manifest states the count once more);
 *   4. a SLURM job array: SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT, counted from SLURM_ARRAY_TASK_MIN (arrays
 *      may start at 1) in steps of SLURM_ARRAY_TASK_STEP (`--array=1-7:2`).
 *
 * Whole numbers only, 0 <= index < count; anything else is a config error naming the variable or argument.
 */
import { parseArgs } from 'node:util';
import { configError, errorMessage } from '../errors';

export interface Shard {
  readonly index: number;
  readonly count: number;
  /** Where it came from, for the log: e.g. `SLURM_ARRAY_TASK_ID=3, SLURM_ARRAY_TASK_MIN=1, ...`. */
  readonly source: string;
}

export const SHARD_ARG = '--shard';
export const SHARD_ENV = 'SLY_SHARD';
export const SHARD_COUNT_ENV = 'SLY_SHARD_COUNT';
/** SLY_SHARD's value that switches sharding off, whatever Kubernetes or SLURM say. */
export const NO_SHARD = 'none';
export const K8S_INDEX_ENV = 'JOB_COMPLETION_INDEX';
export const SLURM_ENV = {
  id: 'SLURM_ARRAY_TASK_ID',
  count: 'SLURM_ARRAY_TASK_COUNT',
  min: 'SLURM_ARRAY_TASK_MIN',
  step: 'SLURM_ARRAY_TASK_STEP',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/** `i/n` → shard i of n; `field` (the variable or argument) is named in errors. */
export function parseShardSpec(text: string, field: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (m === null) {
    throw configError(`expected "i/n" (shard i of n, whole numbers, 0 <= i < n, e.g. "0/4"), got "${text}"`, {
      field,
    });
  }
  return checkedShard(Number(m[1]), Number(m[2]), `${field}=${text.trim()}`, field);
}

/** The inference task's command line: nothing, or `--shard i/n`. */
export function shardArgument(args: readonly string[]): string | undefined {
  try {
    return parseArgs({ args: [...args], options: { shard: { type: 'string' } }, strict: true }).values.shard;
  } catch (e) {
    throw configError(`${errorMessage(e)}; the inference task takes only ${SHARD_ARG} i/n`, {
      field: 'command line',
    });
  }
}

/** The shard this task applies the model to, from its arguments and environment; undefined: the whole project. */
export function resolveShard(args: readonly string[], env: Env): Shard | undefined {
  const arg = shardArgument(args);
  if (arg !== undefined) return parseShardSpec(arg, SHARD_ARG);
  const ours = given(env, SHARD_ENV);
  if (ours !== undefined)
    return ours.toLowerCase() === NO_SHARD ? undefined : parseShardSpec(ours, SHARD_ENV);
  if (given(env, K8S_INDEX_ENV) !== undefined) {
    const count = given(env, SHARD_COUNT_ENV);
    if (count === undefined) {
      throw configError(
        `${K8S_INDEX_ENV} is set (a Kubernetes Indexed Job) but ${SHARD_COUNT_ENV} is not: Kubernetes does not ` +
          `export the Job's completions, so set ${SHARD_COUNT_ENV} to the same number (or pass ${SHARD_ARG} i/n)`,
        { field: SHARD_COUNT_ENV },
      );
    }
    return fromIndexAndCount(env, { index: K8S_INDEX_ENV, count: SHARD_COUNT_ENV });
  }
  if (given(env, SLURM_ENV.id) !== undefined) {
    if (given(env, SLURM_ENV.count) === undefined) {
      throw configError(
        `${SLURM_ENV.id} is set but ${SLURM_ENV.count} is not (SLURM sets both in a job array)`,
        {
          field: SLURM_ENV.count,
        },
      );
    }
    return fromIndexAndCount(env, {
      index: SLURM_ENV.id,
      count: SLURM_ENV.count,
      min: SLURM_ENV.min,
      step: SLURM_ENV.step,
    });
  }
  return undefined;
}

/** A variable's value, trimmed; unset or blank is undefined. */
function given(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function wholeNumber(env: Env, name: string): number {
  const value = given(env, name) ?? '';
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw configError(`expected a whole number >= 0, got "${env[name] ?? ''}"`, { field: name });
  }
  return n;
}

/**
 * Shard (id - min) / step of count: min and step are SLURM's (absent for Kubernetes, whose index counts from
 * 0). An id the formula does not map onto 0..count-1 is an array that is not `min-max[:step]`.
 */
function fromIndexAndCount(
  env: Env,
  names: { index: string; count: string; min?: string; step?: string },
): Shard {
  const id = wholeNumber(env, names.index);
  const count = wholeNumber(env, names.count);
  const used = [names.index, names.count];
  const optional = (name: string | undefined, fallback: number): number => {
    if (name === undefined || given(env, name) === undefined) return fallback;
    used.push(name);
    return wholeNumber(env, name);
  };
  const min = optional(names.min, 0);
  const step = Math.max(1, optional(names.step, 1));
  const source = used.map((n) => `${n}=${given(env, n)}`).join(', ');
  if (id < min || (id - min) % step !== 0) {
    throw configError(
      `${source}: the id is not min + k * step; run the array as --array=0-${Math.max(0, count - 1)} (or 1-${count})`,
      { field: names.index },
    );
  }
  return checkedShard((id - min) / step, count, source, names.index);
}

function checkedShard(index: number, count: number, source: string, field: string): Shard {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index >= count) {
    throw configError(`${source}: expected shard i of n with 0 <= i < n, got shard ${index} of ${count}`, {
      field,
    });
  }
  return { index, count, source };
}

/**
 * Shard i of n's share of `items`: items i, i + n, i + 2n, ... Every item in exactly one shard, shard sizes
 * within one of each other, and the same split on every machine that lists the items in the same order.
 */
export function shardItems<T>(items: readonly T[], shard: Pick<Shard, 'index' | 'count'>): T[] {
  return items.filter((_, k) => k % shard.count === shard.index);
}
