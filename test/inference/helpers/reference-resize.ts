/**
 * The reference bilinear resize of a score map, written for clarity, not speed: the oracle that
 * src/inference/score-resize.ts (the one the runtime uses) must equal bit for bit.
 */
import { scoreMap, type ScoreMap } from '../../../src/inference/stitch';
import type { Size } from '../../../src/inference/rect';

/**
 * Bilinear resize of a score map, pixel centres aligned as cv2.resize INTER_LINEAR (`src = (dst + 0.5) * scale
 * - 0.5`, clamped to the edge). The SDK's UNet resizes with INTER_CUBIC; bilinear keeps scores inside [0, 1]
 * and sums at 1, which cubic overshoot does not.
 */
export function referenceResizeScores(src: ScoreMap, size: Size): ScoreMap {
  const { height: H, width: W } = size;
  const C = src.channels;
  if (H === src.height && W === src.width) return scoreMap(H, W, C, src.data.slice());
  const out = new Float32Array(H * W * C);
  const xs = axisTaps(src.width, W);
  const ys = axisTaps(src.height, H);
  const sd = src.data;
  const rowStride = src.width * C;
  for (let y = 0; y < H; y++) {
    const r0 = ys.i0[y] * rowStride;
    const r1 = ys.i1[y] * rowStride;
    const fy = ys.f[y];
    for (let x = 0; x < W; x++) {
      const c0 = xs.i0[x] * C;
      const c1 = xs.i1[x] * C;
      const fx = xs.f[x];
      const d = (y * W + x) * C;
      for (let c = 0; c < C; c++) {
        const top = sd[r0 + c0 + c] * (1 - fx) + sd[r0 + c1 + c] * fx;
        const bottom = sd[r1 + c0 + c] * (1 - fx) + sd[r1 + c1 + c] * fx;
        out[d + c] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return scoreMap(H, W, C, out);
}

interface AxisTaps {
  readonly i0: Int32Array;
  readonly i1: Int32Array;
  readonly f: Float32Array;
}

/** For each destination index: the two source indices and the weight of the second. */
function axisTaps(srcLen: number, dstLen: number): AxisTaps {
  const i0 = new Int32Array(dstLen);
  const i1 = new Int32Array(dstLen);
  const f = new Float32Array(dstLen);
  const scale = srcLen / dstLen;
  for (let d = 0; d < dstLen; d++) {
    const s = Math.min(Math.max((d + 0.5) * scale - 0.5, 0), srcLen - 1);
    const lo = Math.floor(s);
    i0[d] = lo;
    i1[d] = Math.min(lo + 1, srcLen - 1);
    f[d] = s - lo;
  }
  return { i0, i1, f };
}
