/**
 * The model's output classes and the class title -> index map (spec E.3, E.4): what `config.json` stores as
 * `out_classes` and `class_title_to_idx` (spec C.2), plus the extra neutral index used only to draw the ground
 * truth and to ignore those pixels in the loss (spec G.2). Pure: the caller reads the model's config.json.
 */

import { configError, dataError, modelError } from '../errors';
import type { ObjClassJson, ShapeName } from '../format/types';

export type WeightsInitType = 'transfer_learning' | 'continue_training';
export const WEIGHTS_INIT_TYPES: readonly WeightsInitType[] = ['transfer_learning', 'continue_training'];

/** `special_classes` of the training config: class titles with a special role. */
export interface SpecialClasses {
  background?: string;
  neutral?: string;
}

/** The colour of a background class the project lacks (SDK `[34, 34, 34]`). */
export const BACKGROUND_COLOR = '#222222';

export type ClassTitleToIdx = Record<string, number>;

/**
 * Code-point order, as Python's default string sort. A plain `<` on JS strings compares UTF-16 code units, which
 * differs for characters beyond U+FFFF (surrogates sort below U+E000..U+FFFF there).
 */
export function compareCodePoints(a: string, b: string): number {
  const ai = a[Symbol.iterator]();
  const bi = b[Symbol.iterator]();
  for (;;) {
    const ca = ai.next();
    const cb = bi.next();
    if (ca.done === true || cb.done === true) return (ca.done === true ? 0 : 1) - (cb.done === true ? 0 : 1);
    const diff = (ca.value.codePointAt(0) ?? 0) - (cb.value.codePointAt(0) ?? 0);
    if (diff !== 0) return diff;
  }
}

/**
 * `make_out_classes`: the project classes not excluded, in meta.json order, recast to `shape` with their colour;
 * then each extra class whose title the project lacks.
 */
export function makeOutClasses(opts: {
  projectClasses: readonly ObjClassJson[];
  shape: ShapeName;
  excludeTitles?: readonly string[];
  /** title -> `#RRGGBB` */
  extraClasses?: Readonly<Record<string, string>>;
}): ObjClassJson[] {
  const exclude = new Set(opts.excludeTitles ?? []);
  const extra = opts.extraClasses ?? {};
  const both = Object.keys(extra).filter((t) => exclude.has(t));
  if (both.length > 0) {
    throw configError(`class ${quoteList(both)} is both excluded and added as a special class`, {
      field: 'special_classes',
    });
  }
  const outClass = (title: string, color: string): ObjClassJson => ({
    title,
    shape: opts.shape,
    color: color.toUpperCase(),
    geometry_config: {},
    hotkey: '',
  });
  const out = opts.projectClasses.filter((c) => !exclude.has(c.title)).map((c) => outClass(c.title, c.color));
  for (const [title, color] of Object.entries(extra)) {
    if (!out.some((c) => c.title === title)) out.push(outClass(title, color));
  }
  return out;
}

/**
 * `make_new_class_to_idx_map`: the preset ids, then every other title not excluded, in code-point order, each
 * taking the next free integer from `startClassId` (preset ids are skipped).
 */
export function makeNewClassToIdxMap(opts: {
  titles: readonly string[];
  startClassId: number;
  presetIds?: Readonly<ClassTitleToIdx>;
  excludeTitles?: readonly string[];
}): ClassTitleToIdx {
  const preset = opts.presetIds ?? {};
  const exclude = new Set(opts.excludeTitles ?? []);
  const presetExcluded = Object.keys(preset).filter((t) => exclude.has(t));
  if (presetExcluded.length > 0) {
    throw configError(`special class ${quoteList(presetExcluded)} cannot be both background and neutral`, {
      field: 'special_classes',
    });
  }
  const duplicates = opts.titles.filter((t, i) => opts.titles.indexOf(t) !== i);
  if (duplicates.length > 0) {
    throw dataError(`class titles must be unique; repeated: ${quoteList([...new Set(duplicates)])}`, {
      file: 'meta.json',
      field: 'classes',
    });
  }
  // A Map, so titles such as "constructor" or "__proto__" are plain keys.
  const result = new Map(Object.entries(preset));
  const used = new Set(result.values());
  let next = opts.startClassId;
  for (const title of [...opts.titles].sort(compareCodePoints)) {
    if (result.has(title) || exclude.has(title)) continue;
    while (used.has(next)) next += 1;
    result.set(title, next);
    used.add(next);
  }
  return Object.fromEntries(result);
}

