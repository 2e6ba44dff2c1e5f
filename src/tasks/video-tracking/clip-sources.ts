/**
 * Where training clips come from. Generated clips: `frames` frames of a rendered clip, frame 0 and later frames
 * at random gaps (1 to `maxGap` apart), so the network sees slow and fast motion.
 */
import type { Random } from '../../util/random';
import type { TrainingClip } from './clip-batch';
import { renderClip, type ClipStyle } from './generated-clips';

export function generatedClip(
  style: Omit<ClipStyle, 'frames'>,
  seed: number,
  rand: Random,
  opts: { frames?: number; maxGap?: number } = {},
): TrainingClip {
  const count = opts.frames ?? 3;
  const maxGap = opts.maxGap ?? 3;
  const picked = [0];
  for (let i = 1; i < count; i++) picked.push(picked[i - 1] + 1 + Math.floor(rand() * maxGap));
  const wanted = new Set(picked);
  const rgb: Uint8Array[] = [];
  const ids: Uint8Array[] = [];
  let t = 0;
  for (const frame of renderClip({ ...style, frames: picked[count - 1] + 1 }, seed)) {
    if (wanted.has(t)) {
      rgb.push(frame.rgb);
      ids.push(frame.ids);
    }
    t++;
  }
  return { width: style.width, height: style.height, rgb, ids };
}
