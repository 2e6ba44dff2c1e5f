/**
 * The model tar (spec C.1): an uncompressed POSIX tar with config.json and the weights at the top level.
 *
 * Packing writes a temporary file and renames it. Unpacking is defensive, because a tar is user input:
 * it refuses absolute paths, `..`, links that point outside the folder (or to nothing), hard links to anything
 * but an earlier file of the archive, devices and fifos; it refuses a compressed file (node-tar would inflate
 * it in memory) before reading past its first block; it says clearly when the tar is empty, truncated or not
 * a tar at all; and it extracts into a temporary folder that is renamed into place only when everything is
 * fine, so a failure leaves nothing half-written.
 */

import { close as closeCallback, createReadStream, read as readCallback, type Dirent } from 'fs';
import fs from 'fs/promises';
import path from 'path';
import { pipeline } from 'stream/promises';
import { promisify } from 'util';
import * as tar from 'tar';
import { TaskError, errorMessage, modelError } from '../errors';
import { writeAtomically, writeFolderAtomically } from '../util/atomic';
import { fileKindName, openRegularFile } from '../util/regular-file';
import { MODEL_CONFIG_FILE } from './config';

export interface TarEntryInfo {
  /** The path as stored in the archive. */
  path: string;
  /** node-tar's type name: File, Directory, SymbolicLink, Link, CharacterDevice, BlockDevice, FIFO, ... */
  type: string;
  linkpath?: string;
  size: number;
}

export interface PackOptions {
  /** The folder whose contents go to the top level of the tar. */
  dir: string;
  /** The tar file to write. */
  file: string;
  /** Refuse a folder without config.json (default true). */
  requireConfig?: boolean;
}

export interface PackResult {
  file: string;
  /** The paths in the archive, in order. */
  entries: string[];
  bytes: number;
}

export async function packModelDir(options: PackOptions): Promise<PackResult> {
  const dir = path.resolve(options.dir);
  const file = path.resolve(options.file);
  const stat = await fs.stat(dir).catch(() => undefined);
  if (stat === undefined || !stat.isDirectory()) throw modelError('not a folder', { file: options.dir });
  if (isInside(file, dir)) {
    throw modelError('the tar file must not be written inside the folder being packed', {
      file: options.file,
    });
  }
  const names = (await fs.readdir(dir)).sort();
  if (names.length === 0) throw modelError('the folder is empty: nothing to pack', { file: options.dir });
  if ((options.requireConfig ?? true) && !names.includes(MODEL_CONFIG_FILE)) {
    throw modelError(`no ${MODEL_CONFIG_FILE} at the top level of the folder; a model needs it (spec C.1)`, {
      file: options.dir,
    });
  }
  const found = await folderEntries(dir);
  const problems = unsafeEntries(found);
  if (problems.length === 0) problems.push(...(await linkProblems(dir, found)));
  if (problems.length > 0) {
    throw modelError(`refusing to pack what unpack would refuse: ${problems.join('; ')}`, {
      file: options.dir,
    });
  }
  try {
    // portable: no uid/gid/user names, so the tar is the same whoever packs it.
    await writeAtomically(file, (temp) => tar.create({ file: temp, cwd: dir, portable: true }, names));
  } catch (e) {
    throw modelError(`cannot write the tar: ${errorMessage(e)}`, { file: options.file }, e);
  }
  // The archive's real order (node-tar reports entries as it starts them, not as it writes them).
  const entries = (await listTarEntries(file, options.file)).map((e) => e.path);
  return { file, entries, bytes: (await fs.stat(file)).size };
}

/**
 * Compressed files by their magic bytes. node-tar would inflate gzip (and zstd, where the zlib has it) in memory
 * without a bound, so a few MB of gzip could fill the memory; a model tar is uncompressed (spec C.1).
 */
const COMPRESSIONS: readonly { name: string; magic: readonly number[]; extract: string }[] = [
  { name: 'gzip', magic: [0x1f, 0x8b], extract: 'tar -xzf' },
  { name: 'zstd', magic: [0x28, 0xb5, 0x2f, 0xfd], extract: 'tar --zstd -xf' },
  { name: 'bzip2', magic: [0x42, 0x5a, 0x68], extract: 'tar -xjf' },
  { name: 'xz', magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], extract: 'tar -xJf' },
];

/** Options for node-tar's readers: never decompress (brotli is otherwise guessed from a .tbr name). */
const UNCOMPRESSED = { brotli: false, zstd: false } as const;

const BLOCK = 512;

