import { spawnSync } from 'child_process';
import { agentActions, eventsOf, readStrictOutput } from '../helpers/agent';
import { builtFile } from './built';

/**
 * Run a script against the built protocol module in a real node process, stdout on a pipe as under the agent.
 * With `slowReader`, the reader starts a second late, so the pipe fills up while the script writes.
 */
function runScript(body: string, env: NodeJS.ProcessEnv = {}, slowReader = false) {
  const protocol = builtFile('src/protocol/index.ts');
  const script = `const p = require(${JSON.stringify(protocol)});\n${body}`;
  const options = {
    env: { PATH: process.env.PATH, ...env, SCRIPT: script, NODE: process.execPath },
    encoding: 'utf8' as const,
    maxBuffer: 64 * 1024 * 1024,
  };
  const result = slowReader
    ? spawnSync('bash', ['-c', 'set -o pipefail; "$NODE" -e "$SCRIPT" | (sleep 1; cat)'], options)
    : spawnSync(process.execPath, ['-e', script], options);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('log protocol from a real process (spec D)', () => {
  it('every event kind reads as the agent reads it, then a crash exits 1 with the crash line last', () => {
    const { status, stdout, stderr } = runScript(
      `
      p.runMain('CONTRACT_TEST', async () => {
        const log = p.defaultLogger();
        log.info('Input config', { config: { lr: 0.1 }, name: 'reserved key on purpose' });
        const bar = p.Progress.start({ logger: log, subtask: 'Model training: ', total: 3 });
        bar.iterDone(); bar.iterDone(); bar.iterDone();
        p.reportMetrics(log, { type: 'train', epoch: 0.5, metrics: { loss: 0.7, accuracy: NaN } });
        p.reportMetrics(log, { type: 'val', epoch: 1, metrics: { loss: 0.6 } });
        p.reportCheckpoint(log, { id: 0, subdir: p.checkpointSubdir(0), sizeb: 10, bestNow: true, optional: { epoch: 1, val_metrics: { loss: 0.6 } } });
        p.reportModelApplied(log);
        throw new Error('boom at the end');
      });`,
      { LOG_LEVEL: 'DEBUG' },
    );
    expect(stderr).toBe('');
    expect(status).toBe(1);
    const lines = readStrictOutput(stdout);
    expect(lines[0]).toMatchObject({ message: 'Main started.', level: 'DEBUG' });
    expect(lines[1].fields).toMatchObject({ config: { lr: 0.1 }, name_: 'reserved key on purpose' });
    expect(eventsOf(lines, 'PROGRESS').map((l) => l.fields.current)).toEqual([0, 1, 2, 3]);
    expect(eventsOf(lines, 'METRICS').map((l) => l.fields.metrics)).toEqual([
      { loss: 0.7, accuracy: null },
      { loss: 0.6 },
    ]);
    expect(agentActions(lines, 'train').map((l) => l.fields.subdir)).toEqual(['00000000']);
    expect(agentActions(lines, 'inference')).toHaveLength(1);
    const last = lines[lines.length - 1];
    expect(last).toMatchObject({
      message: 'Unexpected exception in main.',
      level: 'FATAL',
      eventType: 'EventType.TASK_CRASHED',
    });
    expect(last.fields).toMatchObject({ main_name: 'CONTRACT_TEST', exc_str: 'boom at the end' });
    expect(eventsOf(lines, 'TASK_CRASHED')).toHaveLength(1);
    for (const event of [...eventsOf(lines, 'PROGRESS'), ...eventsOf(lines, 'CHECKPOINT')])
      expect(event.shipped).toBe(true);
  });

  it('success exits 0 with no crash line; the default level (info) hides debug lines but never events', () => {
    const { status, stdout } = runScript(
      `
      p.runMain('OK_TEST', () => {
        const log = p.defaultLogger();
        log.debug('hidden');
        p.reportModelApplied(log);
      });`,
      { LOG_LEVEL: 'ERROR' },
    );
    expect(status).toBe(0);
    const lines = readStrictOutput(stdout);
    expect(lines.map((l) => l.message)).toEqual(['model applied']);
  });

  it('an unknown LOG_LEVEL falls back to info and says so', () => {
    const { stdout } = runScript(`p.defaultLogger().info('x');`, { LOG_LEVEL: 'LOUD' });
    const lines = readStrictOutput(stdout);
    expect(lines[0]).toMatchObject({ message: 'Unknown LOG_LEVEL value; using info.', level: 'WARN' });
    expect(lines[1].message).toBe('x');
  });

  it('loses no line when the process exits right after writing 8 MB to a busy pipe', () => {
    // Touching process.stdout makes the pipe non-blocking (EAGAIN when full); the sink must still deliver all.
    const { status, stdout } = runScript(
      `
      process.stdout;
      const log = p.defaultLogger();
      const filler = 'x'.repeat(1000);
      for (let i = 0; i < 8000; i += 1) log.info('line', { i, filler });
      p.reportModelApplied(log);
      process.exit(0);`,
      {},
      true,
    );
    expect(status).toBe(0);
    const lines = readStrictOutput(stdout);
    expect(lines).toHaveLength(8001);
    expect(lines[7999].fields.i).toBe(7999);
    expect(lines[8000].eventType).toBe('EventType.MODEL_APPLIED');
  });

  it('an uncaught exception in a callback also ends with the crash line and exit 1', () => {
    const { status, stdout } = runScript(`
      p.runMain('STRAY', () => new Promise(() => { setTimeout(() => { throw new RangeError('late'); }, 10); }));`);
    expect(status).toBe(1);
    const lines = readStrictOutput(stdout);
    expect(lines[lines.length - 1].fields).toMatchObject({
      event_type: 'EventType.TASK_CRASHED',
      exc_str: 'late',
    });
  });
});
