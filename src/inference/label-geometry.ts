/**
 * What the inference modes need from label geometries: the bounding box (SDK `Geometry.to_bbox`) and the cut
 * to the image that the SDK applies to every label it adds to an annotation (spec B.3 `label.crop`).
 */

import { tightCrop } from '../format/bitmap-codec';
import { geometryBounds } from '../format/geometry';
import type { BitmapGeometry, Geometry, LineGeometry, PixelPoint, PolygonGeometry } from '../format/model';
import { pyRound } from '../format/py-round';
import { containsRect, intersectRects, rectFromSize, type Rect, type Size } from './rect';

// Video annotations check figures against the frame with the same box: it lives in format/.
export { geometryBounds };

/**
 * The parts of a geometry inside the image `[0, W-1] x [0, H-1]`: none when it lies outside, the same object
 * when it lies inside (a bitmap keeps its encoded string), otherwise the cut geometry. A line that leaves and
 * re-enters the image becomes several lines, as with the SDK's shapely cut.
 *
 * Polygons are cut with Sutherland-Hodgman, which keeps one polygon: a concave polygon that the image edge
 * cuts into several pieces stays one polygon whose pieces are joined by zero-width runs along the edge (the
 * SDK would write separate polygons). Scores and opaque shapes are returned unchanged.
 */
export function clipGeometry(g: Geometry, image: Size): Geometry[] {
  const frame = rectFromSize(image);
  const bounds = geometryBounds(g);
  if (bounds === null) return g.type === 'bitmap' ? [] : [g]; // an empty bitmap cannot be written
  if (containsRect(frame, bounds)) return [g];
  if (intersectRects(frame, bounds) === null) return [];
  switch (g.type) {
    case 'rectangle': {
      const r = intersectRects(frame, bounds) as Rect;
      return [{ type: 'rectangle', ...r }];
    }
    case 'point':
      return [];
    case 'bitmap':
      return clipBitmap(g, frame);
    case 'polygon':
      return clipPolygon(g, frame);
    case 'line':
      return clipLine(g, frame);
    default:
      return [g];
  }
}

function clipBitmap(g: BitmapGeometry, frame: Rect): Geometry[] {
  const maskRect: Rect = {
    top: g.origin.y,
    left: g.origin.x,
    bottom: g.origin.y + g.mask.height - 1,
    right: g.origin.x + g.mask.width - 1,
  };
  const r = intersectRects(frame, maskRect);
  if (r === null) return [];
  const width = r.right - r.left + 1;
  const height = r.bottom - r.top + 1;
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const from = (r.top - g.origin.y + y) * g.mask.width + (r.left - g.origin.x);
    data.set(g.mask.data.subarray(from, from + width), y * width);
  }
  const cropped = tightCrop({ width, height, data }, { x: r.left, y: r.top });
  return cropped === null ? [] : [{ type: 'bitmap', origin: cropped.origin, mask: cropped.mask }];
}

interface FPoint {
  x: number;
  y: number;
}

function clipPolygon(g: PolygonGeometry, frame: Rect): Geometry[] {
  const exterior = clipRing(g.exterior, frame);
  if (exterior === null) return [];
  const interior: PixelPoint[][] = [];
  for (const hole of g.interior) {
    const h = clipRing(hole, frame);
    if (h !== null) interior.push(h);
  }
  return [{ type: 'polygon', exterior, interior }];
}