/** Whether a 512-byte block is a tar header: its checksum (the bytes, the checksum field read as spaces) holds. */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.length < BLOCK) return false;
  const field = Buffer.from(block.subarray(148, 156))
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .trim();
  if (!/^[0-7]+$/.test(field)) return false;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  return sum === parseInt(field, 8);
}

/**
 * What the first block says about a file that should be an uncompressed tar: a compressed file (refused with
 * how to repack it) or something else that is not a tar are errors; a tar header, zeros (an empty tar) or a
 * file too short for a block are left to the reader, which says more about them.
 */
function checkFirstBlock(head: Buffer, displayName: string): void {
  if (head.length === BLOCK && isTarHeader(head)) return;
  const compression = COMPRESSIONS.find((c) => c.magic.every((b, i) => head[i] === b));
  if (compression !== undefined) {
    throw modelError(
      `the file is ${compression.name}-compressed, but a model tar must be an uncompressed tar: unpack it ` +
        `(${compression.extract} ${displayName} -C <dir>), then pack the folder (sly-nn pack <dir> model.tar)`,
      { file: displayName },
    );
  }
  if (head.length === BLOCK && head.some((b) => b !== 0)) {
    throw modelError(
      'not a tar archive: its first 512 bytes are not a tar header (a model is an uncompressed tar, as ' +
        'tar -cf or sly-nn pack write it)',
      { file: displayName },
    );
  }
}

const readFd = promisify(readCallback);
const closeFd = promisify(closeCallback);

