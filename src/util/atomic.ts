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

/** A hidden, unique name beside `target`: `.<name>.<pid>-<random>-<n>.tmp`. */
export function temporarySibling(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${PROCESS_TAG}-${++tempCounter}.tmp`);
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
    await fsp.rm(temp, { recursive: true, force: true });
    throw e;
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
