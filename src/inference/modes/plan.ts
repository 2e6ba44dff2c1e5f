/**
 * What the runner has to push through the network for one image, per mode (spec F.3): the crops, in the order
 * the SDK visits them, plus what the merge step needs to put the results back.
 */

import type { ModeConfig } from '../../task/config-types';
import { rectFromSize, type Rect, type Size } from '../rect';
import { bboxesRegions, type LabelBox, type SkippedLabel } from './bboxes';
import { roiRect } from './roi';
import { slidingWindows } from './sliding-window';

export interface FullImagePlan {
  readonly mode: 'full_image';
  readonly crops: [Rect];
}

export interface RoiPlan {
  readonly mode: 'roi';
  readonly crops: [Rect];
}

export interface BboxesPlan {
  readonly mode: 'bboxes';
  readonly crops: Rect[];
  /** For each crop, the index of the input label (in `objects`) it came from. */
  readonly cropLabel: number[];
  readonly skipped: SkippedLabel[];
}

export interface SlidingWindowPlan {
  readonly mode: 'sliding_window';
  /** Rows then columns; every pixel is in at least one window. */
  readonly crops: Rect[];
}

export type InferencePlan = FullImagePlan | RoiPlan | BboxesPlan | SlidingWindowPlan;

export interface PlanOptions {
  readonly mode: ModeConfig;
  readonly image: Size;
  /** The input annotation's labels (bboxes mode only), in `objects` order. */
  readonly labels?: readonly LabelBox[];
}

export function planInference(opts: PlanOptions): InferencePlan {
  const { mode, image } = opts;
  switch (mode.name) {
    case 'full_image':
      return { mode: 'full_image', crops: [rectFromSize(image)] };
    case 'roi':
      return { mode: 'roi', crops: [roiRect({ bounds: mode.bounds, image })] };
    case 'bboxes': {
      const r = bboxesRegions({
        labels: opts.labels ?? [],
        fromClasses: mode.from_classes,
        padding: mode.padding,
        image,
      });
      return { mode: 'bboxes', ...r };
    }
    case 'sliding_window':
      return {
        mode: 'sliding_window',
        crops: slidingWindows({ image, window: mode.window, minOverlap: mode.min_overlap }),
      };
  }
}
