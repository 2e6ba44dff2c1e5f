/**
 * `sly-nn merge-results`: joins the parts of a sharded inference (shards.ts) into the one results project a
 * single run would have written, byte for byte: each part's images and annotation files are linked (or copied)
 * as they are, and meta.json, the same in every part, is written last.
 *
 * Refused, before anything is written, each with an error naming the part and the field: a folder that holds
 * no part; a part without its manifest or meta.json; parts of different shard counts, projects, listings of
 * the project, checkpoints, mode configs or results metas; a shard given twice or missing; an item in two
 * parts, an item missing, or a part whose files are not the items its manifest lists. The merged project is
 * built in a hidden temporary folder beside its final name and renamed when complete.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { configError, dataError } from '../errors';
import { isDirectory, isFile, namesOfKind } from '../format/project-reader';
import { linkOrCopy } from '../format/project-writer';
import { syncPath, writeFolderAtomically } from '../util/atomic';
import {
  canonicalJson,
  itemListDigest,
  readShardManifest,
  SHARD_MANIFEST_FILE,
  type ItemName,
  type ShardManifest,
} from './shards';

const META_FILE = 'meta.json';

export interface MergeResultsOptions {
  /** Part folders, or folders holding parts (their sub-folders with a shard.json), as the user named them. */
  readonly parts: readonly string[];
  /** The results folder: the merged project is written to `<out>/<project name>/`. */
  readonly out: string;
}

export interface MergeSummary {
  readonly project: string;
  /** The merged project's folder. */
  readonly resultsDir: string;
  readonly shards: number;
  readonly items: number;
  readonly datasets: number;
  /** Files copied because a hard link was impossible (e.g. the parts are on another file system). */
  readonly copied: number;
}

interface Part {
  /** The folder as the user named it (or found below a folder they named); errors name it so. */
  readonly dir: string;
  readonly manifest: ShardManifest;
  readonly meta: Buffer;
}

export async function mergeResults(opts: MergeResultsOptions): Promise<MergeSummary> {
  const parts: Part[] = [];
  for (const dir of await findParts(opts.parts)) parts.push(await readPart(dir));
  const ordered = checkPartsAgree(parts);
  const first = ordered[0].manifest;
  checkItems(ordered);
  for (const part of ordered) await checkPartFiles(part);

  await fsp.mkdir(opts.out, { recursive: true });
  const target = path.join(opts.out, first.project);
  if ((await isDirectory(target)) || (await isFile(target))) {
    throw configError('already exists; remove it, or merge into another results folder (--out)', {
      file: target,
    });
  }
  const datasets = new Set<string>();
  let copied = 0;
  await writeFolderAtomically(
    target,
    async (temp) => {
      for (const part of ordered) {
        for (const [dataset, name] of part.manifest.items) {
          if (!datasets.has(dataset)) {
            datasets.add(dataset);
            await fsp.mkdir(path.join(temp, dataset, 'img'), { recursive: true });
            await fsp.mkdir(path.join(temp, dataset, 'ann'), { recursive: true });
          }
          for (const file of itemFiles(dataset, name)) {
            if ((await linkOrCopy(path.join(part.dir, file), path.join(temp, file))) === 'copied') copied++;
          }
        }
      }
      // Last, as a single run writes it: the project is complete once meta.json is there.
      await fsp.writeFile(path.join(temp, META_FILE), ordered[0].meta);
    },
    { temp: path.join(opts.out, `.${first.project}.merging-${process.pid}`) },
  );
  await syncPath(opts.out);
  return {
    project: first.project,
    resultsDir: target,
    shards: ordered.length,
    items: first.items_total,
    datasets: datasets.size,
    copied,
  };
}

/** The part folders: each argument is a part (it holds shard.json) or holds parts; hidden folders are skipped. */
export async function findParts(args: readonly string[]): Promise<string[]> {
  if (args.length === 0) throw configError('name the parts to merge, or a folder holding them');
  const found: string[] = [];
  const seen = new Set<string>();
  const add = (dir: string): void => {
    const key = path.resolve(dir);
    if (!seen.has(key)) found.push(dir);
    seen.add(key);
  };
  for (const arg of args) {
    if (!(await isDirectory(arg))) throw dataError('not a folder', { file: arg });
    if (await isFile(path.join(arg, SHARD_MANIFEST_FILE))) {
      add(arg);
      continue;
    }
    const inside: string[] = [];
    for (const sub of await namesOfKind(arg, 'dir')) {
      if (!sub.startsWith('.') && (await isFile(path.join(arg, sub, SHARD_MANIFEST_FILE))))
        inside.push(path.join(arg, sub));
    }
    if (inside.length === 0) {
      throw dataError(
        `neither a part of a sharded inference (no ${SHARD_MANIFEST_FILE}) nor a folder holding parts`,
        { file: arg },
      );
    }
    inside.forEach(add);
  }
  return found;
}

async function readPart(dir: string): Promise<Part> {
  const manifest = await readShardManifest(dir);
  const metaPath = path.join(dir, META_FILE);
  let meta: Buffer;
  try {
    meta = await fsp.readFile(metaPath);
  } catch {
    throw dataError(`missing: a part holds the results meta; this one is incomplete`, { file: metaPath });
  }
  return { dir, manifest, meta };
}

/**
 * Every part against the first: the same count, project, item listing, model files, mode and meta; each shard
 * 0..n-1 exactly once. Returns the parts by shard index.
 */
