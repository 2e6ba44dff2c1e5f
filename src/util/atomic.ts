/**
 * Writing a file or a folder so that its final name shows the whole of it or nothing: the content is written
 * under a temporary name in the same folder (the same file system, where a rename is atomic), then renamed to
 * the final name. A reader sees the old file (or none) or the whole new one; a failure removes the temporary
 * and leaves the final name as it was; a crash leaves at most a hidden temporary. Every atomic write of the
 * runtime goes through `writeAtomically`.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const fsp = fs.promises;
/** fs's callback writeFile, as a promise: cheaper per small file than fs.promises' (see regular-file.ts). */
const writeFileCallback = promisify(fs.writeFile);

/** Unique to this process, even beside another process with the same pid (containers sharing a volume). */
const PROCESS_TAG = `${process.pid}-${randomBytes(3).toString('hex')}`;
let tempCounter = 0;

/** The longest file name (bytes) the usual file systems take. */
const NAME_MAX = 255;

/**
 * `.<name><suffix>`, with `name` cut (at a character boundary) so the whole fits in NAME_MAX bytes: a name that
 * is itself within the limit must not fail for the temporary name we add around it (ENAMETOOLONG).
 */
export function hiddenName(name: string, suffix: string): string {
  const room = NAME_MAX - 1 - Buffer.byteLength(suffix);
  let cut = name;
  while (Buffer.byteLength(cut) > room) cut = cut.slice(0, -1);
  // A lone high surrogate left by the cut would not be valid UTF-8.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `.${cut}${suffix}`;
}

/**
 * Whether a file name is one of our temporaries: `temporarySibling`'s, the inference task's partial results
 * project (`.<project>.partial-<pid>`) or `probeWritable`'s probe.
 */
export function isTemporaryName(name: string): boolean {
  return (
    /^\..+\.\d+-[0-9a-f]{6}-\d+\.tmp$/.test(name) ||
    /^\..+\.partial-\d+$/.test(name) ||
    /^\.write-probe\..+\.tmp$/.test(name)
  );
}

/** A hidden, unique name beside `target`: `.<name>.<pid>-<random>-<n>.tmp` (name shortened to fit). */
export function temporarySibling(target: string): string {
  return path.join(
    path.dirname(target),
    hiddenName(path.basename(target), `.${PROCESS_TAG}-${++tempCounter}.tmp`),
  );
}

export interface AtomicWriteOptions {
  /** The temporary name; it must be in `target`'s folder. Default: `temporarySibling(target)`. */
  temp?: string;
}

/**
 * `write(temp)` puts the content under the temporary name (a file, or a folder it creates); it is then renamed
 * to `target`, replacing a file there (a folder there must be empty, or `write` removes it last). If `write` or
 * the rename fails, the temporary is removed (recursively) and the error rethrown. Returns what `write` returns.
 */
export async function writeAtomically<T>(
  target: string,
  write: (temp: string) => Promise<T>,
  options: AtomicWriteOptions = {},
): Promise<T> {
  const temp = options.temp ?? temporarySibling(target);
  try {
    const result = await write(temp);
    await fsp.rename(temp, target);
    return result;
  } catch (e) {
    await fsp.rm(temp, { recursive: true, force: true }).catch(() => undefined);
    throw await explainWriteError(e, target);
  }
}

/**
 * A write that failed for a reason the user can fix, naming what was being written: Node's own message names
 * no path for a failed write() ("ENOSPC: no space left on device, write"), and a folder that cannot be written
 * may surface as a missing file further on. `code` is the system's (ENOSPC, EACCES, ...).
 */
export class WriteFailure extends Error {
  readonly code: string;

  constructor(
    /** The file or folder being written. */
    readonly path: string,
    /** What went wrong, e.g. "no space left on the device (ENOSPC)". */
    readonly reason: string,
    code: string,
    cause: unknown,
  ) {
    super(`cannot write ${path}: ${reason}`, { cause });
    this.name = 'WriteFailure';
    this.code = code;
  }
}

const NO_SPACE: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT']);
const NOT_WRITABLE: ReadonlySet<string> = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * `e`, a failure to write `target`, as a WriteFailure naming it when the disk is full or the folder cannot be
 * written (the folder: where the failing call was, else `target`'s); anything else is returned as it is.
 */
export async function explainWriteError(e: unknown, target: string): Promise<unknown> {
  if (e instanceof WriteFailure) return e;
  const { code, path: failedAt } = (e ?? {}) as NodeJS.ErrnoException;
  if (typeof code !== 'string') return e;
  if (NO_SPACE.has(code)) return new WriteFailure(target, `no space left on the device (${code})`, code, e);
  const folder = path.dirname(failedAt ?? target);
  if (NOT_WRITABLE.has(code) || (code === 'ENOENT' && (await notWritable(folder)))) {
    return new WriteFailure(target, `the folder ${folder} is not writable (${code})`, code, e);
  }
  return e;
}

/** Whether `dir` exists and this process may not write in it (a read-only mount, no permission). */
async function notWritable(dir: string): Promise<boolean> {
  try {
    await fsp.access(dir, fs.constants.W_OK);
    return false;
  } catch (e) {
    return NOT_WRITABLE.has(String((e as NodeJS.ErrnoException).code));
  }
}

/**
 * Writes and removes a probe file in `dir` (created if missing), so that a folder results go to is known to
 * be writable before the work whose results it is to hold: a WriteFailure naming `dir` otherwise.
 */
export async function probeWritable(dir: string): Promise<void> {
  const probe = path.join(dir, `.write-probe.${PROCESS_TAG}.tmp`);
  try {
    await fsp.mkdir(dir, { recursive: true });
    await writeFileCallback(probe, 'probe');
    await fsp.rm(probe, { force: true });
  } catch (e) {
    await fsp.rm(probe, { force: true }).catch(() => undefined);
    const code = String((e as NodeJS.ErrnoException).code);
    const reason = NO_SPACE.has(code)
      ? `no space left on the device (${code})`
      : NOT_WRITABLE.has(code)
        ? `the folder is not writable (${code})`
        : `a probe file could not be written in it (${(e as Error).message})`;
    throw new WriteFailure(dir, reason, code, e);
  }
}

/** `writeAtomically` for a folder: the temporary folder is created (its parent must exist) before `write`. */
export function writeFolderAtomically<T>(
  target: string,
  write: (tempDir: string) => Promise<T>,
  options: AtomicWriteOptions = {},
): Promise<T> {
  return writeAtomically(
    target,
    async (temp) => {
      await fsp.mkdir(temp);
      return write(temp);
    },
    options,
  );
}

/** Writes `data` (a string as UTF-8) to `file` atomically. */
export function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  return writeAtomically(file, (temp) => writeFileCallback(temp, data));
}

/** Copies `source` to `target` atomically. */
export function copyFileAtomic(source: string, target: string): Promise<void> {
  return writeAtomically(target, (temp) => fsp.copyFile(source, temp));
}

/** fsyncs a file or folder, so that a rename that follows (or preceded, for a folder) is durable. */
export async function syncPath(p: string): Promise<void> {
  const handle = await fsp.open(p, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsyncs every file and folder under `dir` (and `dir` itself); returns the total bytes of the files. */
export async function syncTreeAndMeasure(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      total += await syncTreeAndMeasure(p);
    } else if (entry.isFile()) {
      total += (await fsp.stat(p)).size;
      await syncPath(p);
    }
  }
  await syncPath(dir);
  return total;
}
