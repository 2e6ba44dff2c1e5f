/**
 * Writing a results project (spec F.4): the same dataset and item names as the input, images hard-linked
 * (copied when a link is impossible), each annotation written to a temporary file and renamed (a reader sees
 * the old file or the whole new one), meta.json last. The writer fills the folder it is given and never
 * assumes that folder's name is the project's: the inference task writes into a temporary folder and renames
 * it when everything is on disk.
 */

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { serializeAnnotation } from './annotation';
import { hasSupportedImageExtension, isPlainFileName } from './item-names';
import { projectMetaToJson } from './meta';
import type { Annotation, ProjectMeta } from './model';
import { copyFileAtomic, writeFileAtomic } from '../util/atomic';

/**
 * Hard-links `source` to `target`; copies (through a temporary file) where links fail, e.g. across devices.
 * `link` is a seam for tests.
 */
export async function linkOrCopy(
  source: string,
  target: string,
  link: (source: string, target: string) => Promise<void> = fs.link,
): Promise<'linked' | 'copied'> {
  try {
    // The file a symlinked image points to, not the link: a hard link to a symlink would put, in the results,
    // a link pointing outside the task folder.
    await link(await fs.realpath(source), target);
    return 'linked';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw e;
  }
  await copyFileAtomic(source, target);
  return 'copied';
}

/** Creates `dir` if missing; it must be empty (`what` names it in the error). */
export async function makeEmptyFolder(dir: string, what: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const existing = await fs.readdir(dir);
  if (existing.length > 0) {
    throw new Error(`${what} is not empty: ${dir} (${existing.slice(0, 3).join(', ')}...)`);
  }
}

export interface ResultsWriterOptions {
  /** The folder to fill; created if missing, and it must be empty. */
  dir: string;
  /** The project's name, for messages; the folder may have any name. */
  projectName: string;
  /** The results meta: every label and tag written must be defined in it. Written last, by `finish`. */
  meta: ProjectMeta;
  /** Hard-link images (default); false copies them. */
  linkImages?: boolean;
  /**
   * Let `finish` write a project with no items (a part of a sharded run, when there are more shards than items:
   * it is merged with the others, never uploaded as it is). Default false: the agent cannot upload one.
   */
  allowEmpty?: boolean;
}

export interface ResultsItem {
  dataset: string;
  /** The item name: the image file name, with a supported extension. */
  name: string;
  /** The input image to link or copy. */
  imagePath: string;
  annotation: Annotation;
}

export class ResultsProjectWriter {
  private readonly itemsByDataset = new Map<string, Set<string>>();
  private copies = 0;
  private finished = false;

  private constructor(private readonly options: ResultsWriterOptions) {}

  static async create(options: ResultsWriterOptions): Promise<ResultsProjectWriter> {
    await makeEmptyFolder(options.dir, `results folder for project "${options.projectName}"`);
    return new ResultsProjectWriter(options);
  }

  get itemCount(): number {
    let n = 0;
    for (const names of this.itemsByDataset.values()) n += names.size;
    return n;
  }

  /** How many images had to be copied because a hard link was impossible. */
  get copiedImages(): number {
    return this.copies;
  }

  async addItem(item: ResultsItem): Promise<void> {
    if (this.finished) throw new Error('results project already finished');
    const where = `results project "${this.options.projectName}", dataset "${item.dataset}", item "${item.name}"`;
    if (!isPlainFileName(item.dataset))
      throw new Error(`${where}: the dataset name is not a plain folder name`);
    if (!isPlainFileName(item.name) || !hasSupportedImageExtension(item.name)) {
      throw new Error(`${where}: the item name must be a plain file name with a supported image extension`);
    }
    this.checkAgainstMeta(item.annotation, where);
    let names = this.itemsByDataset.get(item.dataset);
    if (names?.has(item.name)) throw new Error(`${where}: the item was already written`);
    const datasetDir = path.join(this.options.dir, item.dataset);
    if (names === undefined) {
      await fs.mkdir(path.join(datasetDir, 'img'), { recursive: true });
      await fs.mkdir(path.join(datasetDir, 'ann'), { recursive: true });
      names = new Set();
      this.itemsByDataset.set(item.dataset, names);
    }
    names.add(item.name);
    const target = path.join(datasetDir, 'img', item.name);
    if (this.options.linkImages === false) {
      await copyFileAtomic(item.imagePath, target);
      this.copies++;
    } else if ((await linkOrCopy(item.imagePath, target)) === 'copied') {
      this.copies++;
    }
    await writeFileAtomic(
      path.join(datasetDir, 'ann', `${item.name}.json`),
      serializeAnnotation(item.annotation),
    );
  }

  /** Writes meta.json, the last file: the project is complete once it exists. */
  async finish(): Promise<void> {
    if (this.finished) return;
    if (this.itemCount === 0 && this.options.allowEmpty !== true) {
      throw new Error(
        `results project "${this.options.projectName}" has no items; the agent cannot upload an empty project`,
      );
    }
    await writeFileAtomic(
      path.join(this.options.dir, 'meta.json'),
      JSON.stringify(projectMetaToJson(this.options.meta), null, 4),
    );
    this.finished = true;
  }

  private checkAgainstMeta(annotation: Annotation, where: string): void {
    const meta = this.options.meta;
    const checkTags = (tags: Annotation['tags'], at: string): void => {
      for (const tag of tags) {
        if (!meta.tagMetaByName.has(tag.name))
          throw new Error(`${where}: ${at}tag "${tag.name}" is not in the results meta`);
      }
    };
    checkTags(annotation.tags, '');
    annotation.labels.forEach((label, i) => {
      if (!meta.classByTitle.has(label.classTitle)) {
        throw new Error(`${where}: objects[${i}]: class "${label.classTitle}" is not in the results meta`);
      }
      checkTags(label.tags, `objects[${i}]: `);
    });
  }
}
