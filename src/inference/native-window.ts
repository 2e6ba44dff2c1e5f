/**
 * The window a native-resolution checkpoint (`settings.resolution.mode: native`) is scored in: the input size
 * over the training scale, in image pixels, so resizing a window to the input gives the scale training saw
 * (training/data/native-crops.ts cuts its windows the same way).
 */
import type { ImageSize } from '../format/model';

export function nativeWindow(input: ImageSize, scale: number): ImageSize {
  return {
    width: Math.max(1, Math.round(input.width / scale)),
    height: Math.max(1, Math.round(input.height / scale)),
  };
}
