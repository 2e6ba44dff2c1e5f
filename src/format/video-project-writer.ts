/**
 * Writing a Supervisely video project (docs/supervisely-video-format.md V.1.3, V.2, V.7): videos hard-linked
 * (copied where a link is impossible) to `<dataset>/video/`, annotations written as the SDK writes them
 * (`json.dump(indent=4)`, ASCII-escaped) to `<dataset>/ann/<video>.json`, each through a temporary file, the
 * optional `video_info/` and `metadata/` files copied beside them, and meta.json and key_id_map.json last. A
 * nested dataset `a/b` goes to `a/datasets/b`, where the reader (and the SDK) find it under that name. Like the
 * image results writer, it fills the folder it is given and never assumes that folder's name is the project's.
 */

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { copyFileAtomic, writeFileAtomic } from '../util/atomic';
import { hasSupportedVideoExtension, isPlainFileName } from './item-names';
import { geometryBounds } from './geometry';
import { emptyKeyIdMap, keyIdMapToJson, type KeyIdMap } from './key-id-map';
import { projectMetaToJson } from './meta';
import type { ProjectMeta } from './model';
import { linkOrCopy, makeEmptyFolder } from './project-writer';
import {
  asciiJson,
  boxInside,
  serializeVideoAnnotation,
  type VideoAnnotation,
  type VideoTag,
} from './video-annotation';
import { KEY_ID_MAP_FILE, NESTED_DATASETS_DIR, VIDEO_DATASET_RESERVED_NAMES } from './video-project-reader';

export interface VideoProjectWriterOptions {
  /** The folder to fill; created if missing, and it must be empty. */
  dir: string;
  /** The project's name, for messages; the folder may have any name. */
  projectName: string;
  /** Every object class and tag written must be defined in it. Written last, by `finish`. */
  meta: ProjectMeta;
  /** Written by `finish`; default an empty map, as `VideoProject(CREATE)` writes. */
  keyIdMap?: KeyIdMap;
  /** Hard-link videos (default); false copies them. */
  linkVideos?: boolean;
}

export interface VideoProjectItem {
  /** `ds0`, or `ds0/child` for a nested dataset. */
  dataset: string;
  /** The video file name, with a supported video extension. */
  name: string;
  /** The video to link or copy. */
  videoPath: string;
  annotation: VideoAnnotation;
  /** A `video_info/<name>.json` to copy. */
  infoPath?: string;
  /** A `metadata/<name>.meta.json` to copy. */
  metadataPath?: string;
}

/** Where dataset `name` lives below the project: `a/b` is `a/datasets/b`. */
export function videoDatasetDir(name: string): string {
  return name.split('/').join(`${path.sep}${NESTED_DATASETS_DIR}${path.sep}`);
}

export class VideoProjectWriter {
  private readonly itemsByDataset = new Map<string, Set<string>>();
  private copies = 0;
  private finished = false;

  private constructor(private readonly options: VideoProjectWriterOptions) {}

  static async create(options: VideoProjectWriterOptions): Promise<VideoProjectWriter> {
    await makeEmptyFolder(options.dir, `the folder for video project "${options.projectName}"`);
    return new VideoProjectWriter(options);
  }

  get itemCount(): number {
    let n = 0;
    for (const names of this.itemsByDataset.values()) n += names.size;
    return n;
  }

  /** How many videos had to be copied because a hard link was impossible. */
  get copiedVideos(): number {
    return this.copies;
  }

