/**
 * The real launcher run as the agent runs it (spec H.1): `python3 -u src/train.py` (or inference.py) on the
 * built checkout, as a child process. Only the e2e and contract projects use this (the unit project starts no
 * process); the task folders themselves come from test/training/e2e-helpers.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { builtFile, REPO_ROOT } from '../contract/built';
import { readStrictOutput, type AgentLogLine } from './agent';

export interface LauncherRun {
  status: number | null;
  stdout: string;
  stderr: string;
  lines: AgentLogLine[];
}

/**
 * `python3 -u src/train.py` (or inference.py) with the task folder, stdout on a pipe, as the agent starts it
 * (spec H.1); `args` follow the script (the agent passes none; a cluster job may pass `--shard i/n`).
 */
export function runLauncher(
  root: string,
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 240_000,
  entry: 'train' | 'inference' = 'train',
  args: readonly string[] = [],
): LauncherRun {
  builtFile(`src/${entry}.ts`);
  builtFile(entry === 'train' ? 'src/training/run.ts' : 'src/inference/run.ts');
  const result = spawnSync('python3', ['-u', path.join(REPO_ROOT, 'src', `${entry}.py`), ...args], {
    env: {
      PATH: process.env.PATH,
      LOG_LEVEL: 'DEBUG',
      SLY_TASK_DATA: root,
      TFJS_BACKEND: 'wasm',
      PYTHONDONTWRITEBYTECODE: '1', // no __pycache__ in the checkout
      ...env,
    },
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error !== undefined) throw result.error;
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    lines: readStrictOutput(result.stdout),
  };
}

/** The lines of one event type (agent-parsed lines). */
export function events(lines: readonly AgentLogLine[], name: string): AgentLogLine[] {
  return lines.filter((l) => l.eventType === `EventType.${name}`);
}

export interface Stopped {
  status: number | null;
  lines: AgentLogLine[];
  stdout: string;
  /** ms from the signal to the exit. */
  stopMs: number;
}

/** Runs the launcher and sends SIGTERM once `when` holds for a line of its output. */
export function runAndStop(
  root: string,
  entry: 'train' | 'inference',
  when: (line: string) => boolean,
  env: NodeJS.ProcessEnv = {},
): Promise<Stopped> {
  builtFile(`src/${entry}.ts`);
  const child = spawn('python3', ['-u', path.join(REPO_ROOT, 'src', `${entry}.py`)], {
    env: {
      PATH: process.env.PATH,
      LOG_LEVEL: 'DEBUG',
      SLY_TASK_DATA: root,
      PYTHONDONTWRITEBYTECODE: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let sentAt = 0;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (sentAt === 0 && stdout.split('\n').some(when)) {
      sentAt = Date.now();
      child.kill('SIGTERM');
    }
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no exit; output:\n${stdout.slice(-3000)}`));
    }, 240_000);
    child.on('exit', (status) => {
      clearTimeout(timer);
      if (sentAt === 0) {
        reject(new Error(`exited ${status} before the stop was sent:\n${stdout.slice(-3000)}\n${stderr}`));
        return;
      }
      resolve({ status, lines: readStrictOutput(stdout), stdout, stopMs: Date.now() - sentAt });
    });
  });
}
