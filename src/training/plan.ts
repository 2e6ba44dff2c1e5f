/**
 * The training plan (spec E.1 steps 7-10, E.3-E.5, E.7): from the project and the config, before any tensor
 * exists: the class map, the folds, the batch sizes, the steps per epoch and the validations. Everything a user
 * can get wrong in the data fails here, before the model is built. `scanProject` is the I/O (every annotation
 * is read and checked, as the SDK does); `planTraining` is pure.
 */

import { itemStats, type ItemStats } from './preflight';
import type { ProjectItem, ProjectListing } from '../format/project-reader';
import { projectItems, readItemAnnotation } from '../format/project-reader';
import type { ObjClassJson } from '../format/types';
import { objClassToJson } from '../format/meta';
import { configError, TaskError } from '../errors';
import type { TrainConfig } from '../task/config-types';
import type { SegmentationClasses } from '../model-state/class-map';
import type { FoldItem, FoldPurpose } from './folds';
import { splitIntoFolds } from './folds';
import type { PlannedValidation } from './planner';
import { planValidations } from './planner';

/** A project item with what the split needs to know of its annotation. */
export interface ScannedItem extends FoldItem {
  item: ProjectItem;
  /** Size and labelled area per class, for the preflight report. */
  stats: ItemStats;
}

/** How many annotations are read at once while scanning. */
const SCAN_CONCURRENCY = 16;

/** Reads every annotation of the project (a bad one anywhere fails the task, naming it) for tags and objects. */
export async function scanProject(project: ProjectListing): Promise<ScannedItem[]> {
  const items = [...projectItems(project)];
  const out: ScannedItem[] = new Array<ScannedItem>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      const annotation = await readItemAnnotation(project, items[i]);
      out[i] = {
        item: items[i],
        tagNames: annotation.tags.map((t) => t.name),
        objectCount: annotation.labels.length,
        stats: itemStats(annotation),
      };
    }
  };
  await Promise.all(Array.from({ length: Math.min(SCAN_CONCURRENCY, items.length) }, worker));
  return out;
}

/** The project classes as the class map wants them (meta.json order). */
export function projectClassesJson(project: ProjectListing): ObjClassJson[] {
  return project.meta.classes.map(objClassToJson);
}

export interface FoldPlan {
  purpose: FoldPurpose;
  tag: string;
  items: ScannedItem[];
  /** The batch size used: the configured one, or the fold size when the fold is smaller (training only). */
  batchSize: number;
  /** Batches per epoch (train: full batches only; val: the last one kept). */
  batches: number;
}

export interface TrainingPlan {
  train: FoldPlan;
  val: FoldPlan;
  /** Images with neither fold tag (unused) and with both (in both folds). */
  neitherCount: number;
  bothCount: number;
  itersPerEpoch: number;
  totalSteps: number;
  validations: PlannedValidation[];
  /** The pixel value of unlabelled pixels: the background index, or the ignore index when there is none. */
  fill: number;
  /** The class index the loss and metrics ignore (neutral, or unlabelled pixels without a background). */
  ignoreIndex: number | null;
  /** Things the user should know (a shrunk batch, unused images); the caller logs them as warnings. */
  warnings: string[];
}

const CONFIG_FILE = 'task_config.json';

/** `fill` and `ignoreIndex` from the class map: see TrainingPlan. */
export function groundTruthValues(
  classes: SegmentationClasses,
  background: string | undefined,
): { fill: number; ignoreIndex: number | null } {
  if (background !== undefined) {
    return { fill: classes.classTitleToIdx[background], ignoreIndex: classes.ignoreIndex };
  }
  // No background class: pixels no object covers are not known to be anything, so the loss ignores them.
  const ignoreIndex = classes.ignoreIndex ?? classes.numClasses;
  return { fill: ignoreIndex, ignoreIndex };
}

/** Splits the scanned items into folds and sizes the run. Throws a TaskError naming the field at fault. */
export function planTraining(opts: {
  items: readonly ScannedItem[];
  config: TrainConfig;
  classes: SegmentationClasses;
}): TrainingPlan {
  const { config } = opts;
  const split = withConfigFile(() => splitIntoFolds(opts.items, config.dataset_tags));
  const warnings: string[] = [];
  const train = foldPlan('train', split.train, config, warnings);
  const val = foldPlan('val', split.val, config, warnings);
  if (split.neitherCount > 0) {
    warnings.push(
      `${split.neitherCount} images have neither the "${config.dataset_tags.train}" nor the ` +
        `"${config.dataset_tags.val}" tag and are not used`,
    );
  }
  const itersPerEpoch = train.batches;
  const validations = planValidations({
    epochs: config.epochs,
    itersPerEpoch,
    valEvery: config.val_every,
  });
  if (validations.length === 0) {
    throw configError(
      `with epochs ${config.epochs} and val_every ${config.val_every} no validation (and so no checkpoint) ` +
        'would happen; use a val_every no larger than epochs',
      { file: CONFIG_FILE, field: 'val_every' },
    );
  }
  return {
    train,
    val,
    neitherCount: split.neitherCount,
    bothCount: split.bothCount,
    itersPerEpoch,
    totalSteps: itersPerEpoch * config.epochs,
    validations,
    ...groundTruthValues(opts.classes, config.special_classes.background),
    warnings,
  };
}

function foldPlan(
  purpose: FoldPurpose,
  items: ScannedItem[],
  config: TrainConfig,
  warnings: string[],
): FoldPlan {
  const configured = config.batch_size[purpose];
  let batchSize = configured;
  if (purpose === 'train' && items.length < configured) {
    // Dropping the last incomplete batch would train on nothing at all.
    batchSize = items.length;
    warnings.push(
      `the train fold has ${items.length} images, fewer than batch_size.train = ${configured}: ` +
        `training with batches of ${batchSize}`,
    );
  }
  const batches =
    purpose === 'train' ? Math.floor(items.length / batchSize) : Math.ceil(items.length / batchSize);
  return { purpose, tag: config.dataset_tags[purpose], items, batchSize, batches };
}

/** The fold checks name a field of the training config: say which file it is in. */
function withConfigFile<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw e instanceof TaskError ? e.withContext({ file: CONFIG_FILE }) : e;
  }
}
