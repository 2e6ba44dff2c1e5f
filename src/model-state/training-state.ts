/**
 * `training_state.json`: what a checkpoint needs besides its weights for a run to go on exactly where it was
 * written (continue_training). The global step and epoch; the optimizer's counters (Adam's moments themselves
 * are in weights.bin's `optimizer` group, one copy beside the weights they belong to; this file records how
 * many there are and their iteration count, to check that they belong together); the position in the data
 * order (the shuffle's seed, the epoch and the batches consumed, the samples skipped as corrupted); the random
 * streams (all derived from the seed and a sample's epoch and index, so their position is the data position);
 * the validation planner and the best val loss. Written inside the checkpoint folder by the checkpoint writer,
 * so it is there exactly when the weights are. Parsing checks every field and names the file and the field.
 */
import { modelError } from '../errors';

export const TRAINING_STATE_FILE = 'training_state.json';
export const TRAINING_STATE_FORMAT = 'sly-tfjs-training-state';
export const TRAINING_STATE_VERSION = 1;

export interface AdamStateJson {
  kind: 'adam';
  learning_rate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Steps the optimizer has taken (also stored in weights.bin's optimizer group). */
  iterations: number;
  /** beta1^t and beta2^t exactly as the optimizer held them (restoring them from t would round differently). */
  acc_beta1: number;
  acc_beta2: number;
  /**
   * Where the moments are: `weights.bin`, group `optimizer`, this many tensors (iterations, m and v). With
   * `folders` (the tracker: `encoder`, `decoder`), each of those sub-folders' weights.bin holds the moments of its
   * own model's weights, stepped by its own Adam with the counters above (all equal); `tensors` counts them all.
   */
  moments: { file: string; group: string; tensors: number; folders?: string[] };
}

/** The data order's position in the epoch in progress (training fold). */
export interface DataPositionJson {
  /** The shuffle's seed: the order of epoch e is `epochOrder(seed, e)` (training/shuffle.ts). */
  shuffle_seed: number;
  epoch: number;
  /** Batches of `epoch` already trained on. */
  batches_done: number;
  batch_size: number;
  /** Items in the training fold (indices below refer to it). */
  train_items: number;
  /** Training samples found corrupted before `epoch` began (left out of its order). */
  corrupted_before_epoch: number[];
  /** Training samples skipped as corrupted in `epoch` so far, in order. */
  skipped_in_epoch: number[];
  /** Validation samples found corrupted so far (they count against allow_corrupted_samples.val). */
  val_corrupted: number[];
}

export interface TrainingStateJson {
  format: typeof TRAINING_STATE_FORMAT;
  version: typeof TRAINING_STATE_VERSION;
  /** Steps done in the run (what a learning-rate schedule reads). */
  global_step: number;
  /** The planned steps of the run that wrote it: epochs x iters_per_epoch. */
  total_steps: number;
  epochs: number;
  iters_per_epoch: number;
  /** epoch + batches_done / iters_per_epoch, as the metrics lines print it. */
  epoch_float: number;
  /** The seed of the run and the SHA-256 of its data digest: an exact resume needs both to be the same. */
  seed: number;
  data_sha256: string;
  optimizer: AdamStateJson;
  data: DataPositionJson;
  /** How each random stream of the run is drawn, for people: each is a function of the position above. */
  random_streams: Record<string, string>;
  /** Validations done (the planner's count) and the lowest val loss so far (null: none yet). */
  validation: {
    performed: number;
    best_loss: number | null;
    /** For a run whose best checkpoint is the highest score rather than the lowest loss (the tracker's J&F). */
    best_score?: { metric: string; value: number };
  };
  /** What trained it, for people. */
  engine: string;
}

/** The file's bytes. */
export function trainingStateBytes(state: TrainingStateJson): Buffer {
  return Buffer.from(`${JSON.stringify(state, null, 2)}\n`);
}

/**
 * Parses training_state.json's text; `file` names it in errors. A field of the wrong type or out of range is a
 * model error naming the file and the field.
 */
export function parseTrainingState(text: string, file: string): TrainingStateJson {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw modelError(`is not valid JSON: ${(e as Error).message}`, { file }, e);
  }
  const fail = (field: string, detail: string): never => {
    throw modelError(detail, { file, field });
  };
  const obj = (v: unknown, field: string): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : fail(field, 'must be an object');
  const root = obj(raw, '(root)');
  if (root.format !== TRAINING_STATE_FORMAT) fail('format', `must be "${TRAINING_STATE_FORMAT}"`);
  if (root.version !== TRAINING_STATE_VERSION) {
    fail('version', `is ${JSON.stringify(root.version)}; this version reads ${TRAINING_STATE_VERSION}`);
  }
  const natural = (o: Record<string, unknown>, key: string, prefix = ''): number => {
    const v = o[key];
    return Number.isInteger(v) && (v as number) >= 0
      ? (v as number)
      : fail(`${prefix}${key}`, `must be a natural number, got ${JSON.stringify(v)}`);
  };
  const num = (o: Record<string, unknown>, key: string, prefix = ''): number => {
    const v = o[key];
    return typeof v === 'number' && Number.isFinite(v)
      ? v
      : fail(`${prefix}${key}`, `must be a finite number, got ${JSON.stringify(v)}`);
  };
  const str = (o: Record<string, unknown>, key: string, prefix = ''): string => {
    const v = o[key];
    return typeof v === 'string' ? v : fail(`${prefix}${key}`, 'must be a string');
  };
  const indices = (o: Record<string, unknown>, key: string, prefix: string): number[] => {
    const v = o[key];
    if (!Array.isArray(v) || !v.every((i) => Number.isInteger(i) && i >= 0)) {
      return fail(`${prefix}${key}`, 'must be a list of sample indices');
    }
    return v as number[];
  };

