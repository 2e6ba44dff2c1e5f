import { parseAgentOutput, readStrictOutput } from '../helpers/agent';
import { configError, dataError, modelError } from '../../src/errors';
import { createLogger } from '../../src/protocol/logger';
import { EXIT_CODES, EXIT_CRASH, EXIT_OK, exitCodeOf, runMain } from '../../src/protocol/main';
import { memorySink } from '../../src/protocol/sink';
import { InterruptedError, StopRequests } from '../../src/protocol/stop';

function setup() {
  const mem = memorySink();
  const logger = createLogger({ sink: mem.sink, level: 'debug' });
  const exits: number[] = [];
  return { mem, logger, exits, exit: (code: number) => void exits.push(code) };
}

describe('runMain (spec H.3)', () => {
  it('on success logs "Main started." at debug and exits 0', async () => {
    const { mem, logger, exits, exit } = setup();
    let ran = false;
    const code = await runMain(
      'TEST_MAIN',
      async () => {
        ran = true;
      },
      { logger, exit },
    );
    expect(ran).toBe(true);
    expect(code).toBe(EXIT_OK);
    expect(exits).toEqual([0]);
    const lines = readStrictOutput(mem.lines.join('\n'));
    expect(lines[0]).toMatchObject({
      message: 'Main started.',
      level: 'DEBUG',
      fields: expect.objectContaining({ main_name: 'TEST_MAIN' }),
    });
    expect(lines.some((l) => l.eventType === 'EventType.TASK_CRASHED')).toBe(false);
  });

  it('on an error prints the crash line last and exits 1', async () => {
    const { mem, logger, exits, exit } = setup();
    const code = await runMain(
      'TEST_MAIN',
      () => {
        logger.info('working');
        throw new Error('division by zero');
      },
      { logger, exit },
    );
    expect(code).toBe(EXIT_CRASH);
    expect(exits).toEqual([1]);
    const lines = readStrictOutput(mem.lines.join('\n'));
    const last = lines[lines.length - 1];
    expect(last).toMatchObject({
      message: 'Unexpected exception in main.',
      level: 'FATAL',
      eventType: 'EventType.TASK_CRASHED',
    });
    expect(last.fields).toMatchObject({ main_name: 'TEST_MAIN', exc_str: 'division by zero' });
    const stack = last.fields.stack as string[];
    expect(stack[0]).toBe('Error: division by zero');
    expect(stack.some((s) => s.includes('main.test.ts'))).toBe(true);
  });

  it("puts a TaskError's file, item and field into exc_str", async () => {
    const { mem, logger, exit } = setup();
    await runMain(
      'TEST_MAIN',
      async () => {
        throw configError('expected an integer, found "8" (string)', {
          file: 'task_config.json',
          field: 'batch_size.train',
        });
      },
      { logger, exit },
    );
    const last = parseAgentOutput(mem.lines.join('\n')).pop();
    expect(last?.fields.exc_str).toBe(
      'task_config.json: field "batch_size.train": expected an integer, found "8" (string)',
    );
    expect(last?.fields).toMatchObject({
      error_kind: 'config',
      error_context: { file: 'task_config.json', field: 'batch_size.train' },
    });
  });

  it('reports a thrown non-Error and the causes of an Error', async () => {
    const a = setup();
    await runMain('M', () => Promise.reject('plain string'), { logger: a.logger, exit: a.exit });
    expect(JSON.parse(a.mem.lines[a.mem.lines.length - 1])).toMatchObject({
      exc_str: 'plain string',
      stack: ['plain string'],
    });
    const b = setup();
    await runMain(
      'M',
      () => {
        throw new Error('outer', { cause: new TypeError('inner') });
      },
      { logger: b.logger, exit: b.exit },
    );
    const stack = (JSON.parse(b.mem.lines[b.mem.lines.length - 1]) as { stack: string[] }).stack;
    expect(stack).toContain('Caused by:');
    expect(stack).toContain('TypeError: inner');
  });

  it('turns an error thrown outside the main promise into one crash line', async () => {
    const { mem, logger, exits, exit } = setup();
    // Jest owns the real uncaught-exception path; calling our handler (the last one added) is what it would do.
    let release: () => void = () => undefined;
    const pending = runMain('M', () => new Promise<void>((resolve) => (release = resolve)), { logger, exit });
    const handlers = process.listeners('uncaughtException');
    const ours = handlers[handlers.length - 1];
    ours(new Error('from a callback'), 'uncaughtException');
    release();
    await pending;
    expect(exits).toEqual([1]);
    const crashes = parseAgentOutput(mem.lines.join('\n')).filter(
      (l) => l.eventType === 'EventType.TASK_CRASHED',
    );
    expect(crashes).toHaveLength(1);
    expect(crashes[0].fields.exc_str).toBe('from a callback');
    expect(process.listeners('uncaughtException').length).toBeLessThan(10);
  });
});

