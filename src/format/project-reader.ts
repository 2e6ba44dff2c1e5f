/**
 * Reading a project folder (spec B.1). Opening a project reads meta.json and lists every dataset's items
 * (names and paths only); annotations and images are read per item, on demand, so nothing holds a project's
 * images in memory. Listing follows the SDK's `Dataset._read` rules and errors; datasets and items are
 * sorted by code point (the SDK uses the file system's order), so runs are repeatable.
 */

import { promises as fs, type Dirent } from 'node:fs';
import * as path from 'node:path';
import { dataError, errorMessage } from '../errors';
import { parseAnnotationText } from './annotation';
import { annotationNameCandidates, hasSupportedImageExtension } from './item-names';
import { parseProjectMeta } from './meta';
import type { Annotation, ProjectMeta } from './model';
import { fileKindName, readRegularFile } from '../util/regular-file';

export interface ProjectItem {
  readonly dataset: string;
  /** The image file name, which is the item name. */
  readonly name: string;
  readonly imagePath: string;
  readonly annotationPath: string;
}

export interface DatasetListing {
  readonly name: string;
  readonly items: readonly ProjectItem[];
}

export interface ProjectListing {
  /** The project folder. */
  readonly root: string;
  /** The project name: the folder's base name. */
  readonly name: string;
  readonly meta: ProjectMeta;
  readonly datasets: readonly DatasetListing[];
}

const isAnnotationName = (name: string): boolean => name.endsWith('.json');

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A path as users know it in messages: the project name, then the path inside the project. */
export function projectDisplayPath(project: { root: string; name: string }, absolutePath: string): string {
  return path.join(project.name, path.relative(project.root, absolutePath));
}

async function readDir(dir: string): Promise<Dirent[]> {
  return fs.readdir(dir, { withFileTypes: true });
}

/**
 * Follows symbolic links, so a linked file or folder counts as what it points to. `special`: a FIFO, socket or
 * device (which a read would block on, or never finish); `other`: a dangling link.
 */
async function entryKind(dir: string, entry: Dirent): Promise<'file' | 'dir' | 'special' | 'other'> {
  if (entry.isFile()) return 'file';
  if (entry.isDirectory()) return 'dir';
  if (!entry.isSymbolicLink()) return 'special';
  try {
    const stat = await fs.stat(path.join(dir, entry.name));
    return stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : 'special';
  } catch {
    return 'other'; // a dangling link
  }
}

/** The names of the files (or folders, or special files) in `dir`, links followed, by code point. */
export async function namesOfKind(dir: string, kind: 'file' | 'dir' | 'special'): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readDir(dir)) if ((await entryKind(dir, entry)) === kind) names.push(entry.name);
  return names.sort(byCodePoint);
}

/**
 * A data error for the first FIFO, socket or device in `dir` whose name `accept`s (an item's image or
 * annotation): such an entry would otherwise be skipped silently, or block the read that follows.
 */
export async function refuseSpecialFiles(
  dir: string,
  accept: (name: string) => boolean,
  display: (file: string) => string,
): Promise<void> {
  const [name] = (await namesOfKind(dir, 'special')).filter(accept);
  if (name === undefined) return;
  const file = path.join(dir, name);
  const kind = await fs.stat(file).then(fileKindName, () => 'not a regular file');
  throw dataError(`this is ${kind}, not a regular file; an item's image and annotation are files`, {
    file: display(file),
  });
}

/** Whether anything (a file, a folder, a FIFO...) is at `file`, links followed. */
export async function exists(file: string): Promise<boolean> {
  try {
    await fs.stat(file);
    return true;
  } catch {
    return false;
  }
}

export async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

export async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await fs.stat(dir)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * `read_single_project` (spec B.1): `dir` itself if it holds meta.json; otherwise its only sub-folder; otherwise
 * that folder's only sub-folder. Unlike the SDK, a folder with meta.json is taken as the project even if it
 * is broken, so the error names the real problem instead of "Found N dirs instead of 1".
 */
export async function readSingleProject(dir: string): Promise<ProjectListing> {
  if (!(await isDirectory(dir))) throw dataError('the project folder does not exist', { file: dir });
  let candidate = dir;
  for (let depth = 0; depth < 3; depth++) {
    // Anything named meta.json makes the project: reading it says what is wrong with one that is not a file.
    if (await exists(path.join(candidate, 'meta.json'))) return openProject(candidate);
    if (depth === 2) break;
    const subdirs = await namesOfKind(candidate, 'dir');
    if (subdirs.length !== 1) {
      const found = subdirs.length === 0 ? 'none' : subdirs.map((s) => `"${s}"`).join(', ');
      throw dataError(
        `expected a project (a folder with meta.json) or exactly one project folder inside; found ${subdirs.length} folders (${found})`,
        { file: candidate },
      );
    }
    candidate = path.join(candidate, subdirs[0]);
  }
  throw dataError('no meta.json found in this folder or the one below it', { file: dir });
}

