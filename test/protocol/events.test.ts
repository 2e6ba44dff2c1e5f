import { eventsOf, parseAgentOutput, readStrictOutput } from '../helpers/agent';
import {
  checkpointSubdir,
  reportCheckpoint,
  reportMetrics,
  reportModelApplied,
  reportProgress,
} from '../../src/protocol/events';
import { createLogger } from '../../src/protocol/logger';
import { memorySink } from '../../src/protocol/sink';

function setup() {
  const mem = memorySink();
  const logger = createLogger({ sink: mem.sink, level: 'warn', now: () => new Date(0) });
  const output = (): string => mem.lines.join('\n');
  return { mem, logger, output };
}

describe('event lines (spec D.5)', () => {
  it('PROGRESS: the SDK fields; total = current when the total is unknown', () => {
    const { logger, output } = setup();
    reportProgress(logger, { subtask: 'Model training: ', current: 3, total: 5 });
    reportProgress(logger, { subtask: 'Reading: ', current: 2.2, total: 0 });
    const lines = readStrictOutput(output());
    expect(lines.map((l) => l.fields)).toEqual([
      {
        event_type: 'EventType.PROGRESS',
        subtask: 'Model training: ',
        current: 3,
        total: 5,
        timestamp: expect.any(String),
      },
      {
        event_type: 'EventType.PROGRESS',
        subtask: 'Reading: ',
        current: 3,
        total: 3,
        timestamp: expect.any(String),
      },
    ]);
    expect(lines.every((l) => l.message === 'progress' && l.shipped)).toBe(true);
  });

  it('METRICS: type, float epoch, a map of numbers, non-finite as null', () => {
    const { logger, output } = setup();
    reportMetrics(logger, { type: 'train', epoch: 0.3, metrics: { loss: 0.5, accuracy: Number.NaN } });
    reportMetrics(logger, { type: 'val', epoch: 1, metrics: { loss: 0.4 } });
    const lines = eventsOf(readStrictOutput(output()), 'METRICS');
    expect(lines[0].fields).toMatchObject({
      type: 'train',
      epoch: 0.3,
      metrics: { loss: 0.5, accuracy: null },
    });
    expect(lines[1].fields).toMatchObject({ type: 'val', epoch: 1, metrics: { loss: 0.4 } });
    expect(lines[0].message).toBe('metrics');
  });

  it('CHECKPOINT: id, relative 8-digit subdir, sizeb, best_now, optional', () => {
    const { logger, output } = setup();
    reportCheckpoint(logger, {
      id: 0,
      subdir: checkpointSubdir(0),
      sizeb: 1234,
      bestNow: true,
      optional: { epoch: 0.5, val_metrics: { loss: 0.4 } },
    });
    reportCheckpoint(logger, { id: 1, subdir: checkpointSubdir(1), sizeb: 0, bestNow: false });
    const [first, second] = eventsOf(readStrictOutput(output()), 'CHECKPOINT');
    expect(first.fields).toMatchObject({
      id: 0,
      subdir: '00000000',
      sizeb: 1234,
      best_now: true,
      optional: { epoch: 0.5, val_metrics: { loss: 0.4 } },
    });
    expect(second.fields).toMatchObject({ id: 1, subdir: '00000001', best_now: false, optional: null });
  });

  it('CHECKPOINT refuses an absolute or malformed subdir before printing anything', () => {
    const { mem, logger } = setup();
    const base = { id: 0, sizeb: 1, bestNow: true };
    expect(() => reportCheckpoint(logger, { ...base, subdir: '/sly_task_data/results/00000000' })).toThrow(
      /8 digits/,
    );
    expect(() => reportCheckpoint(logger, { ...base, subdir: '0' })).toThrow(/8 digits/);
    expect(() => reportCheckpoint(logger, { ...base, subdir: '00000000', sizeb: 1.5 })).toThrow(/sizeb/);
    expect(() => reportCheckpoint(logger, { ...base, subdir: '00000000', id: -1 })).toThrow(/id/);
    expect(mem.lines).toEqual([]);
  });

  it('checkpointSubdir pads to 8 digits and refuses what cannot be padded', () => {
    expect(checkpointSubdir(12)).toBe('00000012');
    expect(() => checkpointSubdir(1.5)).toThrow(RangeError);
    expect(() => checkpointSubdir(100_000_000)).toThrow(RangeError);
  });

  it('MODEL_APPLIED: the literal message "model applied"', () => {
    const { logger, output } = setup();
    reportModelApplied(logger);
    const lines = parseAgentOutput(output());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      message: 'model applied',
      eventType: 'EventType.MODEL_APPLIED',
      shipped: true,
    });
  });
});