/** A model's config.json as far as class mapping goes: its `class_title_to_idx`, checked. */
export function readModelClassMap(config: unknown, file: string): ClassTitleToIdx {
  const field = 'class_title_to_idx';
  const map = isRecord(config) ? config[field] : undefined;
  if (!isRecord(map)) {
    throw modelError(
      'Unable to continue_training, model does not have class mapping information. ' +
        'Use weights_init_type "transfer_learning" with this model.',
      { file, field },
    );
  }
  const entries = Object.entries(map);
  for (const [title, idx] of entries) {
    if (typeof idx !== 'number' || !Number.isInteger(idx) || idx < 0) {
      throw modelError(`class "${title}" has index ${JSON.stringify(idx)}; expected a natural number`, {
        file,
        field: `${field}.${title}`,
      });
    }
  }
  return Object.fromEntries(entries) as ClassTitleToIdx;
}

export interface SegmentationClasses {
  /** `out_classes` of config.json: every class of shape bitmap. */
  outClasses: ObjClassJson[];
  /** `class_title_to_idx` of config.json. Never contains the neutral class. */
  classTitleToIdx: ClassTitleToIdx;
  /** The map for drawing the ground truth: classTitleToIdx plus the neutral class at ignoreIndex, if any. */
  drawingClassToIdx: ClassTitleToIdx;
  /** The neutral class's index (max index + 1), to be ignored by the loss and the metrics; null if none. */
  ignoreIndex: number | null;
  /** Network output channels: max index + 1. */
  numClasses: number;
  /** What to log about the mode (the SDK's wording). */
  modeMessage: string;
}

/**
 * `create_segmentation_classes` with `infer_training_class_to_idx_map` and the special-class check (spec E.3,
 * E.4). For `continue_training`, `model` is the model's config.json as read (undefined if the file is missing).
 */
export function createSegmentationClasses(opts: {
  projectClasses: readonly ObjClassJson[];
  specialClasses?: SpecialClasses;
  weightsInitType: string;
  /** Index of the background class. Default 0. */
  backgroundIndex?: number;
  /** First index for ordinary classes. Default 1. */
  startClassId?: number;
  model?: { config: unknown; file: string };
  /** How to name the model's config.json in messages when `model` is undefined. */
  modelConfigFile?: string;
}): SegmentationClasses {
  const special = opts.specialClasses ?? {};
  const backgroundIndex = opts.backgroundIndex ?? 0;
  const background = special.background;
  const neutral = special.neutral;
  if (background !== undefined && background === neutral) {
    throw configError(`"${background}" cannot be both the background and the neutral class`, {
      field: 'special_classes',
    });
  }
  const presetIds: ClassTitleToIdx = background === undefined ? {} : { [background]: backgroundIndex };
  const excludeTitles = neutral === undefined ? [] : [neutral];
  const outClasses = makeOutClasses({
    projectClasses: opts.projectClasses,
    shape: 'bitmap',
    excludeTitles,
    extraClasses: background === undefined ? {} : { [background]: BACKGROUND_COLOR },
  });
  const projectMap = makeNewClassToIdxMap({
    titles: opts.projectClasses.map((c) => c.title),
    startClassId: opts.startClassId ?? 1,
    presetIds,
    excludeTitles,
  });
  const {
    map: classTitleToIdx,
    modeMessage,
    file,
  } = inferTrainingClassMap({
    weightsInitType: opts.weightsInitType,
    projectMap,
    model: opts.model,
    modelConfigFile: opts.modelConfigFile ?? 'model/config.json',
  });
  checkSpecialClassIds(classTitleToIdx, presetIds, file);
  const indices = Object.values(classTitleToIdx);
  if (indices.length === 0) {
    throw dataError('the project has no classes to train on (besides the neutral class)', {
      file: 'meta.json',
      field: 'classes',
    });
  }
  const numClasses = Math.max(...indices) + 1;
  const ignoreIndex = neutral === undefined ? null : numClasses;
  const drawingClassToIdx =
    neutral === undefined ? { ...classTitleToIdx } : { ...classTitleToIdx, [neutral]: numClasses };
  return { outClasses, classTitleToIdx, drawingClassToIdx, ignoreIndex, numClasses, modeMessage };
}

