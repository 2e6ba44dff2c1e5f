/**
 * The results project's meta (spec F.3 InferenceModeBase.__init__, F.4): the input meta, plus the renamed model
 * classes (shape and colour kept), plus the renamed model tag metas, plus the mode's own rectangle classes.
 * A name that already exists is an error that says which setting to change, where the SDK raised a bare
 * DuplicateKeyError.
 */

import { configError } from '../errors';
import { colorForName } from '../format/color';
import { createProjectMeta } from '../format/meta';
import type { ObjClass, ProjectMeta, TagMeta } from '../format/model';
import type { ModeConfig } from '../task/config-types';
import { isNameIncluded, Renamer } from './renamer';

/** What the model produces (spec F.1 `model_out_meta`): its out classes and the tag metas it may attach. */
export interface ModelOutMeta {
  readonly classes: readonly ObjClass[];
  readonly tagMetas: readonly TagMeta[];
}

export interface OutputMeta {
  readonly meta: ProjectMeta;
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
  readonly inputMeta: ProjectMeta;
  readonly model: ModelOutMeta;
  readonly mode: ModeConfig;
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

export function buildOutputMeta(opts: BuildOutputMetaOptions): OutputMeta {
  const { inputMeta, model, mode } = opts;
  const classRenamer = Renamer.fromJson(mode.model_classes);
  const tagRenamer = Renamer.fromJson(mode.model_tags);

  const classes: ObjClass[] = [...inputMeta.classes];
  const taken = new Map<string, string>(classes.map((c) => [c.title, 'an input project class']));
  const addClass = (cls: ObjClass, origin: string, fix: Fix): void => {
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
    // The model's class id belongs to the training project, not to the results project.
    const { id: _id, ...kept } = cls;
    addClass({ ...kept, title }, `model class "${cls.title}" renamed`, FIX.modelClasses);
  }

  let regionClass: string | null = null;
  const boxClassBySource = new Map<string, string>();
  if ((mode.name === 'roi' || mode.name === 'sliding_window') && mode.save) {
    regionClass = mode.class_name;
    addClass(
      rectangleClass(regionClass, colorForName(regionClass)),
      `the ${mode.name} rectangle class`,
      FIX.className,
    );
  }
  if (mode.name === 'bboxes' && mode.save) {
    for (const src of inputMeta.classes) {
      if (!isNameIncluded(src.title, mode.from_classes)) continue;
      const title = src.title + mode.add_suffix;
      // A rectangle copy of the source class: geometry config, hotkey and id belong to the source class only.
      addClass(rectangleClass(title, src.color), `the box class of input class "${src.title}"`, FIX.boxes);
      boxClassBySource.set(src.title, title);
    }
  }

  const tagMetas: TagMeta[] = [...inputMeta.tagMetas];
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

  const parts = {
    classes,
    tagMetas,
    ...(inputMeta.projectType !== undefined ? { projectType: inputMeta.projectType } : {}),
  };
  return { meta: createProjectMeta(parts), classRenamer, tagRenamer, regionClass, boxClassBySource };
}

function rectangleClass(title: string, color: string): ObjClass {
  return { title, shape: 'rectangle', color, geometryConfig: {}, hotkey: '' };
}
