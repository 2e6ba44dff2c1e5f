/**
 * The training loop, kept tiny (detectron2 `TrainerBase`, Keras callbacks): epochs of steps, with hooks around
 * them. Everything else (progress, metrics events, validation, checkpoints, learning-rate schedule, early
 * stopping, the stop signal) is a hook written on top. No tfjs here and no printing.
 *
 * Firing rules:
 * - hooks are awaited one after another, in registration order, for every event;
 * - beforeTrain; then per epoch: beforeEpoch, per step (beforeStep, step, afterStep), afterEpoch;
 * - afterEpoch fires only for an epoch whose every step ran (not for one cut short by a stop or a failure);
 * - afterTrain always fires (as a `finally` would), once per hook, with the outcome: completed, stopped or failed.
 *   Every hook's afterTrain runs even if an earlier one throws;
 * - the loop yields to the event loop after every step, so output flushes and a stop request (a signal
 *   handler, a hook) is seen before the next step; a stop is a flag, never an exception;
 * - a failure (in the step or a hook) ends the loop: `train()` rethrows it after afterTrain.
 */

export interface StepResult {
  /** The training loss of this step, as a plain number. */
  loss: number;
  /** Other per-step metrics, plain numbers. */
  metrics?: Readonly<Record<string, number>>;
}

export interface MetricEntry {
  value: number | null;
  /** The global step (steps done) when it was written. */
  globalStep: number;
  epochFloat: number;
}

/** The latest value of each named metric: how hooks talk to each other (the eval hook writes, others read). */
export class MetricStore {
  private readonly entries = new Map<string, MetricEntry>();

  put(name: string, entry: MetricEntry): void {
    this.entries.set(name, { ...entry });
  }

  get(name: string): MetricEntry | undefined {
    const entry = this.entries.get(name);
    return entry === undefined ? undefined : { ...entry };
  }

  names(): string[] {
    return [...this.entries.keys()];
  }
}

/** What hooks and the step see of the run. Counters are read-only; the store and the stop flag are shared. */
export interface RunState {
  readonly epochs: number;
  readonly itersPerEpoch: number;
  /** epochs x itersPerEpoch. */
  readonly totalSteps: number;
  /** The current epoch, 0-based. */
  readonly epoch: number;
  /** Steps done in the current epoch: 0 before its first step, itersPerEpoch after its last. */
  readonly iterInEpoch: number;
  /**
   * Steps done in the whole run, counting those before a resume (`startStep`, `startEpoch`): from beforeTrain on,
   * a resumed run's state says where it is. The one counter a learning-rate schedule reads (with totalSteps).
   */
  readonly globalStep: number;
  /** The global step this run began at: 0, or where a resumed run went on. */
  readonly startStep: number;
  /** epoch + iterInEpoch / itersPerEpoch (spec E.7). */
  readonly epochFloat: number;
  /** The result of the last step, if any. */
  readonly lastStep: StepResult | undefined;
  readonly metrics: MetricStore;
  /** Writes a metric stamped with the current step. */
  putMetric(name: string, value: number | null): void;
  readonly stopRequested: boolean;
  readonly stopReason: string | undefined;
  /** Ends the run before the next step; the step in progress finishes. The first reason given is kept. */
  requestStop(reason: string): void;
}

export type TrainOutcome =
  | { kind: 'completed' }
  | { kind: 'stopped'; reason: string }
  | { kind: 'failed'; error: unknown };

type Awaitable = void | Promise<void>;

/** All optional. `state` is the same object throughout the run. */
export interface TrainHook {
  /** For messages and tests. */
  readonly name?: string;
  beforeTrain?(state: RunState): Awaitable;
  beforeEpoch?(state: RunState): Awaitable;
  beforeStep?(state: RunState): Awaitable;
  afterStep?(state: RunState, result: StepResult): Awaitable;
  afterEpoch?(state: RunState): Awaitable;
  afterTrain?(state: RunState, outcome: TrainOutcome): Awaitable;
}

/** What the step function gets: the run state, before the counters advance for this step. */
export interface StepContext {
  readonly state: RunState;
  readonly epoch: number;
  /** 0-based index of this step in its epoch. */
  readonly iterInEpoch: number;
  /** 0-based index of this step in the run. */
  readonly globalStep: number;
}

export interface TrainerOptions {
  epochs: number;
  itersPerEpoch: number;
  step: (ctx: StepContext) => Promise<StepResult>;
  hooks?: readonly TrainHook[];
  /** Start at this epoch (resuming): counters begin at startEpoch x itersPerEpoch. Default 0. */
  startEpoch?: number;
  /**
   * Start at this global step (resuming mid-epoch): the first epoch run is floor(startStep / itersPerEpoch),
   * its first step startStep % itersPerEpoch. Not with startEpoch.
   */
  startStep?: number;
}

/** "Every n steps, and after the last step" (detectron2 `PeriodicWriter`), read from the state after a step. */
export function isEveryNSteps(state: Pick<RunState, 'globalStep' | 'totalSteps'>, n: number): boolean {
  if (!(Number.isInteger(n) && n > 0)) throw new RangeError(`n must be a positive integer, got ${n}`);
  return state.globalStep > 0 && (state.globalStep % n === 0 || state.globalStep === state.totalSteps);
}

/** A hook that calls `fn` after every n-th step and after the last one. */
export function everyNSteps(
  n: number,
  fn: (state: RunState, result: StepResult) => Awaitable,
  name = `every ${n} steps`,
): TrainHook {
  isEveryNSteps({ globalStep: 0, totalSteps: 0 }, n); // validates n now, not at the first step
  return {
    name,
    afterStep: (state, result) => (isEveryNSteps(state, n) ? fn(state, result) : undefined),
  };
}

