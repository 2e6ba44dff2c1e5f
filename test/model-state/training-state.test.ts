/**
 * training_state.json: what it records round-trips, and a field of the wrong type or counters that disagree are
 * refused naming the file and the field. planResume: an exact resume, a new run from a finished one, a warning
 * for a changed seed or data, and a config error when `epochs` leaves nothing to train.
 */
import * as tf from '@tensorflow/tfjs';
import { TaskError } from '../../src/errors';
import {
  parseTrainingState,
  trainingStateBytes,
  type TrainingStateJson,
} from '../../src/model-state/training-state';
import { captureTrainingState, planResume, restoreOptimizerForResume } from '../../src/training/resume';
import type { RunState } from '../../src/training/trainer';

const FILE = 'model/training_state.json';

function sampleState(over: Partial<TrainingStateJson> = {}): TrainingStateJson {
  const optimizer = tf.train.adam(0.01);
  try {
    return {
      ...captureTrainingState({
        run: { globalStep: 6, totalSteps: 12, epochs: 3, itersPerEpoch: 4, epochFloat: 1.5 } as RunState,
        train: { epoch: 1, batchesDone: 2, corruptedBefore: [3], skippedInEpoch: [5] },
        valCorrupted: [],
        batchSize: 4,
        trainItems: 16,
        planner: { performed: 3 },
        bestLoss: 0.25,
        optimizer,
        seed: 7,
        dataSha256: 'ab',
        engine: 'in-process',
      }),
      ...over,
    };
  } finally {
    optimizer.dispose();
  }
}

function refusal(text: string): TaskError {
  try {
    parseTrainingState(text, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(TaskError);
    return e as TaskError;
  }
  throw new Error('accepted');
}

describe('training_state.json', () => {
  it('round-trips what a checkpoint records', () => {
    const state = sampleState();
    expect(state).toMatchObject({
      global_step: 6,
      optimizer: { kind: 'adam', learning_rate: 0.01, iterations: 0, acc_beta1: 0.8999999761581421 },
      data: { shuffle_seed: 7, corrupted_before_epoch: [3], skipped_in_epoch: [5] },
      validation: { performed: 3, best_loss: 0.25 },
    });
    expect(parseTrainingState(trainingStateBytes(state).toString('utf8'), FILE)).toEqual(state);
  });

  it('names the file and the field of what it refuses', () => {
    // A plain JSON copy, edited as a hand or a bug would: `set` puts any value at a dotted path.
    const bad = (field: string, value: unknown): TaskError => {
      const s = JSON.parse(JSON.stringify(sampleState())) as Record<string, Record<string, unknown>>;
      const [head, tail] = field.split('.');
      if (tail === undefined) (s as Record<string, unknown>)[head] = value;
      else s[head][tail] = value;
      return refusal(JSON.stringify(s));
    };
    expect(bad('optimizer.iterations', -1).context).toEqual({ file: FILE, field: 'optimizer.iterations' });
    expect(bad('data.skipped_in_epoch', ['x']).context.field).toBe('data.skipped_in_epoch');
    expect(bad('version', 2).message).toMatch(/training_state\.json: field "version": is 2/);
    expect(bad('data.batches_done', 3).context.field).toBe('data.batches_done');
    expect(bad('total_steps', 13).context.field).toBe('total_steps');
    expect(refusal('{').kind).toBe('model');
  });
});

describe('planResume', () => {
  const run = {
    file: FILE,
    seed: 7,
    dataSha256: 'ab',
    trainItems: 16,
    batchSize: 4,
    itersPerEpoch: 4,
    epochs: 3,
  };

  it('goes on exactly at the recorded step and data position', () => {
    const plan = planResume({ ...run, state: sampleState() });
    expect(plan.kind).toBe('exact');
    if (plan.kind !== 'exact') return;
    expect(plan.point).toMatchObject({
      startStep: 6,
      train: { epoch: 1, batchesDone: 2, corruptedBefore: [3], skippedInEpoch: [5] },
      planner: { performed: 3 },
      bestLoss: 0.25,
    });
    // More epochs than the stopped run planned: it still goes on (the schedule is the config's).
    expect(planResume({ ...run, epochs: 5, state: sampleState() }).kind).toBe('exact');
  });

  it('starts at epoch 0 after a finished run, and with a warning when the data order cannot go on', () => {
    const finished = sampleState({
      global_step: 12,
      data: { ...sampleState().data, epoch: 2, batches_done: 4 },
    });
    expect(planResume({ ...run, state: finished })).toMatchObject({ kind: 'from-start', warn: false });
    const plan = planResume({ ...run, batchSize: 2, itersPerEpoch: 8, state: sampleState() });
    expect(plan).toMatchObject({ kind: 'from-start', warn: true });
    expect(plan.kind === 'from-start' && plan.reason).toMatch(
      /field "data\.batch_size" is 4 in the checkpoint and 2/,
    );
    expect(planResume({ ...run, dataSha256: 'cd', state: sampleState() })).toMatchObject({ warn: true });
  });

  it('refuses epochs that leave nothing to train, naming task_config.json and the field', () => {
    expect(() => planResume({ ...run, epochs: 1, state: sampleState() })).toThrow(
      /task_config\.json: field "epochs": the checkpoint stopped at epoch 1\.5/,
    );
  });

  it('refuses optimizer state that is not of the recorded run', () => {
    const optimizer = tf.train.adam(0.01);
    try {
      const state = sampleState();
      const recorded = { ...state, optimizer: { ...state.optimizer, iterations: 6 } };
      expect(() =>
        restoreOptimizerForResume({
          state: recorded,
          optimizer,
          trainable: [],
          restored: false,
          file: FILE,
          weightsFile: 'model/weights.bin',
        }),
      ).toThrow(/field "optimizer\.moments": records 6 optimizer steps, but model\/weights\.bin holds no/);
    } finally {
      optimizer.dispose();
    }
  });
});