describe('runMain and stop signals', () => {
  it('a SIGTERM with a task listening: the task stops itself, and InterruptedError exits 143 with the crash line', async () => {
    const { mem, logger, exits, exit } = setup();
    const stops = new StopRequests();
    const code = await runMain(
      'TEST_MAIN',
      () =>
        new Promise<void>((resolve, reject) => {
          const off = stops.listen((signal) => {
            off();
            reject(new InterruptedError(signal, 'saved what it had'));
          });
          setImmediate(() => process.emit('SIGTERM', 'SIGTERM'));
          void resolve;
        }),
      { logger, exit, stops },
    );
    expect(code).toBe(143);
    expect(exits).toEqual([143]);
    const lines = readStrictOutput(mem.lines.join('\n'));
    expect(lines.some((l) => l.message === 'SIGTERM received: stopping')).toBe(true);
    expect(lines[lines.length - 1]).toMatchObject({ eventType: 'EventType.TASK_CRASHED' });
    expect(lines[lines.length - 1].fields.exc_str).toBe('stopped by SIGTERM: saved what it had');
  });

  it('a SIGINT with nobody listening ends at once with 130; the handlers are gone afterwards', async () => {
    const { logger, exits, exit } = setup();
    const stops = new StopRequests();
    const before = process.listenerCount('SIGINT');
    let release!: () => void;
    const pending = runMain('TEST_MAIN', () => new Promise<void>((r) => (release = r)), {
      logger,
      exit,
      stops,
    });
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    process.emit('SIGINT', 'SIGINT');
    expect(exits).toEqual([130]);
    expect(process.listenerCount('SIGINT')).toBe(before);
    release();
    await pending;
    expect(exits).toEqual([130]);
  });
});

describe('exit codes', () => {
  it('say what happened: config 2, data 3, model 4, out of resources 5, stop 143/130, anything else 1', () => {
    expect(exitCodeOf(configError('bad'))).toBe(EXIT_CODES.config);
    expect(exitCodeOf(dataError('bad'))).toBe(EXIT_CODES.data);
    expect(exitCodeOf(modelError('bad'))).toBe(EXIT_CODES.model);
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect(exitCodeOf(full)).toBe(EXIT_CODES.resources);
    expect(exitCodeOf(new Error('writing the checkpoint failed', { cause: full }))).toBe(
      EXIT_CODES.resources,
    );
    expect(exitCodeOf(new RangeError('Array buffer allocation failed'))).toBe(EXIT_CODES.resources);
    expect(exitCodeOf(new InterruptedError('SIGTERM', 'x'))).toBe(143);
    expect(exitCodeOf(new InterruptedError('SIGINT', 'x'))).toBe(130);
    expect(exitCodeOf(new TypeError('undefined is not a function'))).toBe(EXIT_CRASH);
    expect(exitCodeOf('a string')).toBe(EXIT_CRASH);
  });
});
