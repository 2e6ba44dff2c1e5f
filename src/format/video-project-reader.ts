/**
 * Reading a Supervisely video project folder (docs/supervisely-video-format.md V.1, V.2, V.7). Opening it reads
 * meta.json and key_id_map.json and lists every dataset's videos (names and paths); annotations are read per
 * video, on demand. Datasets are found as the SDK's `Project._read` finds them: every folder below the project
 * whose name does not end in a reserved name (`video`, `ann`, ...), nested datasets under `datasets/`, named by
 * their path without the `datasets` parts. A folder that does not open as a dataset (no video/ or ann/, a video
 * without annotation) is skipped, as by the SDK, and reported in `skipped` so the caller can warn. Datasets and
 * videos are sorted by code point, so runs are repeatable.
 */

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { dataError } from '../errors';
import { hasSupportedVideoExtension, splitExt } from './item-names';
import { emptyKeyIdMap, parseKeyIdMap, type KeyIdMap } from './key-id-map';
import { parseProjectMeta } from './meta';
import type { ProjectMeta } from './model';
import {
  exists,
  isDirectory,
  isFile,
  namesOfKind,
  projectDisplayPath,
  readJsonFile,
  refuseSpecialFiles,
} from './project-reader';
import { parseVideoAnnotation, type VideoAnnotation } from './video-annotation';

/** `VideoDataset`'s folder names; a folder whose name ends with one is not a dataset (V.1.1). */
export const VIDEO_DATASET_RESERVED_NAMES: readonly string[] = [
  'video',
  'ann',
  'video_info',
  'metadata',
  'meta',
  'blob',
  'datasets',
];
export const NESTED_DATASETS_DIR = 'datasets';
export const KEY_ID_MAP_FILE = 'key_id_map.json';

export interface VideoItem {
  /** The dataset's name: `ds0`, or `ds0/child` for `ds0/datasets/child`. */
  readonly dataset: string;
  /** The video file name, which is the item name. */
  readonly name: string;
  /** `video/<name>`. It may be missing: a project read from its annotations alone (V.1.2). */
  readonly videoPath: string;
  readonly annotationPath: string;
  /** `video_info/<name>.json`, when present. */
  readonly infoPath?: string;
  /** `metadata/<name>.meta.json`, when present. */
  readonly metadataPath?: string;
}

export interface VideoDatasetListing {
  readonly name: string;
  /** The dataset folder. */
  readonly dir: string;
  readonly items: readonly VideoItem[];
}

export interface SkippedDataset {
  /** The folder, as users know it (project name first). */
  readonly folder: string;
  readonly reason: string;
}

export interface VideoProjectListing {
  readonly root: string;
  /** The folder's base name, as the SDK names the project. */
  readonly name: string;
  readonly meta: ProjectMeta;
  /** The project's key_id_map.json, or an empty map where there is none. */
  readonly keyIdMap: KeyIdMap;
  readonly datasets: readonly VideoDatasetListing[];
  /** Folders the SDK would skip with a warning. */
  readonly skipped: readonly SkippedDataset[];
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * `read_single_project(dir, VideoProject)` (V.1.4): `dir` itself if it holds meta.json, else the one folder at any
 * depth below it that holds a meta.json and opens as a video project. None, or several, is an error naming them.
 */
export async function readSingleVideoProject(dir: string): Promise<VideoProjectListing> {
  if (!(await isDirectory(dir))) throw dataError('the project folder does not exist', { file: dir });
  if (await exists(path.join(dir, 'meta.json'))) return openVideoProject(dir);
  const found: VideoProjectListing[] = [];
  let firstError: unknown;
  for (const candidate of await foldersWithMeta(dir)) {
    try {
      found.push(await openVideoProject(candidate));
    } catch (e) {
      firstError ??= e;
    }
  }
  if (found.length === 1) return found[0];
  if (found.length === 0) {
    // A broken project says more than "no project": its own error names the file and the field.
    if (firstError !== undefined) throw firstError;
    throw dataError('no video project (a folder with meta.json) in this folder or below it', { file: dir });
  }
  throw dataError(
    `${found.length} video projects in this folder (${found.map((p) => path.relative(dir, p.root)).join(', ')}); ` +
      'expected exactly one',
    { file: dir },
  );
}

/** Folders below `dir` holding a meta.json; the search does not go into them. */
async function foldersWithMeta(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await realSubfolders(dir)) {
    const p = path.join(dir, sub);
    if (await isFile(path.join(p, 'meta.json'))) out.push(p);
    else out.push(...(await foldersWithMeta(p)));
  }
  return out;
}

/** Sub-folders that are folders themselves, not links: walks never follow links (os.walk's default). */
async function realSubfolders(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort(byCodePoint);
}

