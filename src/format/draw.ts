/**
 * Drawing primitives with OpenCV's pixel rules, because the SDK rasterises labels with OpenCV (spec E.5):
 * `cv2.line` / `cv2.polylines` with LINE_8 (Bresenham, traversed left to right) and `cv2.fillPoly`, which
 * draws every edge as a LINE_8 line and then fills scanlines between pairs of edges (even-odd rule) with
 * 16.16 fixed-point edge positions. Pixels outside the canvas are skipped, and the work is bounded by the
 * canvas: lines are clipped to it (same pixels), fills run over its rows and columns only.
 */

import type { BinaryMask, PixelPoint } from './model';

export interface Canvas {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Int32Array;
}

export function setPixel(canvas: Canvas, x: number, y: number, value: number): void {
  if (x >= 0 && y >= 0 && x < canvas.width && y < canvas.height) canvas.data[y * canvas.width + x] = value;
}

/**
 * `cv2.line(..., thickness=1, lineType=LINE_8)`. A line with an end outside the canvas is clipped first: the
 * walk starts at its first step inside the canvas and stops after its last, with the same pixels, so the work is
 * bounded by the canvas whatever the coordinates (a vertex at x = 1e12 is one jump, not 1e12 steps).
 */
export function drawLine(canvas: Canvas, a: PixelPoint, b: PixelPoint, value: number): void {
  // OpenCV walks from the left end; which pixels a tie picks depends on it.
  const [p, q] = b.x < a.x ? [b, a] : [a, b];
  if (!inside(canvas, p) || !inside(canvas, q)) {
    drawClippedLine(canvas, p, q, value);
    return;
  }
  const dx = q.x - p.x;
  const dy = Math.abs(q.y - p.y);
  const xMajor = dx >= dy;
  const walk: Walk = {
    xMajor,
    stepY: q.y < p.y ? -1 : 1,
    major: xMajor ? dx : dy,
    minor: xMajor ? dy : dx,
  };
  walkLine(canvas, walk, { x: p.x, y: p.y, err: walk.major - 2 * walk.minor, steps: walk.major + 1 }, value);
}

function inside(canvas: Canvas, p: PixelPoint): boolean {
  return p.x >= 0 && p.y >= 0 && p.x < canvas.width && p.y < canvas.height;
}

/** A LINE_8 walk from the left end: `major` steps along the major axis, `minor` along the other. */
interface Walk {
  xMajor: boolean;
  stepY: 1 | -1;
  major: number;
  minor: number;
}

/** Where a walk is at one of its steps: the pixel, the Bresenham error there, and the steps left to draw. */
interface WalkState {
  x: number;
  y: number;
  err: number;
  steps: number;
}

function walkLine(canvas: Canvas, walk: Walk, from: WalkState, value: number): void {
  const { xMajor, stepY, major, minor } = walk;
  let { x, y, err } = from;
  for (let i = 0; i < from.steps; i++) {
    setPixel(canvas, x, y, value);
    const minorStep = err < 0;
    err += -2 * minor + (minorStep ? 2 * major : 0);
    if (xMajor) {
      x += 1;
      if (minorStep) y += stepY;
    } else {
      y += stepY;
      if (minorStep) x += 1;
    }
  }
}

/** Errors up to this stay exact in a double through the walk (|err| < 2 * major). */
const SAFE_MAJOR = 2 ** 50;

/**
 * The walk of `drawLine`, restricted to its steps inside the canvas, in exact integer arithmetic (coordinates
 * may be far beyond a double's integers' reach once multiplied). At step i the minor offset is
 * m(i) = ceil((2 minor i - major) / (2 major)) and the error is major - 2 minor (i + 1) + 2 major m(i): the
 * incremental walk keeps exactly these, so starting at any step gives the same pixels.
 */
