/**
 * The SDK's `Renamer` (spec F.3, SDK path `annotation/renamer.py`): which model classes or tags are kept, and
 * under which name.
 */

import type { Tag } from '../format/model';

export const MATCH_ALL = '__all__';

/** `"__all__"` or a list of names (spec F.3 `renamer`). */
export type NameSelection = typeof MATCH_ALL | readonly string[];

/** The renamer JSON as written in a task config (the validated `RenamerConfig` of src/task is one). */
export interface RenamerJson {
  add_suffix?: string;
  save_classes?: NameSelection;
  /** Alias of save_classes; wins on read. */
  save_names?: NameSelection;
}

/** `is_name_included`: `"__all__"` matches everything, a list matches its members. */
export function isNameIncluded(name: string, selection: NameSelection): boolean {
  return selection === MATCH_ALL || (typeof selection !== 'string' && selection.includes(name));
}

export class Renamer {
  readonly addSuffix: string;
  readonly selection: NameSelection;

  constructor(opts: { addSuffix?: string; selection?: NameSelection } = {}) {
    this.addSuffix = opts.addSuffix ?? '';
    // As the SDK (`copy(enabled) or MATCH_ALL`): an empty list means all. The mode schemas reject empty lists,
    // so only a caller that skips validation can meet this.
    const selection = opts.selection ?? MATCH_ALL;
    this.selection = selection === MATCH_ALL || selection.length === 0 ? MATCH_ALL : [...selection];
  }

  /** From the config JSON: `save_names` wins over `save_classes`; defaults are `""` and `"__all__"`. */
  static fromJson(json: RenamerJson = {}): Renamer {
    return new Renamer({ addSuffix: json.add_suffix, selection: json.save_names ?? json.save_classes });
  }

  /** `name + add_suffix` when the name is selected, otherwise null (the label or tag is dropped). */
  rename(name: string): string | null {
    return isNameIncluded(name, this.selection) ? name + this.addSuffix : null;
  }

  /** The SDK writes only `save_classes`. */
  toJson(): { add_suffix: string; save_classes: NameSelection } {
    return { add_suffix: this.addSuffix, save_classes: this.selection };
  }
}

/** `make_renamed_tags(..., skip_missing=True)`: renamed tags, unselected ones dropped. */
export function renameTags(tags: readonly Tag[], renamer: Renamer): Tag[] {
  const out: Tag[] = [];
  for (const tag of tags) {
    const name = renamer.rename(tag.name);
    if (name !== null) out.push({ ...tag, name });
  }
  return out;
}