  async addItem(item: VideoProjectItem): Promise<void> {
    if (this.finished) throw new Error('video project already finished');
    const where = `video project "${this.options.projectName}", dataset "${item.dataset}", video "${item.name}"`;
    const parts = item.dataset.split('/');
    // A folder named like a reserved one would not be read back as a dataset (V.1.1): refuse it here.
    if (!parts.every((p) => isPlainFileName(p) && !VIDEO_DATASET_RESERVED_NAMES.some((r) => p.endsWith(r)))) {
      throw new Error(
        `${where}: each part of a dataset name must be a plain folder name not ending in ${VIDEO_DATASET_RESERVED_NAMES.join(', ')}`,
      );
    }
    if (!isPlainFileName(item.name) || !hasSupportedVideoExtension(item.name)) {
      throw new Error(`${where}: the item name must be a plain file name with a supported video extension`);
    }
    this.check(item.annotation, where);
    let names = this.itemsByDataset.get(item.dataset);
    if (names?.has(item.name)) throw new Error(`${where}: the video was already written`);
    const datasetDir = path.join(this.options.dir, videoDatasetDir(item.dataset));
    if (names === undefined) {
      await fs.mkdir(path.join(datasetDir, 'video'), { recursive: true });
      await fs.mkdir(path.join(datasetDir, 'ann'), { recursive: true });
      names = new Set();
      this.itemsByDataset.set(item.dataset, names);
    }
    names.add(item.name);
    const target = path.join(datasetDir, 'video', item.name);
    if (this.options.linkVideos === false) {
      await copyFileAtomic(item.videoPath, target);
      this.copies++;
    } else if ((await linkOrCopy(item.videoPath, target)) === 'copied') {
      this.copies++;
    }
    for (const [source, sub, file] of [
      [item.infoPath, 'video_info', `${item.name}.json`],
      [item.metadataPath, 'metadata', `${item.name}.meta.json`],
    ] as const) {
      if (source === undefined) continue;
      await fs.mkdir(path.join(datasetDir, sub), { recursive: true });
      await copyFileAtomic(source, path.join(datasetDir, sub, file));
    }
    await writeFileAtomic(
      path.join(datasetDir, 'ann', `${item.name}.json`),
      serializeVideoAnnotation(item.annotation),
    );
  }

  /** Writes key_id_map.json, then meta.json: the project is complete once meta.json exists. */
  async finish(): Promise<void> {
    if (this.finished) return;
    if (this.itemCount === 0) {
      throw new Error(`video project "${this.options.projectName}" has no videos; the SDK reads it as empty`);
    }
    await writeFileAtomic(
      path.join(this.options.dir, KEY_ID_MAP_FILE),
      asciiJson(keyIdMapToJson(this.options.keyIdMap ?? emptyKeyIdMap())),
    );
    await writeFileAtomic(
      path.join(this.options.dir, 'meta.json'),
      asciiJson(projectMetaToJson(this.options.meta)),
    );
    this.finished = true;
  }

  /**
   * What the SDK would refuse on reading (V.9), for annotations made in code: classes and tags in the meta,
   * figures on frames 0..framesCount-1 that refer to an object of the annotation and lie inside the frame.
   */
  private check(annotation: VideoAnnotation, where: string): void {
    const meta = this.options.meta;
    const checkTags = (tags: readonly VideoTag[], at: string): void => {
      for (const tag of tags) {
        if (!meta.tagMetaByName.has(tag.name))
          throw new Error(`${where}: ${at}tag "${tag.name}" is not in the meta`);
      }
    };
    checkTags(annotation.tags, '');
    annotation.objects.forEach((object, i) => {
      if (!meta.classByTitle.has(object.classTitle)) {
        throw new Error(`${where}: objects[${i}]: class "${object.classTitle}" is not in the meta`);
      }
      checkTags(object.tags, `objects[${i}]: `);
    });
    const keys = new Set(annotation.objects.map((o) => o.key));
    const indices = new Set<number>();
    for (const frame of annotation.frames) {
      const at = `${where}: frame ${frame.index}`;
      if (!Number.isInteger(frame.index) || frame.index < 0 || frame.index >= annotation.framesCount) {
        throw new Error(`${at}: outside the video's ${annotation.framesCount} frames`);
      }
      if (indices.has(frame.index)) throw new Error(`${at}: two entries for one frame`);
      indices.add(frame.index);
      for (const figure of frame.figures) {
        if (!keys.has(figure.objectKey))
          throw new Error(`${at}: figure ${figure.key}: no object ${figure.objectKey}`);
        const g = figure.geometry;
        const box = geometryBounds(g);
        const uninterpreted = g.type === 'multichannelBitmap' || g.type === 'opaque';
        if (!uninterpreted && (box === null || !boxInside(box, annotation.size))) {
          throw new Error(
            `${at}: figure ${figure.key} is empty or reaches outside the ${annotation.size.width}x${annotation.size.height} frame`,
          );
        }
      }
    }
  }
}