/** `infer_training_class_to_idx_map`: a fresh map, or the model's one if its key set matches the project's. */
export function inferTrainingClassMap(opts: {
  weightsInitType: string;
  projectMap: Readonly<ClassTitleToIdx>;
  model?: { config: unknown; file: string };
  modelConfigFile: string;
}): { map: ClassTitleToIdx; modeMessage: string; file?: string } {
  if (opts.weightsInitType === 'transfer_learning') {
    return {
      map: { ...opts.projectMap },
      modeMessage: 'Transfer learning mode, using a class mapping created from scratch.',
    };
  }
  if (opts.weightsInitType !== 'continue_training') {
    throw configError(
      `Unknown weights init type: "${opts.weightsInitType}". Expected one of: ${quoteList(WEIGHTS_INIT_TYPES)}`,
      { field: 'weights_init_type' },
    );
  }
  if (opts.model === undefined) {
    throw modelError(
      "Unable to continue_training, config for previous training wasn't found. " +
        'Attach a model trained by this plugin, or use weights_init_type "transfer_learning".',
      { file: opts.modelConfigFile },
    );
  }
  const modelMap = readModelClassMap(opts.model.config, opts.model.file);
  const difference = keyDifference(modelMap, opts.projectMap);
  if (difference.onlyInModel.length > 0 || difference.onlyInProject.length > 0) {
    throw modelError(describeMismatch(difference), { file: opts.model.file, field: 'class_title_to_idx' });
  }
  return {
    map: modelMap,
    modeMessage: 'Continued training mode, reusing the existing class mapping from the model.',
    file: opts.model.file,
  };
}

export interface KeyDifference {
  onlyInModel: string[];
  onlyInProject: string[];
}

export function keyDifference(
  model: Readonly<ClassTitleToIdx>,
  project: Readonly<ClassTitleToIdx>,
): KeyDifference {
  const onlyIn = (a: object, b: object) =>
    Object.keys(a)
      .filter((k) => !Object.hasOwn(b, k))
      .sort(compareCodePoints);
  return { onlyInModel: onlyIn(model, project), onlyInProject: onlyIn(project, model) };
}

function describeMismatch(d: KeyDifference): string {
  const parts = ['Unable to continue_training, sets of classes for model and dataset do not match.'];
  if (d.onlyInModel.length > 0) parts.push(`Only in the model: ${quoteList(d.onlyInModel)}.`);
  if (d.onlyInProject.length > 0) {
    parts.push(`Only in the project (with the special classes): ${quoteList(d.onlyInProject)}.`);
  }
  parts.push('Use weights_init_type "transfer_learning" to train a new head, or make the classes match.');
  return parts.join(' ');
}

/** Every special class must keep its requested index, whichever map won (spec E.4). */
export function checkSpecialClassIds(
  map: Readonly<ClassTitleToIdx>,
  requested: Readonly<ClassTitleToIdx>,
  file?: string,
): void {
  for (const [title, idx] of Object.entries(requested)) {
    const effective = Object.hasOwn(map, title) ? map[title] : undefined;
    if (effective !== idx) {
      throw modelError(
        `Unable to start training. Effective integer id for class "${title}" (${String(effective)}) ` +
          `does not match the requested value ${idx}.`,
        { file, field: `class_title_to_idx.${title}` },
      );
    }
  }
}

function quoteList(items: readonly string[]): string {
  return items.map((t) => `"${t}"`).join(', ');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
