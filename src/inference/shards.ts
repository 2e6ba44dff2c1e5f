/**
 * Sharded inference (README, "Sharded inference"): which items shard i of n takes, where it writes its part,
 * and the part's manifest, `shard.json`, which lets `sly-nn merge-results` refuse parts that do not belong
 * together.
 *
 * Items are taken round robin (task/shard.ts `shardItems`) from the project's listing, which is sorted by
 * dataset, then item name, by code point (format/project-reader.ts): shard i takes items i, i + n, ... The split depends on nothing but
 * the names, so every machine computes the same one, and shard sizes differ by at most one item. Round robin,
 * not contiguous blocks: images of a dataset tend to be alike (size, content), so blocks would hand one shard
 * all the large ones; a shard gains nothing from locality, since every shard reads the whole project's listing
 * anyway. Not a hash of the name either: that balances only on average, and leaves shards empty in small
 * projects.
 *
 * A part is the normal results project layout for its items (meta.json included) plus shard.json, written and
 * renamed as one folder like a whole run's results. The manifest records what must agree across parts: the
 * project, the count of shards, the full item list (its length and a digest), each model file's digest and the
 * effective mode config; and the part's own items, so a merge can name what is missing or doubled.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { dataError, modelError, type TaskErrorContext } from '../errors';
import { isFile, readJsonFile } from '../format/project-reader';
import {
  expectArray,
  expectObject,
  expectString,
  indexed,
  isJsonObject,
  type JsonObject,
} from '../format/json-fields';
import { fileSha256 } from '../model-state/manifest';
import { shardItems, type Shard } from '../task/shard';
import { writeFileAtomic } from '../util/atomic';

export const SHARD_MANIFEST_FILE = 'shard.json';
/** The manifest's format; a merge refuses any other. */
export const SHARD_FORMAT = 'sly-nn.inference-shard/1';

/** An item by name: its dataset and its file name. */
export interface ItemName {
  readonly dataset: string;
  readonly name: string;
}

export interface ShardManifest {
  readonly format: string;
  readonly project: string;
  readonly shard: { readonly index: number; readonly count: number };
  /** Items in the whole project, and a digest of their names in listing order (`itemListDigest`). */
  readonly items_total: number;
  readonly items_digest: string;
  /** sha256 of each file at the top of model/, by name: the checkpoint as delivered. */
  readonly model_files: Readonly<Record<string, string>>;
  /** The effective inference mode config (spec F.3). */
  readonly mode: JsonObject;
  /** This part's items, `[dataset, name]`, in listing order. */
  readonly items: readonly (readonly [string, string])[];
}

/** The results folder of shard i of n: `<project>.shard-<i>-of-<n>`. */
export function shardFolderName(projectName: string, shard: Pick<Shard, 'index' | 'count'>): string {
  return `${projectName}.shard-${shard.index}-of-${shard.count}`;
}

/** sha256 of the item names in order, one JSON `[dataset, name]` a line (names may hold any character but /). */
export function itemListDigest(items: Iterable<ItemName>): string {
  const h = createHash('sha256');
  for (const item of items) h.update(`${JSON.stringify([item.dataset, item.name])}\n`);
  return h.digest('hex');
}

/**
 * sha256 of every file at the top of `dir` (a checkpoint folder), by name; none when there is no such folder
 * (reading the checkpoint then says what is missing).
 */
export async function fileDigests(dir: string): Promise<Record<string, string>> {
  const digests: Record<string, string> = {};
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  const files = entries.filter((e) => e.isFile()).map((e) => e.name);
  for (const name of files.sort()) {
    const purpose = "the model's identity in a shard's manifest";
    digests[name] = (await fileSha256(path.join(dir, name), { purpose, error: modelError })).hex;
  }
  return digests;
}