  const opt = obj(root.optimizer, 'optimizer');
  if (opt.kind !== 'adam') fail('optimizer.kind', `is ${JSON.stringify(opt.kind)}; only "adam" is known`);
  const moments = obj(opt.moments, 'optimizer.moments');
  const data = obj(root.data, 'data');
  const validation = obj(root.validation, 'validation');
  const streams = obj(root.random_streams ?? {}, 'random_streams');
  const best = validation.best_loss;
  if (best !== null && !(typeof best === 'number' && Number.isFinite(best))) {
    fail('validation.best_loss', 'must be a finite number or null');
  }
  const folders = moments.folders;
  if (folders !== undefined && !(Array.isArray(folders) && folders.every((f) => typeof f === 'string'))) {
    fail('optimizer.moments.folders', 'must be a list of folder names');
  }
  const score =
    validation.best_score === undefined ? undefined : obj(validation.best_score, 'validation.best_score');
  const state: TrainingStateJson = {
    format: TRAINING_STATE_FORMAT,
    version: TRAINING_STATE_VERSION,
    global_step: natural(root, 'global_step'),
    total_steps: natural(root, 'total_steps'),
    epochs: natural(root, 'epochs'),
    iters_per_epoch: natural(root, 'iters_per_epoch'),
    epoch_float: num(root, 'epoch_float'),
    seed: num(root, 'seed'),
    data_sha256: str(root, 'data_sha256'),
    optimizer: {
      kind: 'adam',
      learning_rate: num(opt, 'learning_rate', 'optimizer.'),
      beta1: num(opt, 'beta1', 'optimizer.'),
      beta2: num(opt, 'beta2', 'optimizer.'),
      epsilon: num(opt, 'epsilon', 'optimizer.'),
      iterations: natural(opt, 'iterations', 'optimizer.'),
      acc_beta1: num(opt, 'acc_beta1', 'optimizer.'),
      acc_beta2: num(opt, 'acc_beta2', 'optimizer.'),
      moments: {
        file: str(moments, 'file', 'optimizer.moments.'),
        group: str(moments, 'group', 'optimizer.moments.'),
        tensors: natural(moments, 'tensors', 'optimizer.moments.'),
        ...(folders === undefined ? {} : { folders: folders as string[] }),
      },
    },
    data: {
      shuffle_seed: num(data, 'shuffle_seed', 'data.'),
      epoch: natural(data, 'epoch', 'data.'),
      batches_done: natural(data, 'batches_done', 'data.'),
      batch_size: natural(data, 'batch_size', 'data.'),
      train_items: natural(data, 'train_items', 'data.'),
      corrupted_before_epoch: indices(data, 'corrupted_before_epoch', 'data.'),
      skipped_in_epoch: indices(data, 'skipped_in_epoch', 'data.'),
      val_corrupted: indices(data, 'val_corrupted', 'data.'),
    },
    random_streams: Object.fromEntries(Object.entries(streams).map(([k, v]) => [k, String(v)])),
    validation: {
      performed: natural(validation, 'performed', 'validation.'),
      best_loss: best as number | null,
      ...(score === undefined
        ? {}
        : {
            best_score: {
              metric: str(score, 'metric', 'validation.best_score.'),
              value: num(score, 'value', 'validation.best_score.'),
            },
          }),
    },
    engine: typeof root.engine === 'string' ? root.engine : '',
  };
  // The counters must agree with each other: a hand-edited or mixed-up file is refused here, not mid-run.
  if (state.total_steps !== state.epochs * state.iters_per_epoch) {
    fail('total_steps', `is ${state.total_steps}, not epochs x iters_per_epoch`);
  }
  if (state.global_step > state.total_steps) fail('global_step', 'is beyond total_steps');
  if (state.data.epoch * state.iters_per_epoch + state.data.batches_done !== state.global_step) {
    fail('data.batches_done', 'does not match global_step (data.epoch x iters_per_epoch + batches_done)');
  }
  return state;
}
