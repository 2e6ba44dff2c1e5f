/**
 * The two baselines every tracker is measured against (shared/notes/video-object-segmentation.md §2.4):
 * - `copy`: the first frame's mask on every frame;
 * - `colour-nn`: label propagation on raw colours (the CRW algorithm on pixels): each pixel takes the labels of
 *   its nearest neighbours in RGB among the pixels of the first frame (its given mask) and of the previous frame
 *   (its own prediction) within a window around it, weighted by a softmax of their colour distance.
 * Both keep O(1) frames in memory: the first and the previous.
 */
export interface Frame {
  readonly width: number;
  readonly height: number;
  /** RGB, 3 bytes a pixel, row-major. */
  readonly rgb: Uint8Array;
}

export type BaselineName = 'copy' | 'colour-nn';
export const BASELINES: readonly BaselineName[] = ['copy', 'colour-nn'];

/**
 * Follows the first frame's mask (ids 0..255, not necessarily consecutive) through the frames, one frame at a
 * time, keeping O(1) frames: memory does not grow with the video's length.
 */
export interface FrameTracker {
  /**
   * The mask of the next frame. `added`: an index mask (same size) of objects first given on this frame, 0
   * elsewhere (YouTube-VOS style); they are followed from here on and win over the prediction where they lie.
   */
  next(frame: Frame, added?: Uint8Array): Promise<Uint8Array>;
  /** Frees what the tracker holds (sessions, tensors). */
  dispose?(): Promise<void>;
}

/** Makes a tracker for one video from its first frame and that frame's mask. */
export type TrackerFactory = (first: Frame, firstMask: Uint8Array) => Promise<FrameTracker>;

/** Writes `added`'s objects over `mask` (in place); returns whether there were any. */
export function overlayAdded(mask: Uint8Array, added: Uint8Array | undefined): boolean {
  if (added === undefined) return false;
  let any = false;
  for (let i = 0; i < mask.length; i++) {
    if (added[i] !== 0) {
      mask[i] = added[i];
      any = true;
    }
  }
  return any;
}

export interface ColourNnOptions {
  /** Window radius in pixels around each pixel, in each reference frame. */
  radius: number;
  /** Neighbours voted. */
  k: number;
  /** Softmax temperature on squared RGB distances (0-255 scale). */
  temperature: number;
}

export const COLOUR_NN_DEFAULTS: ColourNnOptions = { radius: 6, k: 8, temperature: 400 };

export function makeBaseline(
  name: BaselineName,
  first: Frame,
  firstMask: Uint8Array,
  options: Partial<ColourNnOptions> = {},
): FrameTracker {
  if (name === 'copy') {
    const current = Uint8Array.from(firstMask);
    return {
      next: (_frame, added) => {
        overlayAdded(current, added);
        return Promise.resolve(Uint8Array.from(current));
      },
    };
  }
  return new ColourNnTracker(first, firstMask, { ...COLOUR_NN_DEFAULTS, ...options });
}

class ColourNnTracker implements FrameTracker {
  private previous: Frame;
  private previousMask: Uint8Array;
  private ids: number[];
  /** The given masks: the first frame's, and those of frames where objects were added. */
  private readonly references: [Frame, Uint8Array][];

  constructor(
    first: Frame,
    firstMask: Uint8Array,
    private readonly options: ColourNnOptions,
  ) {
    this.previous = first;
    this.previousMask = firstMask;
    this.references = [[first, firstMask]];
    this.ids = [...new Set(firstMask)].sort((a, b) => a - b);
  }

  next(frame: Frame, added?: Uint8Array): Promise<Uint8Array> {
    const out = this.predict(frame);
    if (overlayAdded(out, added)) {
      // The frame becomes a reference of its own (bounded: one per frame that adds objects).
      this.references.push([frame, Uint8Array.from(out)]);
      this.ids = [...new Set([...this.ids, ...out])].sort((a, b) => a - b);
    }
    this.previous = frame;
    this.previousMask = out;
    return Promise.resolve(out);
  }

  private predict(frame: Frame): Uint8Array {
    const { width: W, height: H } = frame;
    const { radius: r, k, temperature } = this.options;
    const out = new Uint8Array(W * H);
    const refs: [Frame, Uint8Array][] = [...this.references, [this.previous, this.previousMask]];
    const dist = new Float64Array(refs.length * (2 * r + 1) ** 2);
    const label = new Uint8Array(dist.length);
    const votes = new Float64Array(256);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const q = (y * W + x) * 3;
        let n = 0;
        for (const [ref, mask] of refs) {
          for (let v = Math.max(0, y - r); v <= Math.min(H - 1, y + r); v++) {
            for (let u = Math.max(0, x - r); u <= Math.min(W - 1, x + r); u++) {
              const p = (v * W + u) * 3;
              const dr = frame.rgb[q] - ref.rgb[p];
              const dg = frame.rgb[q + 1] - ref.rgb[p + 1];
              const db = frame.rgb[q + 2] - ref.rgb[p + 2];
              dist[n] = dr * dr + dg * dg + db * db;
              label[n] = mask[v * W + u];
              n++;
            }
          }
        }
        // The k nearest by partial selection: k is small.
        for (const id of this.ids) votes[id] = 0;
        const taken = Math.min(k, n);
        for (let j = 0; j < taken; j++) {
          let best = j;
          for (let m = j + 1; m < n; m++) if (dist[m] < dist[best]) best = m;
          const d = dist[j];
          dist[j] = dist[best];
          dist[best] = d;
          const l = label[j];
          label[j] = label[best];
          label[best] = l;
          votes[label[j]] += Math.exp(-(dist[j] - dist[0]) / temperature);
        }
        let winner = 0;
        let top = -1;
        for (const id of this.ids) {
          if (votes[id] > top) {
            top = votes[id];
            winner = id;
          }
        }
        out[y * W + x] = winner;
      }
    }
    return out;
  }
}
