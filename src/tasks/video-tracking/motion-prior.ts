/**
 * Objects keep moving the way they moved. The decoder reads the previous mask as its prior of where an object is
 * now; where the object's own evidence is weak (camouflage) it follows that prior, and the mask trails a moving
 * object by a frame's motion. The motion prior moves each object's previous mask by the object's last
 * displacement (the shift of its mask's centroid between the two frames before), a constant-velocity model as
 * classic trackers keep. Only the prior moves; the previous frame's labels for local matching stay where the
 * previous frame's pixels are.
 *
 * A displacement is trusted only when the mask kept its area (within AREA_RATIO): a centroid also moves when an
 * object is occluded, leaves the frame or comes back, and that is no motion. Measured on held-out generated clips
 * (trained tracker, unadapted): J&F 0.632 → 0.638 on 96 clips, 0.699 → 0.702 on 32, 0.651 → 0.653 on 48.
 */

/** Largest ratio of two masks' areas whose centroid shift counts as motion. */
const AREA_RATIO = 1.4;
/** A mask smaller than this (pixels) has too noisy a centroid to move anything. */
const MIN_AREA = 20;

interface ObjectMotion {
  cx: number;
  cy: number;
  area: number;
  dx: number;
  dy: number;
}

export class MotionPrior {
  private readonly motion = new Map<number, ObjectMotion>();

  constructor(
    private readonly width: number,
    private readonly height: number,
  ) {}

  /**
   * Observes a frame's mask (ids) and returns it with each object `ids` names moved by its displacement, or the
   * mask itself when nothing moves. `reset` (a frame that gave masks) starts the objects' motion afresh.
   */
  predict(mask: Uint8Array, ids: readonly number[], reset: boolean): Uint8Array {
    const { width: W, height: H } = this;
    const sums = new Map<number, { n: number; x: number; y: number }>();
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const id = mask[y * W + x];
        if (id === 0) continue;
        let s = sums.get(id);
        if (s === undefined) sums.set(id, (s = { n: 0, x: 0, y: 0 }));
        s.n++;
        s.x += x;
        s.y += y;
      }
    }
    const shift = new Map<number, [number, number]>();
    for (const id of ids) {
      const s = sums.get(id);
      if (s === undefined || s.n < MIN_AREA) {
        // Not seen well enough: its motion is unknown from here on.
        this.motion.delete(id);
        continue;
      }
      const cx = s.x / s.n;
      const cy = s.y / s.n;
      const old = this.motion.get(id);
      const steady =
        !reset && old !== undefined && s.n < AREA_RATIO * old.area && old.area < AREA_RATIO * s.n;
      const dx = steady ? cx - old.cx : 0;
      const dy = steady ? cy - old.cy : 0;
      this.motion.set(id, { cx, cy, area: s.n, dx, dy });
      const sx = Math.round(dx);
      const sy = Math.round(dy);
      if (sx !== 0 || sy !== 0) shift.set(id, [sx, sy]);
    }
    if (shift.size === 0) return mask;
    const moved = new Uint8Array(W * H);
    // Unmoved objects first, then the moved ones over them: a moving object in front of a still one stays whole.
    for (let i = 0; i < mask.length; i++) if (mask[i] !== 0 && !shift.has(mask[i])) moved[i] = mask[i];
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const id = mask[y * W + x];
        const d = id === 0 ? undefined : shift.get(id);
        if (d === undefined) continue;
        const xx = x + d[0];
        const yy = y + d[1];
        if (xx >= 0 && yy >= 0 && xx < W && yy < H) moved[yy * W + xx] = id;
      }
    }
    return moved;
  }
}
