/**
 * The results project's meta (spec F.3 InferenceModeBase.__init__, F.4): the input meta, plus the renamed model
 * classes (shape and colour kept), plus the renamed model tag metas, plus the mode's own rectangle classes.
 * A name that already exists is an error that says which setting to change, where the SDK raised a bare
 * DuplicateKeyError.
 */

import { configError } from '../errors';
import type { ObjClassJson, ProjectMetaJson, TagMetaJson } from '../format/types';
import type { ModeConfig } from './mode-config';
import { isNameIncluded, Renamer } from './renamer';

/** What the model produces (spec F.1 `model_out_meta`): its out classes and the tag metas it may attach. */
export interface ModelOutMeta {
  readonly classes: readonly ObjClassJson[];
  readonly tagMetas: readonly TagMetaJson[];
}

export interface OutputMeta {
  readonly meta: ProjectMetaJson;
  /** Maps a model class title to its output title, or null when the class is not saved. */
  readonly classRenamer: Renamer;
  /** Maps a model tag name to its output name, or null when the tag is not saved. */
  readonly tagRenamer: Renamer;
  /** roi / sliding_window with `save`: the title of the saved region rectangles; null otherwise. */
  readonly regionClass: string | null;
  /** bboxes with `save`: input class title -> the title of its saved box rectangles. */
  readonly boxClassBySource: ReadonlyMap<string, string>;
}

export interface BuildOutputMetaOptions {
  readonly inputMeta: ProjectMetaJson;
  readonly model: ModelOutMeta;
  readonly mode: ModeConfig;
}

export function buildOutputMeta(opts: BuildOutputMetaOptions): OutputMeta {
  const { inputMeta, model, mode } = opts;
  const classRenamer = Renamer.fromJson(mode.model_classes);
  const tagRenamer = Renamer.fromJson(mode.model_tags);

  const classes: ObjClassJson[] = [...inputMeta.classes];
  const taken = new Map<string, string>(classes.map((c) => [c.title, 'an input project class']));
  const addClass = (cls: ObjClassJson, origin: string, fix: Fix): void => {
    const clash = taken.get(cls.title);
    if (clash !== undefined) {
      throw configError(
        `the output class "${cls.title}" (${origin}) has the same name as ${clash}; ${fix.text}`,
        {
          field: fix.field,
        },
      );
    }
    taken.set(cls.title, origin);
    classes.push(cls);
  };

  for (const cls of model.classes) {
    const title = classRenamer.rename(cls.title);
    if (title === null) continue;
    const { id: _id, ...kept } = cls;
    addClass({ ...kept, title }, `model class "${cls.title}" renamed`, FIX.modelClasses);
  }

  let regionClass: string | null = null;
  const boxClassBySource = new Map<string, string>();
  if ((mode.name === 'roi' || mode.name === 'sliding_window') && mode.save) {
    regionClass = mode.class_name;
    addClass(
      { title: regionClass, shape: 'rectangle', color: colorForName(regionClass) },
      `the ${mode.name} rectangle class`,
      FIX.className,
    );
  }
  if (mode.name === 'bboxes' && mode.save) {
    for (const src of inputMeta.classes) {
      if (!isNameIncluded(src.title, mode.from_classes)) continue;
      const title = src.title + mode.add_suffix;
      // A rectangle copy of the source class: geometry_config, hotkey and id belong to the source class only.
      addClass(
        { title, shape: 'rectangle', color: src.color },
        `the box class of input class "${src.title}"`,
        FIX.boxes,
      );
      boxClassBySource.set(src.title, title);
    }
  }

  const tagMetas: TagMetaJson[] = [...(inputMeta.tags ?? [])];
  const takenTags = new Set(tagMetas.map((t) => t.name));
  for (const tm of model.tagMetas) {
    const name = tagRenamer.rename(tm.name);
    if (name === null) continue;
    if (takenTags.has(name)) {
      throw configError(
        `the output tag "${name}" (model tag "${tm.name}" renamed) has the same name as an input project tag; ` +
          FIX.modelTags.text,
        { field: FIX.modelTags.field },
      );
    }
    takenTags.add(name);
    const { id: _id, ...kept } = tm;
    tagMetas.push({ ...kept, name });
  }

  return {
    meta: { ...inputMeta, classes, tags: tagMetas },
    classRenamer,
    tagRenamer,
    regionClass,
    boxClassBySource,
  };
}

interface Fix {
  readonly field: string;
  readonly text: string;
}

/** The setting that resolves each kind of name clash. */
const FIX = {
  modelClasses: {
    field: 'mode.model_classes.add_suffix',
    text: 'change `mode.model_classes.add_suffix` (or leave the class out of `mode.model_classes.save_classes`)',
  },
  modelTags: {
    field: 'mode.model_tags.add_suffix',
    text: 'change `mode.model_tags.add_suffix` (or leave the tag out of `mode.model_tags.save_classes`)',
  },
  className: { field: 'mode.class_name', text: 'change `mode.class_name`' },
  boxes: { field: 'mode.add_suffix', text: 'change `mode.add_suffix` (the suffix of the saved box classes)' },
} as const satisfies Record<string, Fix>;

/**
 * A stable colour for a class the mode invents. The SDK picks a random one; a hash of the name keeps results
 * reproducible and still spreads different names apart.
 */
export function colorForName(name: string): string {
  let h = 0x811c9dc5; // FNV-1a, 32 bits
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const hex = (h & 0xffffff).toString(16).toUpperCase().padStart(6, '0');
  return `#${hex}`;
}
