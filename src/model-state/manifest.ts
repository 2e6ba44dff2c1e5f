/**
 * The reproducibility manifest written into every training checkpoint (`manifest.json`): what produced these
 * weights. The seed, the full config, a digest of the data (every item's name and the SHA-256 of its image and
 * annotation bytes, so a changed or renamed file changes it), the versions of Node, TensorFlow.js, onnxruntime
 * and this package, the engine and backend, and the machine. Two checkpoints with the same manifest digest were
 * trained from the same inputs.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dataError, type TaskError, type TaskErrorContext } from '../errors';

export const MANIFEST_FILE = 'manifest.json';

export interface DigestItem {
  /** How the item is named in the project: dataset/name. */
  readonly name: string;
  readonly files: readonly string[];
}

export interface DataDigest {
  readonly items: number;
  readonly bytes: number;
  /** sha256 over the sorted lines `name <tab> sha256 of each file`. */
  readonly sha256: string;
}

export interface FileHashOptions {
  /** What the hash is for, in the error: default "the data digest". */
  readonly purpose?: string;
  /** The kind of error a file that cannot be read is: default a data error. */
  readonly error?: (detail: string, context: TaskErrorContext, cause?: unknown) => TaskError;
}

/** A file's SHA-256 and size, streamed; a file that cannot be read is an error naming it. */
export async function fileSha256(
  file: string,
  opts: FileHashOptions = {},
): Promise<{ hex: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(file)) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  } catch (e) {
    const fail = opts.error ?? dataError;
    throw fail(
      `cannot read it for ${opts.purpose ?? 'the data digest'}: ${(e as Error).message}`,
      { file },
      e,
    );
  }
  return { hex: hash.digest('hex'), bytes };
}

/** The digest of the items' files, read a few at a time (bounded memory: files are streamed). */
export async function dataDigest(items: readonly DigestItem[], concurrency = 8): Promise<DataDigest> {
  const lines = new Array<string>(items.length);
  let bytes = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) {
      const hashes: string[] = [];
      for (const f of items[i].files) {
        const h = await fileSha256(f);
        bytes += h.bytes;
        hashes.push(h.hex);
      }
      lines[i] = `${items[i].name}\t${hashes.join('\t')}`;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  const all = createHash('sha256');
  for (const l of [...lines].sort()) all.update(`${l}\n`);
  return { items: items.length, bytes, sha256: all.digest('hex') };
}

/** The version of an installed package, or null when it is not installed. */
export function packageVersion(name: string): string | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(`${name}/package.json`) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

/** This package's name and version, from the package.json above this module (src/ or dist/src/). */
function ownPackage(): { name: string; version: string } | null {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const pkg = require(path.join(dir, 'package.json')) as { name: string; version: string };
      return { name: pkg.name, version: pkg.version };
    } catch {
      // not here: one folder up
    }
  }
  return null;
}

export interface RunManifestOptions {
  readonly seed: number | null;
  readonly config: Readonly<Record<string, unknown>>;
  readonly data: DataDigest;
  readonly engine: string;
  readonly backend: string;
  readonly network: string;
}

export interface RunManifest extends RunManifestOptions {
  readonly versions: Readonly<Record<string, string | null>>;
  readonly machine: Readonly<Record<string, unknown>>;
  readonly created_at: string;
}

export function runManifest(opts: RunManifestOptions, now: Date = new Date()): RunManifest {
  const cpus = os.cpus();
  return {
    ...opts,
    versions: {
      node: process.versions.node,
      package: ownPackage()?.version ?? null,
      '@tensorflow/tfjs': packageVersion('@tensorflow/tfjs'),
      '@tensorflow/tfjs-backend-wasm': packageVersion('@tensorflow/tfjs-backend-wasm'),
      '@tensorflow/tfjs-node-gpu': packageVersion('@tensorflow/tfjs-node-gpu'),
      'onnxruntime-node': packageVersion('onnxruntime-node'),
    },
    machine: {
      platform: process.platform,
      arch: process.arch,
      cpu: cpus[0]?.model ?? null,
      cores: os.availableParallelism(),
      memory_bytes: os.totalmem(),
      hostname: os.hostname(),
    },
    created_at: now.toISOString(),
  };
}
