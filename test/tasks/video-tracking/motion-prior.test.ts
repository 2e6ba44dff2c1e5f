/**
 * The motion prior and the object bias: an object's previous mask is moved by its last displacement before the
 * decoder reads it (not when its area changed, not across a frame that gave masks), and the bias moves the
 * decision on the decoder's logits. The tracker is run on an engine that records what the decoder is given and
 * returns chosen logits, so what MatchTracker does between the engine's calls is what is checked.
 */
import { MotionPrior } from '../../../src/tasks/video-tracking/motion-prior';
import { MatchTracker, OBJECT_BIAS } from '../../../src/tasks/video-tracking/match-tracker';
import type { EncodedFrame, TrackerEngine } from '../../../src/tasks/video-tracking/tracker-engines';
import { TRACKER_MATCH_CHANNELS } from '../../../src/network/types';

const W = 64;
const H = 32;
const W8 = W / 8;
const H8 = H / 8;

/** A mask with object `id` on the box [x0, x0 + w) x [y0, y0 + h). */
function box(x0: number, y0: number, w: number, h: number, id = 1, into?: Uint8Array<ArrayBuffer>) {
  const mask = into ?? new Uint8Array(W * H);
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) mask[y * W + x] = id;
  return mask;
}

/** Shares [k, W8 * H8]: object o (slot order) fully on the cells of its box [x0, x0 + w) x [y0, y0 + h). */
function cellsAt(...boxes: [number, number, number, number][]): Float32Array {
  const cells = W8 * H8;
  const s = new Float32Array(boxes.length * cells);
  boxes.forEach(([x0, y0, w, h], o) => {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) s[o * cells + y * W8 + x] = 1;
  });
  return s;
}

/** Object o's cells at least half covered, as "x,y". */
const covered = (shares: Float32Array, o: number): string[] => {
  const cells = W8 * H8;
  const out: string[] = [];
  for (let p = 0; p < cells; p++)
    if (shares[o * cells + p] >= 0.5) out.push(`${p % W8},${Math.floor(p / W8)}`);
  return out;
};

describe('motion prior', () => {
  it('moves an object by its last displacement, once it has one', () => {
    const prior = new MotionPrior(W8, H8);
    const first = cellsAt([1, 1, 2, 2]);
    expect(prior.predict(first, 1, true)).toBe(first); // no motion known yet
    const moved = prior.predict(cellsAt([2, 1, 2, 2]), 1, false);
    expect(covered(moved, 0)).toEqual(['3,1', '4,1', '3,2', '4,2']);
    expect(moved.reduce((a, b) => a + b, 0)).toBeCloseTo(4, 5);
  });

  it('does not move an object whose area changed (occluded, leaving), nor across a frame that gave masks', () => {
    const prior = new MotionPrior(W8, H8);
    prior.predict(cellsAt([1, 1, 2, 2]), 1, true);
    const half = cellsAt([3, 1, 1, 2]); // half hidden: its centroid moved, the object perhaps not at all
    expect(prior.predict(half, 1, false)).toBe(half);
    prior.predict(cellsAt([4, 1, 1, 2]), 1, false); // steady again: it would move from here
    const given = cellsAt([6, 1, 1, 2]);
    expect(prior.predict(given, 1, true)).toBe(given);
  });

  it('moves each object by its own motion; a still object stays', () => {
    const prior = new MotionPrior(W8, H8);
    prior.predict(cellsAt([1, 0, 1, 1], [5, 2, 1, 1]), 2, true);
    const moved = prior.predict(cellsAt([2, 1, 1, 1], [5, 2, 1, 1]), 2, false);
    expect(covered(moved, 0)).toEqual(['3,2']); // one cell right and one down, again
    expect(covered(moved, 1)).toEqual(['5,2']);
  });
});

/**
 * An engine whose decoder returns `logit` on the stride-4 cells of the box `[x0, x1)` (frame pixels / 4) and -10
 * elsewhere, and records the previous-mask channel it was given.
 */