class MutableRunState implements RunState {
  readonly epochs: number;
  readonly itersPerEpoch: number;
  readonly totalSteps: number;
  readonly metrics = new MetricStore();
  readonly startStep: number;
  epoch: number;
  iterInEpoch: number;
  globalStep: number;
  lastStep: StepResult | undefined;
  stopReason: string | undefined;

  constructor(opts: { epochs: number; itersPerEpoch: number; startStep: number }) {
    this.epochs = opts.epochs;
    this.itersPerEpoch = opts.itersPerEpoch;
    this.totalSteps = opts.epochs * opts.itersPerEpoch;
    this.startStep = opts.startStep;
    this.globalStep = opts.startStep;
    this.epoch = opts.itersPerEpoch === 0 ? 0 : Math.floor(opts.startStep / opts.itersPerEpoch);
    this.iterInEpoch = opts.itersPerEpoch === 0 ? 0 : opts.startStep % opts.itersPerEpoch;
  }

  get epochFloat(): number {
    return this.itersPerEpoch === 0 ? this.epoch : this.epoch + this.iterInEpoch / this.itersPerEpoch;
  }

  get stopRequested(): boolean {
    return this.stopReason !== undefined;
  }

  putMetric(name: string, value: number | null): void {
    this.metrics.put(name, { value, globalStep: this.globalStep, epochFloat: this.epochFloat });
  }

  requestStop(reason: string): void {
    this.stopReason ??= reason;
  }
}

export class Trainer {
  private readonly options: TrainerOptions;
  private readonly hooks: readonly TrainHook[];
  private readonly runState: MutableRunState;
  private started = false;

  constructor(options: TrainerOptions) {
    const { epochs, itersPerEpoch } = options;
    const startEpoch = options.startEpoch ?? 0;
    const startStep = options.startStep ?? startEpoch * itersPerEpoch;
    for (const [name, v] of Object.entries({ epochs, itersPerEpoch, startEpoch, startStep })) {
      if (!(Number.isInteger(v) && v >= 0))
        throw new RangeError(`${name} must be a natural number, got ${v}`);
    }
    if (startEpoch > epochs) throw new RangeError(`startEpoch ${startEpoch} is beyond epochs ${epochs}`);
    if (options.startEpoch !== undefined && options.startStep !== undefined)
      throw new RangeError('give startEpoch or startStep, not both');
    if (startStep > epochs * itersPerEpoch)
      throw new RangeError(`startStep ${startStep} is beyond the ${epochs * itersPerEpoch} steps of the run`);
    this.options = options;
    this.hooks = [...(options.hooks ?? [])];
    this.runState = new MutableRunState({ epochs, itersPerEpoch, startStep });
  }

  get state(): RunState {
    return this.runState;
  }

  /** For a signal handler: same as `state.requestStop`. */
  requestStop(reason: string): void {
    this.runState.requestStop(reason);
  }

  /** Runs once. Resolves with completed or stopped; rejects with the failure after afterTrain has run. */
  async train(): Promise<TrainOutcome> {
    if (this.started) throw new Error('a Trainer runs once; build a new one to train again');
    this.started = true;
    let outcome: TrainOutcome;
    try {
      await this.runLoop();
      const reason = this.runState.stopReason;
      outcome = reason === undefined ? { kind: 'completed' } : { kind: 'stopped', reason };
    } catch (error) {
      outcome = { kind: 'failed', error };
    }
    // afterTrain runs whatever happened; the loop's own failure wins over one in afterTrain: it is the cause.
    const cleanupError = await this.afterTrain(outcome);
    if (outcome.kind === 'failed') throw outcome.error;
    if (cleanupError !== undefined) throw cleanupError.error;
    return outcome;
  }

  private async runLoop(): Promise<void> {
    const s = this.runState;
    await this.fire((h) => h.beforeTrain?.(s));
    // A resumed run's first epoch begins at the step it stopped after; later ones at 0.
    let firstIter = s.iterInEpoch;
    for (let epoch = s.epoch; epoch < s.epochs && !s.stopRequested; epoch += 1) {
      s.epoch = epoch;
      s.iterInEpoch = firstIter;
      firstIter = 0;
      await this.fire((h) => h.beforeEpoch?.(s));
      while (s.iterInEpoch < s.itersPerEpoch && !s.stopRequested) {
        await this.fire((h) => h.beforeStep?.(s));
        const result = await this.options.step({
          state: s,
          epoch,
          iterInEpoch: s.iterInEpoch,
          globalStep: s.globalStep,
        });
        s.iterInEpoch += 1;
        s.globalStep += 1;
        s.lastStep = result;
        await this.fire((h) => h.afterStep?.(s, result));
        await yieldToEventLoop();
      }
      if (s.iterInEpoch === s.itersPerEpoch) await this.fire((h) => h.afterEpoch?.(s));
    }
  }

  private async fire(call: (hook: TrainHook) => Awaitable): Promise<void> {
    for (const hook of this.hooks) await call(hook);
  }

  /** Every hook's afterTrain, even after one throws; returns the first error, if any. */
  private async afterTrain(outcome: TrainOutcome): Promise<{ error: unknown } | undefined> {
    let first: { error: unknown } | undefined;
    for (const hook of this.hooks) {
      try {
        await hook.afterTrain?.(this.runState, outcome);
      } catch (error) {
        first ??= { error };
      }
    }
    return first;
  }
}

/** setImmediate runs after pending I/O callbacks: stdout writes complete and signal handlers get their turn. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
