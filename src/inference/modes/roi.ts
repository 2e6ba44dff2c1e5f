/** The `roi` mode's region (spec F.3): the image minus the configured margins. */

import { configError } from '../../errors';
import type { SideBounds } from '../../task/config-types';
import { intersectRects, rectFromSize, type Rect, type Size } from '../rect';
import { sideOffsets } from './bounds';

/**
 * `Rectangle(top=t, left=l, bottom=H-b-1, right=W-r-1)`. Negative margins would reach outside the image; the
 * region is clipped to the image there (the SDK would slice with negative numpy indices, i.e. wrap around).
 * An empty or inverted region is an error naming the margins and the image size.
 */
export function roiRect(opts: { bounds: SideBounds; image: Size }): Rect {
  const { bounds, image } = opts;
  const o = sideOffsets(bounds, image, 'mode.bounds');
  const raw: Rect = {
    top: o.top,
    left: o.left,
    bottom: image.height - o.bottom - 1,
    right: image.width - o.right - 1,
  };
  const clipped = intersectRects(raw, rectFromSize(image));
  if (clipped === null) {
    const noRows = Math.max(raw.top, 0) > Math.min(raw.bottom, image.height - 1);
    const which = noRows
      ? `top "${bounds.top}" (${o.top}px) and bottom "${bounds.bottom}" (${o.bottom}px) leave no rows`
      : `left "${bounds.left}" (${o.left}px) and right "${bounds.right}" (${o.right}px) leave no columns`;
    throw configError(
      `the ROI is empty: ${which} of the ${image.width}x${image.height} (width x height) image; make the margins smaller`,
      { field: 'mode.bounds' },
    );
  }
  return clipped;
}
