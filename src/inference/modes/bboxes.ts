/** The `bboxes` mode's regions (spec F.3 InfModeBboxes): one padded box per selected input label. */

import type { SideBounds } from '../../task/config-types';
import type { NameSelection } from '../renamer';
import { isNameIncluded } from '../renamer';
import { intersectRects, rectFromSize, rectSize, translateRect, type Rect, type Size } from '../rect';
import { sideOffsets } from './bounds';

/**
 * The box a model runs on for one input label: its bounding box grown by `padding` (positive values expand;
 * `%` is relative to the bounding box's own size: left/right of its width, top/bottom of its height), then cut
 * to the image. Null when nothing is left: the box lies outside the image, or negative padding ate it whole
 * (the SDK raised on the latter; skipping keeps the task going and the label unchanged).
 */
export function paddedBox(opts: { bbox: Rect; padding: SideBounds; image: Size }): Rect | null {
  const { bbox, padding, image } = opts;
  const size = rectSize(bbox);
  const p = sideOffsets(padding, size, 'mode.padding');
  const local: Rect = {
    top: -p.top,
    left: -p.left,
    bottom: size.height + p.bottom - 1,
    right: size.width + p.right - 1,
  };
  if (local.top > local.bottom || local.left > local.right) return null;
  return intersectRects(translateRect(local, { drow: bbox.top, dcol: bbox.left }), rectFromSize(image));
}

/** One input label as the plan sees it: its class and its bounding box (null if it has no extent). */
export interface LabelBox {
  readonly classTitle: string;
  readonly bbox: Rect | null;
}

export interface SkippedLabel {
  readonly labelIndex: number;
  readonly reason: string;
}

export interface BboxesRegions {
  /** The regions to run the model on, in label order. */
  readonly crops: Rect[];
  /** For each crop, the index of the input label it came from. */
  readonly cropLabel: number[];
  /** Selected labels that got no region; they are kept unchanged in the output. */
  readonly skipped: SkippedLabel[];
}

export function bboxesRegions(opts: {
  labels: readonly LabelBox[];
  fromClasses: NameSelection;
  padding: SideBounds;
  image: Size;
}): BboxesRegions {
  const crops: Rect[] = [];
  const cropLabel: number[] = [];
  const skipped: SkippedLabel[] = [];
  opts.labels.forEach((label, labelIndex) => {
    if (!isNameIncluded(label.classTitle, opts.fromClasses)) return;
    if (label.bbox === null) {
      skipped.push({ labelIndex, reason: 'the label has no pixels' });
      return;
    }
    const rect = paddedBox({ bbox: label.bbox, padding: opts.padding, image: opts.image });
    if (rect === null) {
      skipped.push({ labelIndex, reason: 'its padded box lies outside the image or is empty' });
      return;
    }
    crops.push(rect);
    cropLabel.push(labelIndex);
  });
  return { crops, cropLabel, skipped };
}
