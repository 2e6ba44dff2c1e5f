/**
 * Running the ffmpeg and ffprobe programs (Debian's `ffmpeg` package; the Docker image installs it). Both are
 * found on PATH unless FFMPEG_PATH / FFPROBE_PATH name them. A program that is not there is a config error
 * that says how to install it; a program that fails gives back the start of what it printed on stderr, which
 * the callers summarise in their errors.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { TaskError } from '../errors';

export type Program = 'ffmpeg' | 'ffprobe';

const VARIABLE: Record<Program, string> = { ffmpeg: 'FFMPEG_PATH', ffprobe: 'FFPROBE_PATH' };

/** The binary to run: the environment variable's value when set, else the name on PATH. */
export function programPath(program: Program): string {
  const value = process.env[VARIABLE[program]];
  return value !== undefined && value !== '' ? value : program;
}

/** The error for a program that could not be started, with what to do about it. */
export function missingProgram(program: Program, bin: string, cause?: unknown): TaskError {
  return new TaskError(
    'config',
    `${program} is needed to read and write videos and was not found (${bin}). Install it: ` +
      "`apt-get install -y ffmpeg` on Debian or Ubuntu (the plugin's Docker image installs it), or point " +
      `${VARIABLE[program]} at the binary. A folder of .jpg/.png frames needs no ffmpeg.`,
    { file: bin },
    { cause },
  );
}

/** How much of stderr is kept: the first lines say what went wrong; a broken file can print thousands. */
const STDERR_KEEP = 16 * 1024;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The start of stderr (at most STDERR_KEEP characters). */
  stderr: string;
  /** Set when the program could not be started (ENOENT: not installed). */
  spawnError?: NodeJS.ErrnoException;
}

export interface Running {
  child: ChildProcess;
  /** Settles (never rejects) once the process has exited and its pipes are closed: nothing is left running. */
  done: Promise<Exit>;
  /** Whether `done` has settled. */
  exited(): boolean;
}

/** Starts `program` with stderr captured; stdin and stdout as `stdio` says. */
export function startProgram(program: Program, args: readonly string[], stdio: StdioOptions): Running {
  const bin = programPath(program);
  const child = spawn(bin, [...args], { stdio, windowsHide: true });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    if (stderr.length < STDERR_KEEP) stderr += text.slice(0, STDERR_KEEP - stderr.length);
  });
  // A pipe to a process that died (EPIPE) is reported through `done`, not as an unhandled stream error.
  child.stdin?.on('error', () => undefined);
  child.stdout?.on('error', () => undefined);
  let settled = false;
  const done = new Promise<Exit>((resolve) => {
    const finish = (exit: Exit): void => {
      settled = true;
      resolve(exit);
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      // Only a failure to start ends the process here; a failed kill leaves it to 'close'.
      if (child.pid === undefined) finish({ code: null, signal: null, stderr, spawnError: e });
    });
    child.once('close', (code, signal) => finish({ code, signal, stderr }));
  });
  return { child, done, exited: () => settled };
}

/** Kills the process if it still runs and waits until it is gone (reaped, pipes closed). */
export async function stopProgram(running: Running): Promise<Exit> {
  if (!running.exited()) running.child.kill('SIGKILL');
  return running.done;
}

/** Runs a program to its end, stdout collected (ffprobe's JSON, `-version`). */
export async function runProgram(
  program: Program,
  args: readonly string[],
): Promise<{ exit: Exit; stdout: string }> {
  const running = startProgram(program, args, ['ignore', 'pipe', 'pipe']);
  let stdout = '';
  running.child.stdout?.setEncoding('utf8');
  running.child.stdout?.on('data', (text: string) => void (stdout += text));
  const exit = await running.done;
  if (exit.spawnError !== undefined) throw notStarted(program, exit.spawnError);
  return { exit, stdout };
}

/** The error for a program that did not start: missing (ENOENT, or not executable) or another reason. */
export function notStarted(program: Program, e: NodeJS.ErrnoException): Error {
  const bin = programPath(program);
  if (e.code === 'ENOENT' || e.code === 'EACCES') return missingProgram(program, bin, e);
  return new Error(`${program} (${bin}) could not be started: ${e.message}`, { cause: e });
}

/**
 * What ffmpeg said on stderr, in a few words: the first distinct lines, without the `[mov,mp4 @ 0x...]`
 * prefixes that only name ffmpeg's internals, nor the absolute path it starts some lines with.
 */
export function summariseStderr(stderr: string, lines = 3): string {
  const seen: string[] = [];
  for (const raw of stderr.split(/\r?\n/)) {
    const line = raw
      .replace(/^(\[[^\]]*@ 0x[0-9a-f]+\]\s*)+/i, '')
      // "/abs/path/in.mp4: Invalid data ...": the error names the file already.
      .replace(/^\/\S*: /, '')
      .trim()
      .replace(/\.$/, '');
    if (line !== '' && !seen.includes(line)) seen.push(line);
    if (seen.length === lines) break;
  }
  return seen.join('; ');
}

/** stderr saying that this ffmpeg has no decoder for the stream's codec. */
export function isUnsupportedCodec(stderr: string): boolean {
  return /Decoder \(codec [^)]*\) not found|Unsupported codec|unknown codec|no decoder/i.test(stderr);
}

/** How an exit reads: "exit code 1", "killed by SIGKILL". */
export function describeExit(exit: Exit): string {
  return exit.signal !== null ? `killed by ${exit.signal}` : `exit code ${exit.code ?? 'unknown'}`;
}

const versions = new Map<string, Promise<[number, number] | null>>();

/** ffmpeg's version as [major, minor], null when it does not say (a git build); cached per binary. */
export function ffmpegVersion(): Promise<[number, number] | null> {
  const bin = programPath('ffmpeg');
  let version = versions.get(bin);
  if (version === undefined) {
    version = runProgram('ffmpeg', ['-hide_banner', '-version']).then(({ stdout }) => parseVersion(stdout));
    // A failure (not installed) is not cached: the next call tries again, and reports it again.
    version.catch(() => versions.delete(bin));
    versions.set(bin, version);
  }
  return version;
}

/** "ffmpeg version 5.1.9-0+deb12u1 ..." or "ffmpeg version n4.4.2 ..." -> [5, 1] / [4, 4]. */
export function parseVersion(text: string): [number, number] | null {
  const m = /ffmpeg version n?(\d+)\.(\d+)/.exec(text);
  return m === null ? null : [Number(m[1]), Number(m[2])];
}

/**
 * The options that keep every decoded frame once, with its index (no frames dropped or duplicated to a
 * constant rate, so a variable-rate video keeps its frame indices). ffmpeg 5.1 named it `-fps_mode`; older
 * versions (Ubuntu 22.04's 4.4, the Docker image's base) only know `-vsync`.
 */
export function passthroughOptions(version: [number, number] | null): string[] {
  const old = version !== null && (version[0] < 5 || (version[0] === 5 && version[1] < 1));
  return old ? ['-vsync', 'passthrough'] : ['-fps_mode', 'passthrough'];
}