function drawClippedLine(canvas: Canvas, p: PixelPoint, q: PixelPoint, value: number): void {
  if (canvas.width <= 0 || canvas.height <= 0) return;
  const [px, py, qx, qy] = [p.x, p.y, q.x, q.y].map((v) => BigInt(Math.round(v)));
  const width = BigInt(canvas.width);
  const height = BigInt(canvas.height);
  const dx = qx - px;
  const dy = qy < py ? py - qy : qy - py;
  const stepY = qy < py ? -1 : 1;
  const xMajor = dx >= dy;
  const major = xMajor ? dx : dy;
  const minor = xMajor ? dy : dx;
  // The offsets along each axis that keep the pixel inside: x = px + offset, y = py + stepY * offset.
  const xOffsets = [-px, width - 1n - px];
  const yOffsets = stepY > 0 ? [-py, height - 1n - py] : [py - (height - 1n), py];
  const [majorOffsets, minorOffsets] = xMajor ? [xOffsets, yOffsets] : [yOffsets, xOffsets];
  let first = max(0n, majorOffsets[0]);
  let last = min(major, majorOffsets[1]);
  if (minor === 0n) {
    if (minorOffsets[0] > 0n || minorOffsets[1] < 0n) return;
  } else {
    // m(i) >= lo  <=>  i > major (2 lo - 1) / (2 minor);  m(i) <= hi  <=>  i <= major (2 hi + 1) / (2 minor).
    first = max(first, floorDiv(major * (2n * minorOffsets[0] - 1n), 2n * minor) + 1n);
    last = min(last, floorDiv(major * (2n * minorOffsets[1] + 1n), 2n * minor));
  }
  if (first > last) return;
  const minorAt = (i: bigint): bigint => (major === 0n ? 0n : -floorDiv(major - 2n * minor * i, 2n * major));
  const at = (i: bigint): { x: number; y: number } => {
    const m = minorAt(i);
    const [xOffset, yOffset] = xMajor ? [i, m] : [m, i];
    return { x: Number(px + xOffset), y: Number(py + BigInt(stepY) * yOffset) };
  };
  if (major <= BigInt(SAFE_MAJOR)) {
    const err = major - 2n * minor * (first + 1n) + 2n * major * minorAt(first);
    const walk: Walk = { xMajor, stepY, major: Number(major), minor: Number(minor) };
    walkLine(canvas, walk, { ...at(first), err: Number(err), steps: Number(last - first + 1n) }, value);
    return;
  }
  for (let i = first; i <= last; i++) {
    const { x, y } = at(i);
    setPixel(canvas, x, y, value);
  }
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b; // truncates toward zero; b > 0 here
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

/** `cv2.polylines(..., isClosed, thickness=1)`. */
export function drawPolyline(
  canvas: Canvas,
  points: readonly PixelPoint[],
  options: { closed: boolean; value: number },
): void {
  for (let i = 1; i < points.length; i++) drawLine(canvas, points[i - 1], points[i], options.value);
  if (options.closed && points.length > 1)
    drawLine(canvas, points[points.length - 1], points[0], options.value);
}

const XY_ONE = 65536; // OpenCV's XY_SHIFT = 16

interface Edge {
  y0: number;
  y1: number;
  /** Fixed-point x at y0. */
  x: number;
  /** Fixed-point x step per scanline (truncated toward zero, as C++ integer division). */
  dx: number;
}

/** `cv2.fillPoly(canvas, pts=rings, color=value)` with the default LINE_8: boundaries drawn, then filled. */
export function fillPolygons(canvas: Canvas, rings: readonly (readonly PixelPoint[])[], value: number): void {
  const edges: Edge[] = [];
  for (const ring of rings) {
    for (let i = 0; i < ring.length; i++) {
      const a = ring[i === 0 ? ring.length - 1 : i - 1];
      const b = ring[i];
      drawLine(canvas, a, b, value);
      if (a.y === b.y) continue;
      const [top, bottom] = a.y < b.y ? [a, b] : [b, a];
      edges.push({
        y0: top.y,
        y1: bottom.y,
        x: top.x * XY_ONE,
        dx: Math.trunc(((b.x - a.x) * XY_ONE) / (b.y - a.y)),
      });
    }
  }
  if (edges.length < 2) return;
  fillEdges(canvas, edges, value);
}

/** OpenCV's FillEdgeCollection: an edge is active on rows y0 <= y < y1; spans run between sorted pairs. */
function fillEdges(canvas: Canvas, edges: Edge[], value: number): void {
  edges.sort((a, b) => a.y0 - b.y0);
  let yMax = -Infinity;
  for (const e of edges) if (e.y1 > yMax) yMax = e.y1;
  yMax = Math.min(yMax, canvas.height);
  const active: Edge[] = [];
  const xs: number[] = [];
  let next = 0;
  for (let y = Math.max(edges[0].y0, 0); y < yMax; y++) {
    while (next < edges.length && edges[next].y0 <= y) active.push(edges[next++]);
    xs.length = 0;
    let kept = 0;
    for (const e of active) {
      if (e.y1 <= y) continue;
      active[kept++] = e;
      xs.push(e.x + (y - e.y0) * e.dx);
    }
    active.length = kept;
    xs.sort((a, b) => a - b);
    const row = y * canvas.width;
    for (let i = 0; i + 1 < xs.length; i += 2) {
      const from = Math.max(Math.floor((xs[i] + XY_ONE - 1) / XY_ONE), 0);
      const to = Math.min(Math.floor(xs[i + 1] / XY_ONE), canvas.width - 1);
      for (let x = from; x <= to; x++) canvas.data[row + x] = value;
    }
  }
}

/** `cv2.rectangle(..., thickness=FILLED)`: inclusive corners. */
export function fillRectangle(
  canvas: Canvas,
  rect: { top: number; left: number; bottom: number; right: number },
  value: number,
): void {
  const top = Math.max(rect.top, 0);
  const bottom = Math.min(rect.bottom, canvas.height - 1);
  const left = Math.max(rect.left, 0);
  const right = Math.min(rect.right, canvas.width - 1);
  for (let y = top; y <= bottom; y++)
    canvas.data.fill(value, y * canvas.width + left, y * canvas.width + right + 1);
}

/** Sets `value` where the mask is non-zero, the mask's top-left pixel at `origin`. */
export function paintMask(canvas: Canvas, origin: PixelPoint, mask: BinaryMask, value: number): void {
  const x0 = Math.max(origin.x, 0);
  const y0 = Math.max(origin.y, 0);
  const x1 = Math.min(origin.x + mask.width, canvas.width);
  const y1 = Math.min(origin.y + mask.height, canvas.height);
  for (let y = y0; y < y1; y++) {
    const src = (y - origin.y) * mask.width - origin.x;
    const dst = y * canvas.width;
    for (let x = x0; x < x1; x++) if (mask.data[src + x] !== 0) canvas.data[dst + x] = value;
  }
}
