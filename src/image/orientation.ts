/**
 * EXIF orientation against the annotation's size. The SDK reads images with cv2.imread(IMREAD_COLOR), which
 * applies the EXIF orientation; the annotation's `size` is what the platform measured, and it is the truth
 * for where labels are. The rule:
 *   1. no EXIF rotation, or the EXIF-rotated size matches the annotation: apply EXIF (what the SDK sees);
 *   2. otherwise, if the stored (unrotated) size matches: ignore EXIF, since the labels were drawn on the
 *      stored pixels (rotating would put every label in the wrong place);
 *   3. otherwise the image does not fit its annotation: an error.
 * Orientations 2-4 (flips, 180 degrees) keep the size, so rule 1 applies them, as the SDK does.
 */

import type { ImageSize } from '../format/model';

export type ExifHandling = 'none' | 'applied' | 'ignored';

export interface OrientationDecision {
  /** What was done with the EXIF orientation. */
  readonly exif: ExifHandling;
  /** The image's size after the decision, before any resize. */
  readonly size: ImageSize;
}

/** Orientations 5-8 swap width and height. */
export function orientedSize(stored: ImageSize, orientation: number): ImageSize {
  return orientation >= 5 && orientation <= 8 ? { width: stored.height, height: stored.width } : stored;
}

const sameSize = (a: ImageSize, b: ImageSize): boolean => a.width === b.width && a.height === b.height;

/** Applies the rule above; null when neither orientation gives the expected size. */
export function decideOrientation(options: {
  stored: ImageSize;
  /** EXIF orientation tag, 1-8; undefined or 1 when absent. */
  orientation?: number;
  /** The annotation's size, if the image has one. */
  expected?: ImageSize;
}): OrientationDecision | null {
  const orientation = options.orientation ?? 1;
  const rotates = orientation >= 2 && orientation <= 8;
  const oriented = orientedSize(options.stored, orientation);
  const withExif: OrientationDecision = { exif: rotates ? 'applied' : 'none', size: oriented };
  if (options.expected === undefined || sameSize(oriented, options.expected)) return withExif;
  if (rotates && sameSize(options.stored, options.expected)) return { exif: 'ignored', size: options.stored };
  return null;
}
