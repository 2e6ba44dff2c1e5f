/**
 * Runs a compiled entry point (dist/src/train.js or inference.js) as the agent does: a child `node` process
 * with the task folder in SLY_TASK_DATA, its stdout read as JSON log lines. Shared by `npm run example` and
 * the benchmarks that run whole tasks.
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

/** One log line as the agent reads it. */
export interface AgentLine {
  message: string;
  level: string;
  event_type?: string;
  [key: string]: unknown;
}

export interface TaskProcessOptions {
  script: string;
  taskDir: string;
  /** Node options before the script (e.g. `--require` a preload). */
  nodeArgs?: readonly string[];
  /** Each log line as it arrives. */
  onLine?: (line: AgentLine) => void;
  /** Each stdout line that is not JSON. */
  onText?: (text: string) => void;
  /** `inherit` (default): the child's stderr goes to ours; `collect`: returned in the result. */
  stderr?: 'inherit' | 'collect';
}

export interface TaskProcessResult {
  lines: AgentLine[];
  code: number | null;
  /** The child's stderr when collected, else empty. */
  stderr: string;
}

/** Resolves when the process ends, whatever its exit code: callers decide what a failure means. */
export function runTaskProcess(opts: TaskProcessOptions): Promise<TaskProcessResult> {
  return new Promise((resolve, reject) => {
    const collect = opts.stderr === 'collect';
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.script], {
      env: { ...process.env, SLY_TASK_DATA: opts.taskDir },
      stdio: ['ignore', 'pipe', collect ? 'pipe' : 'inherit'],
    });
    if (child.stdout === null) throw new Error('the task process has no stdout pipe');
    const lines: AgentLine[] = [];
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    readline.createInterface({ input: child.stdout }).on('line', (text) => {
      let line: AgentLine;
      try {
        line = JSON.parse(text) as AgentLine;
      } catch {
        opts.onText?.(text);
        return;
      }
      lines.push(line);
      opts.onLine?.(line);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ lines, code, stderr }));
  });
}

/**
 * The rest of a training task folder as the agent lays it out beside data/ (the caller's project): an empty
 * model/ (train from scratch), an empty results/, and task_config.json.
 */
export async function writeTrainTaskFolder(taskDir: string, config: unknown): Promise<void> {
  await fsp.mkdir(path.join(taskDir, 'model'));
  await fsp.mkdir(path.join(taskDir, 'results'));
  await fsp.writeFile(path.join(taskDir, 'task_config.json'), JSON.stringify(config, null, 2));
}
