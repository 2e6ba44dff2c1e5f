/**
 * Writing training checkpoints into `results/` (spec E.6, H.5.3): each checkpoint is assembled in a temporary
 * folder inside results/, flushed to disk, then renamed to the next 8-digit folder (00000000, 00000001, ...).
 * A reader (the agent, after the CHECKPOINT line) therefore sees a complete folder or none. A written
 * checkpoint is never touched again, and no empty "next" folder is pre-created (the SDK's is ignored by the
 * agent; a half-made one is worse). The writer prints nothing: the caller announces the checkpoint.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ModelConfigJson } from '../format/types';
import { syncPath, syncTreeAndMeasure, writeFolderAtomically } from '../util/atomic';
import { type ModelConfigInput, writeModelConfig } from './config';

/** Prefix of the temporary folders; they never look like a checkpoint name. */
export const TEMP_PREFIX = '.checkpoint-tmp-';
const CHECKPOINT_NAME = /^\d{8}$/;

export interface CheckpointWriteOptions {
  /** The checkpoint's config.json (spec C.2); checked and written by ./config.ts (classes as `out_classes`). */
  config: ModelConfigJson;
  /** Writes the weights into the given (temporary) folder. */
  saveWeights: (dir: string) => Promise<void>;
  /** More files to put in the checkpoint: name (relative, inside the folder) -> content. */
  extraFiles?: Readonly<Record<string, string | Uint8Array>>;
}

export interface WrittenCheckpoint {
  /** 0, 1, 2, ... */
  id: number;
  /** The folder name relative to results/, e.g. `00000003` (what the CHECKPOINT line carries). */
  subdir: string;
  /** Total bytes of the files in the checkpoint, recursively. */
  sizeb: number;
  /** Absolute path of the checkpoint folder. */
  dir: string;
}

/** The 8-digit, zero-padded folder name of a checkpoint id (Python's "{:08}"). */
export function checkpointSubdir(id: number): string {
  return String(id).padStart(8, '0');
}

export class CheckpointWriter {
  private nextId: number;
  /** Writes are serialised so two concurrent calls never race for the same id. */
  private queue: Promise<unknown> = Promise.resolve();
  private tempCounter = 0;

  private constructor(
    readonly resultsDir: string,
    firstId: number,
  ) {
    this.nextId = firstId;
  }

  /**
   * Opens `resultsDir` (created if needed). Numbering continues after any checkpoint folder already there;
   * temporary folders left by a crashed run are removed.
   */
  static async create(resultsDir: string): Promise<CheckpointWriter> {
    const dir = path.resolve(resultsDir);
    await fsp.mkdir(dir, { recursive: true });
    let maxId = -1;
    for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(TEMP_PREFIX)) {
        await fsp.rm(path.join(dir, entry.name), { recursive: true, force: true });
      } else if (entry.isDirectory() && CHECKPOINT_NAME.test(entry.name)) {
        maxId = Math.max(maxId, Number(entry.name));
      }
    }
    return new CheckpointWriter(dir, maxId + 1);
  }

  /** The id the next successful `write` will get. */
  get pendingId(): number {
    return this.nextId;
  }

  write(opts: CheckpointWriteOptions): Promise<WrittenCheckpoint> {
    const run = this.queue.then(() => this.writeNow(opts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async writeNow(opts: CheckpointWriteOptions): Promise<WrittenCheckpoint> {
    const id = this.nextId;
    const subdir = checkpointSubdir(id);
    const finalDir = path.join(this.resultsDir, subdir);
    const temp = path.join(this.resultsDir, `${TEMP_PREFIX}${process.pid}-${this.tempCounter++}`);
    const sizeb = await writeFolderAtomically(
      finalDir,
      async (tempDir) => {
        await writeModelConfig(tempDir, configInput(opts.config));
        await opts.saveWeights(tempDir);
        for (const [name, content] of Object.entries(opts.extraFiles ?? {})) {
          const file = resolveInsideCheckpoint(tempDir, name);
          await fsp.mkdir(path.dirname(file), { recursive: true });
          await fsp.writeFile(file, content);
        }
        const bytes = await syncTreeAndMeasure(tempDir);
        if (await exists(finalDir)) {
          throw new Error(
            `${finalDir} already exists: another process writes checkpoints into ${this.resultsDir}`,
          );
        }
        return bytes;
      },
      { temp },
    );
    await syncPath(this.resultsDir);
    this.nextId = id + 1;
    return { id, subdir, sizeb, dir: finalDir };
  }
}

/** The wire shape as config.ts's writer takes it; extra top-level keys are kept. */
function configInput(json: ModelConfigJson): ModelConfigInput {
  const { settings, out_classes: outClasses, classes, class_title_to_idx: classTitleToIdx, ...extra } = json;
  return { settings, outClasses: outClasses ?? classes ?? [], classTitleToIdx, extra };
}

function resolveInsideCheckpoint(dir: string, name: string): string {
  const file = path.resolve(dir, name);
  if (path.isAbsolute(name) || !file.startsWith(dir + path.sep)) {
    throw new Error(`checkpoint file name "${name}" must be a relative path inside the checkpoint`);
  }
  return file;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}