/** Sutherland-Hodgman against the four frame edges; null when fewer than 3 distinct points remain. */
function clipRing(ring: readonly PixelPoint[], frame: Rect): PixelPoint[] | null {
  const edges: { inside: (p: FPoint) => boolean; cut: (a: FPoint, b: FPoint) => FPoint }[] = [
    { inside: (p) => p.x >= frame.left, cut: (a, b) => atX(a, b, frame.left) },
    { inside: (p) => p.x <= frame.right, cut: (a, b) => atX(a, b, frame.right) },
    { inside: (p) => p.y >= frame.top, cut: (a, b) => atY(a, b, frame.top) },
    { inside: (p) => p.y <= frame.bottom, cut: (a, b) => atY(a, b, frame.bottom) },
  ];
  let pts: FPoint[] = ring.map((p) => ({ x: p.x, y: p.y }));
  for (const edge of edges) {
    if (pts.length === 0) break;
    const out: FPoint[] = [];
    for (let i = 0; i < pts.length; i++) {
      const cur = pts[i];
      const prev = pts[(i + pts.length - 1) % pts.length];
      const curIn = edge.inside(cur);
      const prevIn = edge.inside(prev);
      if (curIn) {
        if (!prevIn) out.push(edge.cut(prev, cur));
        out.push(cur);
      } else if (prevIn) {
        out.push(edge.cut(prev, cur));
      }
    }
    pts = out;
  }
  const rounded = dedupe(pts.map(roundPoint), true);
  return rounded.length >= 3 ? rounded : null;
}

function atX(a: FPoint, b: FPoint, x: number): FPoint {
  return { x, y: a.y + ((b.y - a.y) * (x - a.x)) / (b.x - a.x) };
}

function atY(a: FPoint, b: FPoint, y: number): FPoint {
  return { x: a.x + ((b.x - a.x) * (y - a.y)) / (b.y - a.y), y };
}

/** Each segment cut with Liang-Barsky; consecutive kept segments form one line. */
function clipLine(g: LineGeometry, frame: Rect): Geometry[] {
  const runs: FPoint[][] = [];
  let run: FPoint[] = [];
  for (let i = 1; i < g.points.length; i++) {
    const seg = clipSegment(g.points[i - 1], g.points[i], frame);
    if (seg === null) {
      if (run.length > 0) runs.push(run);
      run = [];
      continue;
    }
    const { a, b } = seg;
    if (run.length > 0 && !seg.startsAtInput) {
      runs.push(run);
      run = [];
    }
    if (run.length === 0) run.push(a);
    run.push(b);
    if (!seg.endsAtInput) {
      runs.push(run);
      run = [];
    }
  }
  if (run.length > 0) runs.push(run);
  const out: LineGeometry[] = [];
  for (const r of runs) {
    const points = dedupe(r.map(roundPoint), false);
    if (points.length >= 2) out.push({ type: 'line', points });
  }
  return out;
}

interface Segment {
  readonly a: FPoint;
  readonly b: FPoint;
  /** The cut segment begins at the input point (it was not cut at its start). */
  readonly startsAtInput: boolean;
  readonly endsAtInput: boolean;
}

function clipSegment(a: PixelPoint, b: PixelPoint, frame: Rect): Segment | null {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  let t0 = 0;
  let t1 = 1;
  const checks: [number, number][] = [
    [-dx, a.x - frame.left],
    [dx, frame.right - a.x],
    [-dy, a.y - frame.top],
    [dy, frame.bottom - a.y],
  ];
  for (const [p, q] of checks) {
    if (p === 0) {
      if (q < 0) return null;
      continue;
    }
    const t = q / p;
    if (p < 0) t0 = Math.max(t0, t);
    else t1 = Math.min(t1, t);
    if (t0 > t1) return null;
  }
  return {
    a: { x: a.x + t0 * dx, y: a.y + t0 * dy },
    b: { x: a.x + t1 * dx, y: a.y + t1 * dy },
    startsAtInput: t0 === 0,
    endsAtInput: t1 === 1,
  };
}

function roundPoint(p: FPoint): PixelPoint {
  return { x: pyRound(p.x), y: pyRound(p.y) };
}

/** Drops repeated consecutive points (and, for rings, a last point equal to the first). */
function dedupe(points: PixelPoint[], ring: boolean): PixelPoint[] {
  const out: PixelPoint[] = [];
  for (const p of points) {
    const last = out[out.length - 1];
    if (last === undefined || last.x !== p.x || last.y !== p.y) out.push(p);
  }
  if (ring && out.length > 1 && out[0].x === out[out.length - 1].x && out[0].y === out[out.length - 1].y)
    out.pop();
  return out;
}