function checkPartsAgree(parts: readonly Part[]): Part[] {
  const [first] = parts;
  const a = first.manifest;
  const differ = (part: Part, field: string, what: string): never => {
    throw dataError(`${what} than ${first.dir}: the parts are not of one sharded run`, {
      file: path.join(part.dir, SHARD_MANIFEST_FILE),
      field,
    });
  };
  const byIndex = new Map<number, Part>();
  for (const part of parts) {
    const b = part.manifest;
    if (b.shard.count !== a.shard.count)
      differ(part, 'shard.count', `shard ${b.shard.index} of ${b.shard.count}: another count of shards`);
    if (b.project !== a.project) differ(part, 'project', `project "${b.project}": another project`);
    if (b.items_total !== a.items_total || b.items_digest !== a.items_digest) {
      differ(
        part,
        'items_digest',
        `${b.items_total} items in the project, listed otherwise (${b.items_digest.slice(0, 12)}): another input`,
      );
    }
    const files = differingKeys(a.model_files, b.model_files);
    if (files.length > 0)
      differ(part, 'model_files', `model/${files.join(', model/')} differ: another model`);
    const mode = differingKeys(a.mode, b.mode);
    if (mode.length > 0)
      differ(part, 'mode', `mode.${mode.join(', mode.')} differ: another inference config`);
    if (!part.meta.equals(first.meta)) {
      throw dataError(`another results meta than ${first.dir}'s: the parts are not of one sharded run`, {
        file: path.join(part.dir, META_FILE),
      });
    }
    const twin = byIndex.get(b.shard.index);
    if (twin !== undefined) {
      throw dataError(
        `shard ${b.shard.index} of ${b.shard.count} is given twice: here and in ${twin.dir}; keep one`,
        { file: path.join(part.dir, SHARD_MANIFEST_FILE), field: 'shard.index' },
      );
    }
    byIndex.set(b.shard.index, part);
  }
  const missing: number[] = [];
  for (let i = 0; i < a.shard.count; i++) if (!byIndex.has(i)) missing.push(i);
  if (missing.length > 0) {
    const list = missing.length > 10 ? `${missing.slice(0, 10).join(', ')}, ...` : missing.join(', ');
    throw dataError(
      `${missing.length} of ${a.shard.count} parts missing: shard ${list} (each is results/` +
        `${a.project}.shard-<i>-of-${a.shard.count}/ of its run); run them, or wait until they are done`,
      { file: a.project, field: 'shard.index' },
    );
  }
  return [...byIndex.keys()].sort((x, y) => x - y).map((i) => byIndex.get(i) as Part);
}

/** Keys whose values differ (or that only one side has), compared as canonical JSON. */
function differingKeys(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k]));
}

/**
 * Every item in exactly one part, each part holding its shard's share: item k of the listing is in part k mod n,
 * so the parts interleaved give back the listing, whose digest the manifests record.
 */
function checkItems(parts: readonly Part[]): void {
  const { shard, items_total: total, items_digest: digest, project } = parts[0].manifest;
  const owner = new Map<string, Part>();
  for (const part of parts) {
    for (const [k, [dataset, name]] of part.manifest.items.entries()) {
      const key = JSON.stringify([dataset, name]);
      const other = owner.get(key);
      if (other !== undefined) {
        throw dataError(`in two parts, here and in ${other.dir}: the parts overlap`, {
          file: path.join(part.dir, SHARD_MANIFEST_FILE),
          item: `${dataset}/${name}`,
          field: `items[${k}]`,
        });
      }
      owner.set(key, part);
    }
    const expected = Math.floor((total - part.manifest.shard.index + shard.count - 1) / shard.count);
    if (part.manifest.items.length !== expected) {
      throw dataError(
        `lists ${part.manifest.items.length} items; shard ${part.manifest.shard.index} of ${shard.count} of ` +
          `${total} items takes ${expected}`,
        { file: path.join(part.dir, SHARD_MANIFEST_FILE), field: 'items' },
      );
    }
  }
  const interleaved: ItemName[] = [];
  for (let k = 0; k < total; k++) {
    const [dataset, name] = parts[k % shard.count].manifest.items[Math.floor(k / shard.count)];
    interleaved.push({ dataset, name });
  }
  if (itemListDigest(interleaved) !== digest) {
    throw dataError(
      `the parts' items, interleaved, are not the project's listing (${total} items): a part holds items of ` +
        'another split or another project',
      { file: project, field: 'items_digest' },
    );
  }
}

/** An item's two files inside a project folder. */
function itemFiles(dataset: string, name: string): [string, string] {
  return [path.join(dataset, 'img', name), path.join(dataset, 'ann', `${name}.json`)];
}

/** The part's dataset folders hold exactly its manifest's items: an image and an annotation each. */
async function checkPartFiles(part: Part): Promise<void> {
  const expected = new Set<string>();
  for (const [dataset, name] of part.manifest.items)
    for (const f of itemFiles(dataset, name)) expected.add(f);
  const present = new Set<string>();
  for (const dataset of await namesOfKind(part.dir, 'dir')) {
    for (const sub of ['img', 'ann']) {
      const dir = path.join(part.dir, dataset, sub);
      if (!(await isDirectory(dir))) continue;
      for (const name of await namesOfKind(dir, 'file')) present.add(path.join(dataset, sub, name));
    }
  }
  const missing = [...expected].find((f) => !present.has(f));
  if (missing !== undefined) {
    throw dataError(`missing: ${SHARD_MANIFEST_FILE} lists its item; the part is incomplete`, {
      file: path.join(part.dir, missing),
    });
  }
  const extra = [...present].find((f) => !expected.has(f));
  if (extra !== undefined) {
    throw dataError(`not an item of this part (${SHARD_MANIFEST_FILE} does not list it)`, {
      file: path.join(part.dir, extra),
    });
  }
}