/** The file's first `length` bytes (fewer if it is shorter). */
async function readHead(file: string, length: number): Promise<Buffer> {
  const { fd } = await openRegularFile(file);
  try {
    const head = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await readFd(fd, head, filled, length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return head.subarray(0, filled);
  } finally {
    await closeFd(fd);
  }
}

/** node-tar's type name of a folder entry (sockets have none in tar). */
function entryType(entry: Dirent): string {
  if (entry.isFile()) return 'File';
  if (entry.isDirectory()) return 'Directory';
  if (entry.isSymbolicLink()) return 'SymbolicLink';
  if (entry.isFIFO()) return 'FIFO';
  if (entry.isCharacterDevice()) return 'CharacterDevice';
  if (entry.isBlockDevice()) return 'BlockDevice';
  return 'Socket';
}

/**
 * The folder's entries as a tar of it would list them (links not followed), for the checks unpack makes: a
 * FIFO or a device, which node-tar skips or never finishes writing (it then exits without a word), and a link
 * leading outside the folder are refused at pack time, naming them, instead of at unpack time.
 */
async function folderEntries(root: string, rel = ''): Promise<TarEntryInfo[]> {
  const out: TarEntryInfo[] = [];
  const dirents = await fs.readdir(path.join(root, rel), { withFileTypes: true });
  for (const entry of dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = rel === '' ? entry.name : `${rel}/${entry.name}`;
    const type = entryType(entry);
    const linkpath = type === 'SymbolicLink' ? await fs.readlink(path.join(root, p)) : undefined;
    out.push({ path: p, type, size: 0, ...(linkpath !== undefined ? { linkpath } : {}) });
    if (type === 'Directory') out.push(...(await folderEntries(root, p)));
  }
  return out;
}

/** Links of `root` that point to nothing, or (through other links) outside it, as unpack checks them. */
async function linkProblems(root: string, entries: readonly TarEntryInfo[]): Promise<string[]> {
  const realRoot = await fs.realpath(root);
  const problems: string[] = [];
  for (const entry of entries) {
    if (entry.type !== 'SymbolicLink') continue;
    const real = await fs.realpath(path.join(root, entry.path)).catch(() => undefined);
    if (real === undefined) problems.push(`the link "${entry.path}" points to nothing`);
    else if (!isInside(real, realRoot)) problems.push(`the link "${entry.path}" resolves outside the folder`);
  }
  return problems;
}

/** Every entry of a tar, or a model error saying why it cannot be read (empty, truncated, not a tar). */
export async function listTarEntries(file: string, displayName = file): Promise<TarEntryInfo[]> {
  const stat = await fs.stat(file).catch(() => undefined);
  if (stat === undefined) throw modelError('tar file not found', { file: displayName });
  if (!stat.isFile()) {
    throw modelError(`this is ${fileKindName(stat)}, not a regular file: not a tar file`, {
      file: displayName,
    });
  }
  if (stat.size === 0) throw modelError('the tar file is empty (0 bytes)', { file: displayName });
  checkFirstBlock(await readHead(file, BLOCK), displayName);
  const entries: TarEntryInfo[] = [];
  try {
    await readEntries(file, (entry) => void entries.push(entry));
  } catch (e) {
    throw modelError(await describeReadError(e, file, entries), { file: displayName }, e);
  }
  if (entries.length === 0) throw modelError('the tar file has no entries', { file: displayName });
  return entries;
}

/** A pax record of GNU tar's sparse formats (`GNU.sparse.major=1`, `GNU.sparse.map=...`, ...). */
const GNU_SPARSE_RECORD = /(^|\n)\d+ GNU\.sparse\./;
const GNU_SPARSE_NAME = /(?:^|\n)\d+ GNU\.sparse\.name=([^\n]*)\n/;

/**
 * Every entry of the tar in order, with those node-tar ignores when unpacking (it drops GNU sparse entries,
 * type S, without a word) and the entries of GNU's pax sparse format (a plain file named
 * `GNUSparseFile.N/<name>` holding the sparse map and data, after a pax header of GNU.sparse records) typed
 * `SparseFile`: unsafeEntries refuses both, naming them, where unpacking would leave the file out or mangled.
 */
async function readEntries(file: string, onEntry: (entry: TarEntryInfo) => void): Promise<void> {
  let sparseName: string | undefined;
  const parser = tar.list({
    strict: true,
    ...UNCOMPRESSED,
    onReadEntry: (e) => {
      const sparse = sparseName;
      sparseName = undefined;
      onEntry({
        path: sparse === undefined || sparse === '' ? e.path : sparse,
        type: sparse === undefined ? e.type : 'SparseFile',
        linkpath: e.linkpath,
        size: e.size ?? 0,
      });
    },
  });
  parser.on('ignoredEntry', (e: tar.ReadEntry) => {
    onEntry({ path: e.path, type: e.type, linkpath: e.linkpath, size: e.size ?? 0 });
  });
  parser.on('meta', (body: string) => {
    if (GNU_SPARSE_RECORD.test(body)) sparseName = GNU_SPARSE_NAME.exec(body)?.[1] ?? '';
  });
  await pipeline(createReadStream(file), parser);
}

async function describeReadError(e: unknown, file: string, seen: readonly TarEntryInfo[]): Promise<string> {
  const text = errorMessage(e);
  if (/Truncated input/i.test(text)) {
    const last = seen[seen.length - 1];
    return `the tar file is truncated${last !== undefined ? ` (it ends inside or after "${last.path}")` : ''}; download or copy it again`;
  }
  if (seen.length === 0 && (await isAllZeros(file))) return 'the tar file has no entries';
  const damaged = /Unrecognized archive format|checksum failure|base256|invalid/i.test(text);
  if (damaged && seen.length === 0) return 'not a tar archive (or a corrupt one)';
  if (damaged) {
    const last = seen[seen.length - 1].path;
    return `the tar file is damaged after "${last}" (${text}); download or copy it again`;
  }
  return `cannot read the tar: ${text}`;
}

async function isAllZeros(file: string): Promise<boolean> {
  const data = await fs.readFile(file);
  return data.every((b) => b === 0);
}

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

/** An archive path without "./" prefixes and trailing slashes; "" for the archive's root folder. */
export function normaliseEntryPath(p: string): string {
  let out = p.replace(/\/+$/, '');
  while (out.startsWith('./')) out = out.slice(2).replace(/^\/+/, '');
  return out === '.' ? '' : out;
}

/** What makes an archive unsafe to unpack; [] when nothing does. Pure: reads only the entry list. */
export function unsafeEntries(entries: readonly TarEntryInfo[]): string[] {
  const problems: string[] = [];
  const files = new Set<string>();
  const links = new Set<string>();
  for (const entry of entries) {
    const p = normaliseEntryPath(entry.path);
    const shown = JSON.stringify(entry.path);
    if (isAbsolute(entry.path)) {
      problems.push(`${shown} is an absolute path`);
      continue;
    }
    if (p.split('/').includes('..')) {
      problems.push(`${shown} climbs out of the folder with ".."`);
      continue;
    }
    if (entry.type === 'SparseFile') {
      problems.push(
        `${shown} is a sparse file (GNU tar --sparse), which unpack does not write: pack the folder again ` +
          'without --sparse (sly-nn pack <dir> model.tar)',
      );
      continue;
    }
    if (!ALLOWED_TYPES.has(entry.type)) {
      problems.push(`${shown} is a ${entry.type} (only files, folders and links are allowed)`);
      continue;
    }
    const throughLink = [...links].find((l) => p.startsWith(`${l}/`));
    if (throughLink !== undefined) problems.push(`${shown} is written through the link "${throughLink}"`);
    if (entry.type === 'SymbolicLink') {
      const target = entry.linkpath ?? '';
      const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(p), target));
      if (target === '' || isAbsolute(target) || resolved === '..' || resolved.startsWith('../')) {
        problems.push(`${shown} is a link to ${JSON.stringify(target)}, outside the folder`);
      }
      links.add(p);
    } else if (entry.type === 'Link') {
      const target = normaliseEntryPath(entry.linkpath ?? '');
      if (!files.has(target))
        problems.push(
          `${shown} is a hard link to ${JSON.stringify(entry.linkpath)}, not an earlier file of the archive`,
        );
      files.add(p);
    } else if (entry.type !== 'Directory') {
      files.add(p);
    }
  }
  return problems;
}

