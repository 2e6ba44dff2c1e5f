/**
 * The validated inference mode configs (spec F.3), as far as the inference pieces read them.
 *
 * Helper A owns the real types in src/task/config-types.ts; until they land these local shapes use exactly the
 * same field names, so A's types are assignable to them and the switch is an import change.
 */

/** `"__all__"` or a list of names (spec F.3 `renamer`). */
export type NameSelection = '__all__' | readonly string[];

export interface RenamerJson {
  add_suffix?: string;
  save_classes?: NameSelection;
  /** Alias of save_classes; wins on read. */
  save_names?: NameSelection;
}

/** `"<int>px"` or `"<int>%"` (spec F.3 `int_percent_or_px`). */
export type PercentOrPx = string;

export interface SideBounds {
  left: PercentOrPx;
  top: PercentOrPx;
  right: PercentOrPx;
  bottom: PercentOrPx;
}

interface ModeCommon {
  model_classes?: RenamerJson;
  model_tags?: RenamerJson;
  save_probabilities?: boolean;
}

export interface FullImageModeConfig extends ModeCommon {
  name: 'full_image';
}

export interface RoiModeConfig extends ModeCommon {
  name: 'roi';
  bounds: SideBounds;
  save: boolean;
  class_name: string;
}

export interface BboxesModeConfig extends ModeCommon {
  name: 'bboxes';
  from_classes: NameSelection;
  padding: SideBounds;
  save: boolean;
  add_suffix: string;
}

export type Blending = 'sum' | 'feather';

export interface SlidingWindowModeConfig extends ModeCommon {
  name: 'sliding_window';
  window: { width: number; height: number };
  min_overlap: { x: number; y: number };
  save: boolean;
  class_name: string;
  blending: Blending;
}

export type ModeConfig = FullImageModeConfig | RoiModeConfig | BboxesModeConfig | SlidingWindowModeConfig;