class RecordingEngine implements TrackerEngine {
  readonly name = 'tfjs';
  readonly priors: Float32Array[] = [];
  constructor(private readonly objectCells: () => { x0: number; x1: number; logit: number }) {}
  encode(_image: Float32Array, height: number, width: number): Promise<EncodedFrame> {
    const [h8, w8] = [height / 8, width / 8];
    const key = new Float32Array(h8 * w8 * 4).fill(0.5);
    return Promise.resolve({ key, h8, w8, keyChannels: 4, features: null });
  }
  match(frame: EncodedFrame, _g: unknown, _l: unknown, _w: Float32Array, k: number): Promise<Float32Array> {
    return Promise.resolve(new Float32Array(k * frame.h8 * frame.w8 * (TRACKER_MATCH_CHANNELS.length - 1)));
  }
  decode(frame: EncodedFrame, match: Float32Array, k: number): Promise<Float32Array> {
    const channels = TRACKER_MATCH_CHANNELS.length;
    const cells = frame.h8 * frame.w8;
    const prior = new Float32Array(k * cells);
    for (let p = 0; p < k * cells; p++) prior[p] = match[p * channels + channels - 1];
    this.priors.push(prior);
    const [h4, w4] = [frame.h8 * 2, frame.w8 * 2];
    const { x0, x1, logit } = this.objectCells();
    const out = new Float32Array(k * h4 * w4).fill(-10);
    for (let y = 0; y < h4; y++) for (let x = x0; x < x1; x++) out[y * w4 + x] = logit;
    return Promise.resolve(out);
  }
  release(): void {}
  dispose(): Promise<void> {
    return Promise.resolve();
  }
}

const plainFrame = { width: W, height: H, rgb: new Uint8Array(W * H * 3).fill(128) };
const trackerOpts = {
  shortSide: 240,
  localRadius: 2,
  preprocessing: { mean: [0.5, 0.5, 0.5] as const, std: [0.5, 0.5, 0.5] as const },
  refine: false,
  gate: false,
};

/** Columns of stride-8 cells where the prior of object 0 is at least half. */
const priorCells = (prior: Float32Array): number[] => {
  const w8 = W / 8;
  const xs = new Set<number>();
  for (let p = 0; p < prior.length; p++) if (prior[p] >= 0.5) xs.add(p % w8);
  return [...xs].sort((a, b) => a - b);
};

describe('the tracker with the motion prior and the object bias', () => {
  it("gives the decoder the previous mask moved by the object's motion", async () => {
    /** The decoder's priors over three frames in which the object's stride-4 cells are 4-7, then 6-9, then 8-11. */
    const run = async (motionPrior: boolean): Promise<number[][]> => {
      let at = 4;
      const engine = new RecordingEngine(() => ({ x0: at, x1: at + 4, logit: 10 }));
      const tracker = await MatchTracker.create(engine, plainFrame, box(0, 0, 16, H), {
        ...trackerOpts,
        motionPrior,
      });
      for (const next of [6, 8, 8]) {
        await tracker.next(plainFrame);
        at = next;
      }
      return engine.priors.map(priorCells);
    };
    // Masks: columns 0-15 given, then 16-31, 24-39, 32-47 (stride-8 cells 0-1, 2-3, 3-4, 4-5).
    expect(await run(false)).toEqual([
      [0, 1],
      [2, 3],
      [3, 4],
    ]);
    // Moved by the last displacement: 16 px after the first frame, then 8.
    expect(await run(true)).toEqual([
      [0, 1],
      [4, 5],
      [4, 5],
    ]);
  });

  it('adds the object bias to the logits before the merge', async () => {
    const masks: number[] = [];
    for (const objectBias of [undefined, 0]) {
      const engine = new RecordingEngine(() => ({ x0: 0, x1: 4, logit: -1 }));
      const tracker = await MatchTracker.create(engine, plainFrame, box(0, 0, 16, H), {
        ...trackerOpts,
        ...(objectBias === undefined ? {} : { objectBias }),
      });
      masks.push((await tracker.next(plainFrame)).filter((v) => v === 1).length);
    }
    expect(OBJECT_BIAS).toBeGreaterThan(1); // -1 + the default bias is above 0: the object
    expect(masks[0]).toBeGreaterThanOrEqual(15 * H); // cells 0-3, the last column shared with the -10 beyond
    expect(masks[1]).toBe(0); // -1 alone: background
  });
});