export interface UnpackOptions {
  file: string;
  /** The folder to create. It must not exist, or be empty (or `replace` must be set). */
  dir: string;
  /** Refuse a tar without config.json at its top level (default true). */
  requireConfig?: boolean;
  /** Replace an existing non-empty folder (default false). */
  replace?: boolean;
}

export interface UnpackResult {
  dir: string;
  /** The archive's paths, normalised, root entry left out. */
  entries: string[];
}

export async function unpackModelTar(options: UnpackOptions): Promise<UnpackResult> {
  const file = path.resolve(options.file);
  const dir = path.resolve(options.dir);
  const shown = options.file;
  await checkDestination(dir, options);
  const entries = await listTarEntries(file, shown);
  const problems = unsafeEntries(entries);
  if (problems.length > 0)
    throw modelError(`refusing to unpack an unsafe tar: ${problems.join('; ')}`, { file: shown });
  const paths = entries.map((e) => normaliseEntryPath(e.path)).filter((p) => p !== '');
  if (paths.length === 0)
    throw modelError('the tar file has no entries (only its root folder)', { file: shown });
  if (
    (options.requireConfig ?? true) &&
    !entries.some((e) => e.type !== 'Directory' && normaliseEntryPath(e.path) === MODEL_CONFIG_FILE)
  ) {
    const nested = paths.find((p) => p.endsWith(`/${MODEL_CONFIG_FILE}`));
    const hint =
      nested !== undefined
        ? ` (found "${nested}": pack the folder's contents, e.g. tar -cf model.tar -C <dir> .)`
        : '';
    throw modelError(`no ${MODEL_CONFIG_FILE} at the top level of the tar${hint}`, { file: shown });
  }
  try {
    await writeFolderAtomically(dir, async (temp) => {
      await tar.extract({
        file,
        cwd: temp,
        strict: true,
        ...UNCOMPRESSED,
        preservePaths: false,
        // As root (the image), node-tar would chown to the archive's uid/gid; the task folder must stay ours.
        preserveOwner: false,
        // Defence in depth: the same types as the check above, whatever node-tar would otherwise accept.
        filter: (_p, entry) => !('type' in entry) || ALLOWED_TYPES.has(String(entry.type)),
      });
      await checkLinksInside(temp);
      await clearDestination(dir, options.replace ?? false);
    });
  } catch (e) {
    if (e instanceof TaskError) throw e.withContext({ file: shown });
    throw modelError(`cannot unpack: ${errorMessage(e)}`, { file: shown }, e);
  }
  return { dir, entries: paths };
}

async function checkDestination(dir: string, options: UnpackOptions): Promise<void> {
  const stat = await fs.lstat(dir).catch(() => undefined);
  if (stat === undefined || options.replace === true) return;
  if (!stat.isDirectory())
    throw modelError('the destination exists and is not a folder', { file: options.dir });
  if ((await fs.readdir(dir)).length > 0) {
    throw modelError('the destination folder is not empty (choose another folder, or replace it)', {
      file: options.dir,
    });
  }
}

/** Every symbolic link under `root` must resolve (really, links followed) to a path inside `root`. */
async function checkLinksInside(root: string): Promise<void> {
  const realRoot = await fs.realpath(root);
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isSymbolicLink()) {
        const rel = path.relative(root, full);
        const real = await fs.realpath(full).catch(() => undefined);
        if (real === undefined)
          throw modelError(`refusing to unpack: the link "${rel}" points to nothing in the archive`);
        if (!isInside(real, realRoot))
          throw modelError(`refusing to unpack: the link "${rel}" resolves outside the folder`);
      } else if (entry.isDirectory()) {
        await walk(full);
      }
    }
  };
  await walk(root);
}

/** Makes way for the rename: removes what is at `dir` (checked before extracting: replace, or an empty folder). */
async function clearDestination(dir: string, replace: boolean): Promise<void> {
  const existing = await fs.lstat(dir).catch(() => undefined);
  if (existing === undefined) return;
  if (replace) await fs.rm(dir, { recursive: true, force: true });
  else await fs.rmdir(dir);
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function isAbsolute(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:/.test(p) || p.startsWith('\\');
}
