import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { readStrictOutput } from '../helpers/agent';
import type { AgentLogLine } from '../helpers/agent';
import { REPO_ROOT, builtFile } from './built';

type Task = 'train' | 'inference';

let taskDir: string;
beforeEach(() => {
  taskDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sly-task-'));
  // The agent's own entries must not disturb anything (spec A.1).
  fs.mkdirSync(path.join(taskDir, 'logs'));
  fs.writeFileSync(path.join(taskDir, '__do_not_clean.marker'), '');
});
afterEach(() => fs.rmSync(taskDir, { recursive: true, force: true }));

/** Start a task the way the agent does: `python -u <launcher>` with the task folder, stdout on a pipe (H.1). */
function launch(task: Task, config: string | undefined, extraEnv: NodeJS.ProcessEnv = {}, launcher?: string) {
  builtFile(`src/${task}.ts`);
  if (config !== undefined) fs.writeFileSync(path.join(taskDir, 'task_config.json'), config);
  const result = spawnSync('python3', ['-u', launcher ?? path.join(REPO_ROOT, 'src', `${task}.py`)], {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'DEBUG', SLY_TASK_DATA: taskDir, ...extraEnv },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function crashLine(lines: AgentLogLine[]): AgentLogLine {
  const last = lines[lines.length - 1];
  expect(last).toBeDefined();
  expect(last.eventType).toBe('EventType.TASK_CRASHED');
  expect(lines.filter((l) => l.eventType === 'EventType.TASK_CRASHED')).toHaveLength(1);
  return last;
}

describe('entry points through the Python launchers (spec H.1, H.3)', () => {
  it.each<[Task, string, string, string]>([
    [
      'train',
      '{"epochs": 2,\n  "lr": 0.1\n  "seed": 1}',
      'task_config.json: invalid JSON at line 3, column 3',
      '',
    ],
    [
      'train',
      '{"batch_size": {"train": "8"}}',
      'field "batch_size.train": expected an integer, found "8" (a string)',
      'batch_size.train',
    ],
    ['train', '{"val_evrey": 2}', 'field "val_evrey": unknown key; did you mean "val_every"?', 'val_evrey'],
    ['train', '{"epochs": 2, "val_every": 3}', 'field "val_every": 3 is more than epochs (2)', 'val_every'],
    [
      'train',
      `{"custom_model_config": ${'{"a": '.repeat(50_000)}1${'}'.repeat(50_000)}}`,
      'task_config.json: field "custom_model_config.a.a.a',
      '',
    ],
    [
      'inference',
      `{"model": {}, "mode": ${'['.repeat(50_000)}${']'.repeat(50_000)}}`,
      'nested more than 100 levels',
      '',
    ],
    [
      'inference',
      '{"model": {"gpu_device": -1}}',
      'field "model.gpu_device": expected a number >= 0, found -1',
      'model.gpu_device',
    ],
    ['inference', '{"model": {}, "mode": {"name": "full_imgae"}}', 'did you mean "full_image"?', 'mode.name'],
    [
      'inference',
      '{"model": {}, "mode": {"name": "roi", "bounds": {"left": 5}}}',
      'field "mode.bounds.left": expected a string',
      'mode.bounds.left',
    ],
  ])('%s with %j exits 2 (config), the crash line last, naming the field', (task, config, message, field) => {
    const { status, stdout } = launch(task, config);
    expect(status).toBe(2);
    const lines = readStrictOutput(stdout);
    expect(lines[0]).toMatchObject({ message: 'Main started.' });
    const crash = crashLine(lines);
    expect(crash.level).toBe('FATAL');
    expect(String(crash.fields.exc_str)).toContain(message);
    if (field !== '') expect(crash.fields.error_context).toMatchObject({ field });
  });

  it('logs "Input config" and "Full config" before handing over (train)', () => {
    const { stdout } = launch('train', '{"epochs": 2}');
    const messages = readStrictOutput(stdout).map((l) => l.message);
    expect(messages).toEqual(expect.arrayContaining(['Input config', 'Full config']));
    expect(messages.indexOf('Input config')).toBeLessThan(messages.indexOf('Full config'));
  });

  it('reads the deprecated task_settings.json when task_config.json is missing', () => {
    fs.writeFileSync(path.join(taskDir, 'task_settings.json'), '{"epochs": "x"}');
    const { status, stdout } = launch('train', undefined);
    expect(status).toBe(2);
    expect(String(crashLine(readStrictOutput(stdout)).fields.exc_str)).toContain(
      'task_settings.json: field "epochs"',
    );
  });

  it('sets CUDA_VISIBLE_DEVICES from gpu_devices before tfjs could load', () => {
    // A preload records the variable at exit and at the first tfjs import, if any happens.
    const probe = path.join(taskDir, 'probe.js');
    fs.writeFileSync(
      probe,
      `const Module = require('module'); const orig = Module._load; let atTfjs;
       Module._load = function (req, ...rest) {
         if (atTfjs === undefined && String(req).startsWith('@tensorflow/')) atTfjs = String(process.env.CUDA_VISIBLE_DEVICES);
         return orig.call(this, req, ...rest);
       };
       process.on('exit', () => process.stderr.write('PROBE ' + JSON.stringify({ cuda: process.env.CUDA_VISIBLE_DEVICES, atTfjs }) + '\\n'));`,
    );
    const { stderr } = launch('train', '{"gpu_devices": [2, 5]}', { NODE_OPTIONS: `--require ${probe}` });
    const probeLine = stderr.split('\n').find((l) => l.startsWith('PROBE '));
    expect(probeLine).toBeDefined();
    const seen = JSON.parse((probeLine as string).slice(6)) as { cuda?: string; atTfjs?: string };
    expect(seen.cuda).toBe('2,5');
    if (seen.atTfjs !== undefined) expect(seen.atTfjs).toBe('2,5');
  });

  it('a launcher without a build says so in a crash line and exits 1', () => {
    const fakeRepo = path.join(taskDir, 'repo');
    fs.mkdirSync(path.join(fakeRepo, 'src'), { recursive: true });
    const launcher = path.join(fakeRepo, 'src', 'train.py');
    fs.copyFileSync(path.join(REPO_ROOT, 'src', 'train.py'), launcher);
    // The launchers share their body; it travels with them.
    fs.copyFileSync(
      path.join(REPO_ROOT, 'src', 'sly_launch.py'),
      path.join(fakeRepo, 'src', 'sly_launch.py'),
    );
    const { status, stdout } = launch('train', '{}', {}, launcher);
    expect(status).toBe(1);
    const crash = crashLine(readStrictOutput(stdout));
    expect(crash.fields.exc_str).toMatch(
      /not built: .*dist\/src\/train\.js is missing \(run `npm run build`\)/,
    );
  });

  it('a missing node binary is said in a crash line too', () => {
    const { status, stdout } = launch('inference', '{}', { SLY_NODE: '/nonexistent/node' });
    expect(status).toBe(1);
    expect(crashLine(readStrictOutput(stdout)).fields.exc_str).toMatch(/Cannot start \/nonexistent\/node/);
  });
});
