/**
 * The train/val split by image-level tags (spec E.5), as the SDK does it: an image goes to every fold whose tag
 * it carries (the tag's value is ignored); an image with neither tag is not used; with the same tag for both
 * folds, each tagged image appears twice in each. Order is kept: dataset order, then item order.
 */

import { dataError } from '../errors';
import type { TagJson } from '../format/types';

export type FoldPurpose = 'train' | 'val';

/** `dataset_tags` of the training config: the tag that marks each fold. */
export type DatasetTags = Readonly<Record<FoldPurpose, string>>;

/** What the split needs to know of an item; the caller keeps whatever else it likes in T. */
export interface FoldItem {
  /** Image-level tag names (not object tags). */
  tagNames: readonly string[];
  objectCount: number;
}

export interface FoldSplit<T> {
  train: T[];
  val: T[];
  /** Images with neither fold tag: not used at all. */
  neitherCount: number;
  /** Images with both fold tags (with one tag for both folds: every tagged image). */
  bothCount: number;
}

/** The names of image-level tags; the legacy bare-string form counts too (spec B.5). */
export function imageTagNames(tags: readonly (TagJson | string)[]): string[] {
  return tags.map((t) => (typeof t === 'string' ? t : t.name));
}

/** `samples_by_tags` + `_samples_by_data_purpose`: no checks, see `ensureFoldUsable`. */
export function splitByTags<T extends FoldItem>(items: readonly T[], datasetTags: DatasetTags): FoldSplit<T> {
  const requiredTags = [datasetTags.train, datasetTags.val];
  const groups = new Map<string, T[]>(requiredTags.map((tag) => [tag, []]));
  let neitherCount = 0;
  let bothCount = 0;
  for (const item of items) {
    const names = new Set(item.tagNames);
    // One append per occurrence in requiredTags: the same tag twice puts the item twice in its group.
    for (const tag of requiredTags) if (names.has(tag)) groups.get(tag)?.push(item);
    const carried = requiredTags.filter((tag) => names.has(tag)).length;
    if (carried === 0) neitherCount += 1;
    if (carried === requiredTags.length) bothCount += 1;
  }
  return {
    train: groups.get(datasetTags.train) ?? [],
    val: groups.get(datasetTags.val) ?? [],
    neitherCount,
    bothCount,
  };
}

/** `ensure_samples_nonempty`: a fold needs at least one image, and at least one object among its images. */
export function ensureFoldUsable(
  items: readonly FoldItem[],
  fold: { purpose: FoldPurpose; tag: string },
): void {
  const context = { field: `dataset_tags.${fold.purpose}` };
  if (items.length === 0) {
    throw dataError(
      `There are no annotations with tag "${fold.tag}" (the ${fold.purpose} fold). ` +
        `Tag some images "${fold.tag}" in the project, or name a tag the project uses.`,
      context,
    );
  }
  if (!items.some((item) => item.objectCount > 0)) {
    throw dataError(
      `There are no objects in annotations with tag "${fold.tag}" (the ${fold.purpose} fold, ${items.length} ` +
        `images). Annotate some of these images, or tag annotated images "${fold.tag}".`,
      context,
    );
  }
}

/** Split, then check the train fold and the val fold, in that order. */
export function splitIntoFolds<T extends FoldItem>(
  items: readonly T[],
  datasetTags: DatasetTags,
): FoldSplit<T> {
  const split = splitByTags(items, datasetTags);
  ensureFoldUsable(split.train, { purpose: 'train', tag: datasetTags.train });
  ensureFoldUsable(split.val, { purpose: 'val', tag: datasetTags.val });
  return split;
}
