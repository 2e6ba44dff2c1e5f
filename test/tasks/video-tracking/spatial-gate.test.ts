/**
 * The spatial gate: an object's predicted parts far from where it was are dropped; parts near it stay; an object
 * that has gone may come back at the border or near where it was last seen, in a region that grows each frame
 * it stays away; objects never observed are not gated.
 */
import { SpatialGate } from '../../../src/tasks/video-tracking/spatial-gate';

const W8 = 12;
const H8 = 8;
const W4 = W8 * 2;
const H4 = H8 * 2;

/** Shares [1, cells8] with the object on the stride-8 cells of a box. */
function sharesAt(x0: number, y0: number, x1: number, y1: number): Float32Array {
  const s = new Float32Array(W8 * H8);
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) s[y * W8 + x] = 1;
  return s;
}

/** Merged probabilities [2, cells4] with the object (channel 1) at 0.9 on the given stride-4 boxes. */
function probsWith(...boxes: [number, number, number, number][]): Float32Array {
  const n = W4 * H4;
  const p = new Float32Array(2 * n).fill(0);
  for (let i = 0; i < n; i++) p[i] = 1;
  for (const [x0, y0, x1, y1] of boxes) {
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        p[y * W4 + x] = 0.1;
        p[n + y * W4 + x] = 0.9;
      }
    }
  }
  return p;
}

const objectAt = (p: Float32Array, x: number, y: number): boolean => p[W4 * H4 + y * W4 + x] > p[y * W4 + x];

describe('spatial gate', () => {
  it('drops a part far from the previous mask, keeps the part that overlaps it, and renormalises', () => {
    const gate = new SpatialGate(W8, H8, 1);
    gate.observe(sharesAt(1, 1, 2, 2), 1); // stride 4: x 2-5, y 2-5
    const p = probsWith([3, 3, 6, 6], [18, 10, 21, 13]);
    gate.apply(p, 1, W4, H4);
    expect(objectAt(p, 4, 4)).toBe(true);
    expect(objectAt(p, 6, 6)).toBe(true); // the same connected part, outside the dilation: kept whole
    expect(objectAt(p, 19, 11)).toBe(false);
    const i = 11 * W4 + 19;
    expect(p[i] + p[W4 * H4 + i]).toBeCloseTo(1, 6);
  });

  it('lets a gone object back at the border and near where it was last seen, the region growing each frame', () => {
    const gate = new SpatialGate(W8, H8, 1);
    gate.observe(sharesAt(1, 1, 2, 2), 1);
    const empty = new Float32Array(W8 * H8);
    gate.observe(empty, 1); // gone one frame: last seen box grown by 1 + 1 cells → stride-8 x ≤ 4
    const near = probsWith([9, 2, 9, 3]); // stride-8 x = 4
    gate.apply(near, 1, W4, H4);
    expect(objectAt(near, 9, 2)).toBe(true);
    const middle = probsWith([14, 6, 15, 7]); // stride-8 x = 7, y = 3: not near, not at the border
    gate.apply(middle, 1, W4, H4);
    expect(objectAt(middle, 14, 6)).toBe(false);
    const border = probsWith([22, 7, 23, 8]); // the right edge
    gate.apply(border, 1, W4, H4);
    expect(objectAt(border, 23, 8)).toBe(true);
    for (let f = 0; f < 4; f++) gate.observe(empty, 1); // gone five frames: grown by 6 cells → x ≤ 8
    const later = probsWith([14, 6, 15, 7]);
    gate.apply(later, 1, W4, H4);
    expect(objectAt(later, 14, 6)).toBe(true);
  });

  it('does not gate an object it has not observed', () => {
    const gate = new SpatialGate(W8, H8, 1);
    const p = probsWith([18, 10, 21, 13]);
    gate.apply(p, 1, W4, H4);
    expect(objectAt(p, 19, 11)).toBe(true);
  });
});
