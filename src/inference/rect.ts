/**
 * Axis-aligned pixel rectangles as the SDK's `Rectangle` has them (spec B.4): integer pixel coordinates,
 * `bottom` and `right` inclusive, so width = right - left + 1.
 */

export interface Rect {
  readonly top: number;
  readonly left: number;
  readonly bottom: number;
  readonly right: number;
}

export interface Size {
  readonly height: number;
  readonly width: number;
}

export function rectHeight(r: Rect): number {
  return r.bottom - r.top + 1;
}

export function rectWidth(r: Rect): number {
  return r.right - r.left + 1;
}

export function rectSize(r: Rect): Size {
  return { height: rectHeight(r), width: rectWidth(r) };
}

/** The whole image: `Rectangle.from_size((h, w))` = (0, 0, h-1, w-1). */
export function rectFromSize(size: Size): Rect {
  return { top: 0, left: 0, bottom: size.height - 1, right: size.width - 1 };
}

export function isEmptyRect(r: Rect): boolean {
  return r.bottom < r.top || r.right < r.left;
}

export function translateRect(r: Rect, d: { drow: number; dcol: number }): Rect {
  return { top: r.top + d.drow, left: r.left + d.dcol, bottom: r.bottom + d.drow, right: r.right + d.dcol };
}

/** The common part of two rectangles, or null when they do not overlap (`Rectangle.crop`). */
export function intersectRects(a: Rect, b: Rect): Rect | null {
  const r: Rect = {
    top: Math.max(a.top, b.top),
    left: Math.max(a.left, b.left),
    bottom: Math.min(a.bottom, b.bottom),
    right: Math.min(a.right, b.right),
  };
  return isEmptyRect(r) ? null : r;
}

export function containsRect(outer: Rect, inner: Rect): boolean {
  return (
    inner.top >= outer.top &&
    inner.left >= outer.left &&
    inner.bottom <= outer.bottom &&
    inner.right <= outer.right
  );
}

/** `top,left-bottom,right` for messages. */
export function describeRect(r: Rect): string {
  return `rows ${r.top}..${r.bottom}, columns ${r.left}..${r.right}`;
}
