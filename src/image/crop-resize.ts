/**
 * Cropping and resizing decoded RGB images for the network, with the same resampling as `decodeImage` uses
 * for training (sharp, linear kernel, aspect ratio not kept), so inference inputs match training inputs.
 */
import sharp from 'sharp';
import type { ImageSize } from '../format/model';

export interface RgbRaster {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** An inclusive pixel rectangle, as the format and the inference modes use. */
export interface PixelRect {
  readonly top: number;
  readonly left: number;
  readonly bottom: number;
  readonly right: number;
}

/** The crop `rect` of `image`, resized to `size`; runs in libuv's thread pool, off the main thread. */
export async function cropResizeRgb(image: RgbRaster, rect: PixelRect, size: ImageSize): Promise<Uint8Array> {
  const width = rect.right - rect.left + 1;
  const height = rect.bottom - rect.top + 1;
  if (
    rect.left < 0 ||
    rect.top < 0 ||
    rect.right >= image.width ||
    rect.bottom >= image.height ||
    width < 1 ||
    height < 1
  ) {
    throw new RangeError(
      `crop [${rect.left}, ${rect.top}, ${rect.right}, ${rect.bottom}] is outside the ${image.width}x${image.height} image`,
    );
  }
  let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  if (width !== image.width || height !== image.height) {
    pipeline = pipeline.extract({ left: rect.left, top: rect.top, width, height });
  }
  if (width !== size.width || height !== size.height) {
    pipeline = pipeline.resize(size.width, size.height, { fit: 'fill', kernel: 'linear' });
  }
  const out = await pipeline.raw().toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
