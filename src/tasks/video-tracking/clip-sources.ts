/**
 * Where training clips come from. Generated clips: three frames of a rendered clip, frame 0 and two later
 * frames at random gaps (1 to `maxGap` apart), so the network sees slow and fast motion.
 */
import type { Random } from '../../util/random';
import type { TrainingClip } from './clip-batch';
import { renderClip, type ClipStyle } from './generated-clips';

export function generatedClip(
  style: Omit<ClipStyle, 'frames'>,
  seed: number,
  rand: Random,
  maxGap = 3,
): TrainingClip {
  const a = 1 + Math.floor(rand() * maxGap);
  const b = a + 1 + Math.floor(rand() * maxGap);
  const rgb: Uint8Array[] = [];
  const ids: Uint8Array[] = [];
  let t = 0;
  for (const frame of renderClip({ ...style, frames: b + 1 }, seed)) {
    if (t === 0 || t === a || t === b) {
      rgb.push(frame.rgb);
      ids.push(frame.ids);
    }
    t++;
  }
  return {
    width: style.width,
    height: style.height,
    rgb: rgb as TrainingClip['rgb'],
    ids: ids as TrainingClip['ids'],
  };
}