/** Reads meta.json and lists every dataset and item of the project in `root`. */
export async function openProject(root: string): Promise<ProjectListing> {
  const name = path.basename(path.resolve(root));
  const where = { root, name };
  const metaPath = path.join(root, 'meta.json');
  const meta = parseProjectMeta(await readJsonFile(metaPath, projectDisplayPath(where, metaPath)), {
    file: projectDisplayPath(where, metaPath),
  });
  const datasetNames = await namesOfKind(root, 'dir');
  if (datasetNames.length === 0) {
    throw dataError('the project has no datasets (no sub-folders with img/ and ann/)', { file: name });
  }
  const datasets: DatasetListing[] = [];
  for (const dataset of datasetNames) datasets.push(await listDataset(where, dataset));
  return { root, name, meta, datasets };
}

async function listDataset(
  project: { root: string; name: string },
  dataset: string,
): Promise<DatasetListing> {
  const dir = path.join(project.root, dataset);
  const display = (p: string): string => projectDisplayPath(project, p);
  const imgDir = path.join(dir, 'img');
  const annDir = path.join(dir, 'ann');
  for (const sub of [imgDir, annDir]) {
    if (!(await isDirectory(sub))) {
      throw dataError(
        `dataset "${dataset}" has no ${path.basename(sub)}/ folder (every sub-folder of a project is a dataset with img/ and ann/)`,
        {
          file: display(sub),
        },
      );
    }
  }
  await refuseSpecialFiles(imgDir, hasSupportedImageExtension, display);
  await refuseSpecialFiles(annDir, isAnnotationName, display);
  const images = (await namesOfKind(imgDir, 'file')).filter(hasSupportedImageExtension);
  const annotations = new Set((await namesOfKind(annDir, 'file')).filter(isAnnotationName));
  if (images.length === 0 || annotations.size === 0) {
    throw dataError(
      `dataset "${dataset}" is empty (${images.length} images, ${annotations.size} annotations); ` +
        'the SDK cannot read a project with an empty dataset',
      { file: display(dir) },
    );
  }
  const claimedBy = new Map<string, string>();
  const items: ProjectItem[] = images.map((image) => {
    const [current, old] = annotationNameCandidates(image);
    const annotation = annotations.has(current) ? current : annotations.has(old) ? old : undefined;
    if (annotation === undefined) {
      throw dataError(`image has no annotation (looked for ann/${current} and ann/${old})`, {
        file: display(path.join(imgDir, image)),
      });
    }
    const other = claimedBy.get(annotation);
    if (other !== undefined) {
      throw dataError(`images "${other}" and "${image}" both match this annotation; rename one of them`, {
        file: display(path.join(annDir, annotation)),
      });
    }
    claimedBy.set(annotation, image);
    return {
      dataset,
      name: image,
      imagePath: path.join(imgDir, image),
      annotationPath: path.join(annDir, annotation),
    };
  });
  return { name: dataset, items };
}

/** Every item, dataset by dataset. */
export function* projectItems(project: ProjectListing): Generator<ProjectItem> {
  for (const dataset of project.datasets) yield* dataset.items;
}

export function countItems(project: ProjectListing): number {
  return project.datasets.reduce((n, d) => n + d.items.length, 0);
}

/** Reads and parses a JSON file; a failure is a data error naming `display`. */
export async function readJsonFile(file: string, display: string): Promise<unknown> {
  let text: string;
  try {
    text = await readRegularFile(file, 'utf8');
  } catch (e) {
    throw dataError(`cannot read the file: ${errorMessage(e)}`, { file: display }, e);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw dataError(`invalid JSON: ${errorMessage(e)}`, { file: display }, e);
  }
}

/** Reads and checks one item's annotation against the project meta. */
export async function readItemAnnotation(project: ProjectListing, item: ProjectItem): Promise<Annotation> {
  const file = projectDisplayPath(project, item.annotationPath);
  let text: string;
  try {
    text = await readRegularFile(item.annotationPath, 'utf8');
  } catch (e) {
    throw dataError(`cannot read the file: ${errorMessage(e)}`, { file }, e);
  }
  return parseAnnotationText(text, project.meta, { file });
}