/** JSON with object keys sorted, so two equal configs compare equal whatever order their keys were written in. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isJsonObject(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

export interface ShardPlan<T extends ItemName> {
  /** The shard's items, in listing order. */
  readonly items: T[];
  /** Its part's folder name in results/. */
  readonly folderName: string;
  readonly manifest: ShardManifest;
  /**
   * Whether `dir` already holds this part: its manifest is this one (the same shard of the same listing, model
   * files and mode config). A part is renamed into place only when complete, so it is then done.
   */
  isDone(dir: string): Promise<boolean>;
}

/** A shard's share of the project, its part's name and its manifest (reading every file of `modelDir` once). */
export async function planShard<T extends ItemName>(opts: {
  readonly project: string;
  /** Every item of the project, in listing order. */
  readonly allItems: readonly T[];
  readonly shard: Pick<Shard, 'index' | 'count'>;
  readonly modelDir: string;
  /** The effective mode config. */
  readonly mode: object;
}): Promise<ShardPlan<T>> {
  const items = shardItems(opts.allItems, opts.shard);
  const manifest: ShardManifest = {
    format: SHARD_FORMAT,
    project: opts.project,
    shard: { index: opts.shard.index, count: opts.shard.count },
    items_total: opts.allItems.length,
    items_digest: itemListDigest(opts.allItems),
    model_files: await fileDigests(opts.modelDir),
    mode: JSON.parse(JSON.stringify(opts.mode)) as JsonObject,
    items: items.map((i) => [i.dataset, i.name] as const),
  };
  const expected = canonicalJson(manifest);
  return {
    items,
    folderName: shardFolderName(opts.project, opts.shard),
    manifest,
    isDone: async (dir) => {
      const file = path.join(dir, SHARD_MANIFEST_FILE);
      if (!(await isFile(file))) return false;
      try {
        return canonicalJson(await readJsonFile(file, file)) === expected;
      } catch {
        return false; // unreadable: not this part; the run refuses to overwrite the folder
      }
    },
  };
}

export function writeShardManifest(dir: string, manifest: ShardManifest): Promise<void> {
  return writeFileAtomic(path.join(dir, SHARD_MANIFEST_FILE), `${JSON.stringify(manifest, null, 1)}\n`);
}

/** Reads and checks a part's shard.json (errors name the file by the part folder as given). */
export async function readShardManifest(dir: string): Promise<ShardManifest> {
  const file = path.join(dir, SHARD_MANIFEST_FILE);
  const at = (field: string): TaskErrorContext => ({ file, field });
  const raw = expectObject(await readJsonFile(file, file), { file });
  if (raw.format !== SHARD_FORMAT) {
    throw dataError(
      `expected "${SHARD_FORMAT}", got ${JSON.stringify(raw.format)}: not a part we can merge`,
      at('format'),
    );
  }
  const shard = expectObject(raw.shard, at('shard'));
  const count = wholeNumber(shard.count, at('shard.count'));
  const index = wholeNumber(shard.index, at('shard.index'));
  if (count < 1 || index >= count) throw dataError(`shard ${index} of ${count} is impossible`, at('shard'));
  const modelFiles = expectObject(raw.model_files, at('model_files'));
  for (const [name, digest] of Object.entries(modelFiles)) expectString(digest, at(`model_files.${name}`));
  return {
    format: SHARD_FORMAT,
    project: expectString(raw.project, at('project')),
    shard: { index, count },
    items_total: wholeNumber(raw.items_total, at('items_total')),
    items_digest: expectString(raw.items_digest, at('items_digest')),
    model_files: modelFiles as Record<string, string>,
    mode: expectObject(raw.mode, at('mode')),
    items: expectArray(raw.items, at('items')).map((entry, k) => {
      const where = at(indexed('items', k));
      const pair = expectArray(entry, where);
      if (pair.length !== 2) throw dataError('expected [dataset, item name]', where);
      return [expectString(pair[0], where), expectString(pair[1], where)] as const;
    }),
  };
}

function wholeNumber(value: unknown, where: TaskErrorContext): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw dataError(`expected a whole number >= 0, got ${JSON.stringify(value)}`, where);
  }
  return value;
}
