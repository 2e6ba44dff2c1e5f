import { parseAgentLine, strictLineProblems } from '../helpers/agent';
import { createLogger } from '../../src/protocol/logger';
import type { LevelName } from '../../src/protocol/levels';
import { levelFromEnv, parseLevel } from '../../src/protocol/levels';
import { memorySink } from '../../src/protocol/sink';

const fixedNow = (): Date => new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6));

function setup(level?: LevelName) {
  const mem = memorySink();
  const logger = createLogger({ sink: mem.sink, level, now: fixedNow });
  return { mem, logger };
}

describe('logger (spec D.3)', () => {
  it('hands each line to the sink before the call returns', () => {
    const { mem, logger } = setup();
    for (let i = 0; i < 50; i += 1) {
      logger.info(`line ${i}`);
      expect(mem.lines).toHaveLength(i + 1);
    }
  });

  it('writes one strict JSON object per call with extras at the top level', () => {
    const { mem, logger } = setup();
    logger.warn('Something odd', { item: 'a.jpg', count: 3 });
    expect(mem.lines).toEqual([
      '{"message":"Something odd","item":"a.jpg","count":3,"timestamp":"2026-01-02T03:04:05.006Z","level":"warn"}',
    ]);
    expect(strictLineProblems(mem.lines[0])).toEqual([]);
  });

  it('drops lines below its level and keeps those at or above', () => {
    const { mem, logger } = setup('warn');
    logger.trace('t');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    logger.fatal('f');
    expect(mem.lines.map((l) => (JSON.parse(l) as { level: string }).level)).toEqual([
      'warn',
      'error',
      'fatal',
    ]);
    expect(logger.isLevelEnabled('info')).toBe(false);
    expect(logger.isLevelEnabled('error')).toBe(true);
  });

  it('writes trace lines at level trace, which the agent maps to 5', () => {
    const { mem, logger } = setup('trace');
    logger.trace('deep');
    expect(parseAgentLine(mem.lines[0]).levelNo).toBe(5);
  });

  it('lifts event lines to info and writes them whatever the level (spec D.2)', () => {
    const { mem, logger } = setup('debug');
    logger.debug('progress', { event_type: 'EventType.PROGRESS', subtask: 's', current: 0, total: 1 });
    expect(JSON.parse(mem.lines[0])).toMatchObject({ level: 'info', event_type: 'EventType.PROGRESS' });
    const { mem: mem2, logger: quiet } = setup('fatal');
    quiet.debug('progress', { event_type: 'EventType.PROGRESS' });
    quiet.info('plain');
    expect(mem2.lines).toHaveLength(1);
    expect(JSON.parse(mem2.lines[0])).toMatchObject({ message: 'progress', level: 'info' });
  });

  it('child loggers add their extras; the call wins on a clash; both share the sink', () => {
    const { mem, logger } = setup();
    const child = logger.child({ dataset: 'ds1', item: 'x' });
    child.info('read', { item: 'y' });
    logger.info('parent');
    expect(JSON.parse(mem.lines[0])).toMatchObject({ dataset: 'ds1', item: 'y' });
    expect(JSON.parse(mem.lines[1])).not.toHaveProperty('dataset');
  });

  it('two loggers in one process do not share output', () => {
    const a = setup();
    const b = setup();
    a.logger.info('to a');
    expect(a.mem.lines).toHaveLength(1);
    expect(b.mem.lines).toHaveLength(0);
  });

  it('does not let winston touch a message key or an Error in extras', () => {
    const { mem, logger } = setup();
    logger.error('outer', { message: 'inner', error: new Error('boom') });
    expect(JSON.parse(mem.lines[0])).toMatchObject({
      message: 'outer',
      message_: 'inner',
      error: 'Error: boom',
    });
  });
});

describe('LOG_LEVEL (spec D.3, H.4)', () => {
  it('reads LOG_LEVEL, then LOGLEVEL, defaulting to info', () => {
    expect(levelFromEnv({ LOG_LEVEL: 'DEBUG' })).toEqual({ level: 'debug' });
    expect(levelFromEnv({ LOGLEVEL: 'warning' })).toEqual({ level: 'warn' });
    expect(levelFromEnv({ LOG_LEVEL: 'ERROR', LOGLEVEL: 'DEBUG' })).toEqual({ level: 'error' });
    expect(levelFromEnv({})).toEqual({ level: 'info' });
    expect(levelFromEnv({ LOG_LEVEL: 'loud' })).toEqual({ level: 'info', unknownValue: 'loud' });
  });

  it('understands Python names and numbers', () => {
    expect(parseLevel('CRITICAL')).toBe('fatal');
    expect(parseLevel('10')).toBe('debug');
    expect(parseLevel(' Trace ')).toBe('trace');
    expect(parseLevel('verbose')).toBeUndefined();
  });
});