/** Reads meta.json and key_id_map.json and lists every dataset and video of the project in `root`. */
export async function openVideoProject(root: string): Promise<VideoProjectListing> {
  const name = path.basename(path.resolve(root));
  const where = { root, name };
  const display = (p: string): string => projectDisplayPath(where, p);
  const metaPath = path.join(root, 'meta.json');
  const meta = parseProjectMeta(await readJsonFile(metaPath, display(metaPath)), { file: display(metaPath) });
  const mapPath = path.join(root, KEY_ID_MAP_FILE);
  const keyIdMap = (await isFile(mapPath))
    ? parseKeyIdMap(await readJsonFile(mapPath, display(mapPath)), { file: display(mapPath) })
    : emptyKeyIdMap();
  const datasets: VideoDatasetListing[] = [];
  const skipped: SkippedDataset[] = [];
  for (const relDir of await datasetCandidates(root, '')) {
    const dir = path.join(root, relDir);
    const datasetName = relDir
      .split(path.sep)
      .filter((part) => part !== NESTED_DATASETS_DIR)
      .join('/');
    try {
      datasets.push(await listVideoDataset(dir, datasetName, display));
    } catch (e) {
      if (!(e instanceof SkipDataset)) throw e;
      skipped.push({ folder: display(dir), reason: e.message });
    }
  }
  datasets.sort((a, b) => byCodePoint(a.name, b.name));
  if (datasets.every((d) => d.items.length === 0)) {
    const why = skipped.map((s) => `${s.folder}: ${s.reason}`).join('; ');
    throw dataError(
      `the project has no videos (the SDK: "Project is empty")${why === '' ? '' : `; folders skipped: ${why}`}`,
      { file: name },
    );
  }
  return { root, name, meta, keyIdMap, datasets, skipped };
}

const isReserved = (folder: string): boolean =>
  VIDEO_DATASET_RESERVED_NAMES.some((reserved) => folder.endsWith(reserved));

/**
 * Every folder below `root` (paths relative to it) that may be a dataset: not ending in a reserved name (a
 * plain suffix test, as the SDK: `my_video` is not a dataset). Reserved folders are not searched, except
 * `datasets/`; a linked folder may be a dataset but is not searched.
 */
async function datasetCandidates(root: string, rel: string): Promise<string[]> {
  const dir = path.join(root, rel);
  const out: string[] = [];
  const real = new Set(await realSubfolders(dir));
  for (const sub of await namesOfKind(dir, 'dir')) {
    const relSub = rel === '' ? sub : path.join(rel, sub);
    if (sub === NESTED_DATASETS_DIR) {
      if (real.has(sub)) out.push(...(await datasetCandidates(root, relSub)));
      continue;
    }
    if (isReserved(sub)) continue;
    out.push(relSub);
    if (real.has(sub)) out.push(...(await datasetCandidates(root, relSub)));
  }
  return out;
}

/** Why the SDK would skip a dataset folder (its `VideoDataset` constructor raising). */
class SkipDataset extends Error {}

async function listVideoDataset(
  dir: string,
  dataset: string,
  display: (file: string) => string,
): Promise<VideoDatasetListing> {
  const videoDir = path.join(dir, 'video');
  const annDir = path.join(dir, 'ann');
  for (const sub of [videoDir, annDir]) {
    if (!(await isDirectory(sub))) throw new SkipDataset(`no ${path.basename(sub)}/ folder`);
  }
  await refuseSpecialFiles(videoDir, hasSupportedVideoExtension, display);
  await refuseSpecialFiles(annDir, (n) => n.endsWith('.json'), display);
  const videos = (await namesOfKind(videoDir, 'file')).filter(hasSupportedVideoExtension);
  const annotations = (await namesOfKind(annDir, 'file')).filter((n) => n.endsWith('.json'));
  const annotationSet = new Set(annotations);
  // An annotation-only copy of a project: the items are named after the annotations (V.1.2).
  const names = videos.length > 0 ? videos : annotations.map((a) => a.slice(0, -'.json'.length));
  const claimedBy = new Map<string, string>();
  const items: VideoItem[] = [];
  for (const video of names) {
    const candidates = [`${video}.json`, `${splitExt(video)[0]}.json`];
    const annotation = candidates.find((c) => annotationSet.has(c));
    if (annotation === undefined) {
      throw new SkipDataset(
        `video "${video}" has no annotation (looked for ann/${candidates[0]} and ann/${candidates[1]}); ` +
          'the SDK skips the whole dataset',
      );
    }
    const other = claimedBy.get(annotation);
    if (other !== undefined) {
      throw new SkipDataset(`videos "${other}" and "${video}" both match ann/${annotation}`);
    }
    claimedBy.set(annotation, video);
    const infoPath = path.join(dir, 'video_info', `${video}.json`);
    const metadataPath = path.join(dir, 'metadata', `${video}.meta.json`);
    items.push({
      dataset,
      name: video,
      videoPath: path.join(videoDir, video),
      annotationPath: path.join(annDir, annotation),
      ...((await isFile(infoPath)) ? { infoPath } : {}),
      ...((await isFile(metadataPath)) ? { metadataPath } : {}),
    });
  }
  return { name: dataset, dir, items };
}

/** Every video, dataset by dataset. */
export function* videoProjectItems(project: VideoProjectListing): Generator<VideoItem> {
  for (const dataset of project.datasets) yield* dataset.items;
}

/** Reads and checks one video's annotation against the project meta; errors name the file and the field. */
export async function readVideoAnnotation(
  project: VideoProjectListing,
  item: VideoItem,
): Promise<VideoAnnotation> {
  const file = projectDisplayPath(project, item.annotationPath);
  return parseVideoAnnotation(await readJsonFile(item.annotationPath, file), project.meta, { file });
}
