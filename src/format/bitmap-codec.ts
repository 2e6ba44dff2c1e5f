/**
 * Bitmap geometry payloads (spec B.6): base64(zlib(PNG)) and back. The encoder writes what the SDK writes
 * (tight crop, 1-bit palette PNG with index 0 transparent, zlib, base64); the decoder accepts what the SDK
 * accepts (palette + tRNS, grey, grey + alpha, RGBA; a raw PNG without zlib) and rejects an RGB PNG without
 * alpha as the SDK does ("Wrong internal mask format").
 */

import * as zlib from 'node:zlib';
import { PNG, type PNGWithMetadata } from 'pngjs';
import { decodeBase64Strict } from './base64';
import type { BinaryMask, ImageSize, PixelPoint } from './model';
import { encodeMaskPng, isPngSignature } from './png-chunks';
import { readMaskPngFast, readPngSize } from './png-mask-reader';
import type { BitmapJson } from './types';

/** The bounding box of the non-zero pixels, or null for an empty mask. Inclusive bounds. */
export function maskBounds(
  mask: BinaryMask,
): { top: number; left: number; bottom: number; right: number } | null {
  const { width, height, data } = mask;
  // A tight mask (a set pixel on each edge) is its own box: checking the edges avoids scanning every pixel,
  // and masks made by the predictions and kept through clipping and encoding are all tight.
  if (width > 0 && height > 0 && edgesSet(mask))
    return { top: 0, left: 0, bottom: height - 1, right: width - 1 };
  let top = -1;
  let bottom = -1;
  let left = width;
  let right = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let first = -1;
    let last = -1;
    for (let x = 0; x < width; x++) {
      if (data[row + x] !== 0) {
        if (first < 0) first = x;
        last = x;
      }
    }
    if (first < 0) continue;
    if (top < 0) top = y;
    bottom = y;
    if (first < left) left = first;
    if (last > right) right = last;
  }
  return top < 0 ? null : { top, left, bottom, right };
}

/** Whether the first and last rows and columns each hold a non-zero pixel. */
function edgesSet(mask: BinaryMask): boolean {
  const { width, height, data } = mask;
  const rowSet = (y: number): boolean => {
    for (let i = y * width, end = i + width; i < end; i++) if (data[i] !== 0) return true;
    return false;
  };
  const columnSet = (x: number): boolean => {
    for (let i = x; i < data.length; i += width) if (data[i] !== 0) return true;
    return false;
  };
  return rowSet(0) && rowSet(height - 1) && columnSet(0) && columnSet(width - 1);
}

/** Crops a mask to its non-zero pixels and shifts the origin to match; null if the mask is empty. */
export function tightCrop(
  mask: BinaryMask,
  origin: PixelPoint,
): { mask: BinaryMask; origin: PixelPoint } | null {
  const box = maskBounds(mask);
  if (box === null) return null;
  const width = box.right - box.left + 1;
  const height = box.bottom - box.top + 1;
  // Already tight: encodeMaskPng reads "non-zero", so no copy is needed.
  if (width === mask.width && height === mask.height) return { mask, origin };
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const src = (box.top + y) * mask.width + box.left;
    for (let x = 0; x < width; x++) data[y * width + x] = mask.data[src + x] !== 0 ? 1 : 0;
  }
  return { mask: { width, height, data }, origin: { x: origin.x + box.left, y: origin.y + box.top } };
}

/**
 * The `bitmap` JSON for a mask placed at `origin` (default 0,0), or null if the mask has no pixel set:
 * the SDK refuses empty bitmaps, so a writer skips such labels instead of failing.
 */
export function encodeBitmap(mask: BinaryMask, origin: PixelPoint = { x: 0, y: 0 }): BitmapJson | null {
  const cropped = tightCrop(mask, origin);
  if (cropped === null) return null;
  const png = encodeMaskPng(cropped.mask);
  return {
    origin: [cropped.origin.x, cropped.origin.y],
    data: zlibStored(png).toString('base64'),
  };
}

/**
 * `bytes` in a zlib stream of stored (uncompressed) blocks. The format wants zlib around the PNG, but the PNG's
 * pixels are deflated already: compressing again gains well under 1 % and costs as much as the first time.
 * The header says `78 9C` as zlib.compress writes it (so the base64 starts with `eJ`, as every SDK payload
 * does): its level bits are informational only (RFC 1950 FLEVEL) and `78 9C` passes the header check too.
 */
function zlibStored(bytes: Uint8Array): Buffer {
  const out = zlib.deflateSync(bytes, { level: 0 });
  out[1] = 0x9c;
  return out;
}

export interface BitmapDecodeOptions {
  /**
   * Refuse a raw PNG without the zlib wrapper (video annotations: the SDK's fallback for it fails on 1-bit
   * masks, docs/supervisely-video-format.md V.4).
   */
  requireZlib?: boolean;
  /**
   * The image the bitmap is on. A PNG whose header declares more columns or rows than the image has is
   * refused before anything is decoded (a 568-byte payload can declare 30000x30000, 900 MB of mask), and the
   * zlib payload may not inflate past what a PNG of the image's size can hold.
   */
  image?: ImageSize;
}

/** Bytes a PNG of `size` can take at the most (16-bit RGBA, stored uncompressed), plus room for extra chunks. */
function maxPngBytes(size: ImageSize): number {
  return 8 * (size.width + 1) * size.height + 2 ** 20;
}

/**
 * Decodes a `bitmap.data` string to its mask (not cropped). Throws an Error whose message says what is wrong.
 */
export function decodeBitmapData(data: string, options: BitmapDecodeOptions = {}): BinaryMask {
  let bytes: Buffer;
  try {
    bytes = decodeBase64Strict(data);
  } catch (e) {
    throw new Error(`bitmap data is ${(e as Error).message}`);
  }
  const limit = options.image === undefined ? undefined : maxPngBytes(options.image);
  const png = unwrapZlib(bytes, options.requireZlib === true, limit);
  if (options.image !== undefined) checkPngFits(png, options.image);
  return decodeMaskPng(png);
}

/** The PNG's declared size against the image's, from its header alone. */
function checkPngFits(png: Buffer, image: ImageSize): void {
  if (!isPngSignature(png)) return; // decodeMaskPng says so
  let size: ImageSize;
  try {
    size = readPngSize(png);
  } catch (e) {
    throw new Error(`bitmap PNG is damaged: ${(e as Error).message}`);
  }
  if (size.width > image.width || size.height > image.height) {
    throw new Error(
      `bitmap PNG declares ${size.width}x${size.height} pixels, larger than its ${image.width}x${image.height} ` +
        'image; a bitmap lies within its image (the SDK crops labels to it), so it was not decoded',
    );
  }
}

/**
 * zlib-inflates the payload; a raw PNG (no zlib wrapper) is accepted as [SDK-cur] does, unless `strict`. With
 * `limit`, a payload inflating past it is refused.
 */
function unwrapZlib(bytes: Buffer, strict: boolean, limit: number | undefined): Buffer {
  try {
    return zlib.inflateSync(bytes, limit === undefined ? {} : { maxOutputLength: limit });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new Error(
        `bitmap data inflates to more than ${limit} bytes, more than a PNG of its image's size can hold`,
      );
    }
    if (isPngSignature(bytes)) {
      if (!strict) return bytes;
      throw new Error('bitmap data is a PNG without the zlib wrapper, which the SDK cannot read here');
    }
    throw new Error(`bitmap data is neither zlib-compressed nor a PNG (zlib: ${(e as Error).message})`);
  }
}

export function decodeMaskPng(png: Buffer): BinaryMask {
  if (!isPngSignature(png)) {
    throw new Error('bitmap data does not hold a PNG (no PNG signature after zlib)');
  }
  try {
    const fast = readMaskPngFast(png);
    if (fast !== undefined) return fast;
  } catch (e) {
    const message = (e as Error).message;
    throw new Error(message.startsWith('bitmap PNG') ? message : `bitmap PNG is damaged: ${message}`);
  }
  return decodeMaskPngGeneral(png);
}

/** Any PNG, through pngjs (expands to RGBA): RGB(A), grey + alpha, interlaced. */
function decodeMaskPngGeneral(png: Buffer): BinaryMask {
  let image: PNGWithMetadata;
  try {
    // skipRescale keeps low-bit and 16-bit grey values as they are, so "non-zero" means what it says.
    image = PNG.sync.read(png, { skipRescale: true });
  } catch (e) {
    throw new Error(`bitmap PNG is damaged: ${(e as Error).message}`);
  }
  // pngjs: alpha = an alpha channel or a tRNS chunk; color = RGB or palette.
  let channel: number;
  if (image.alpha) channel = 3;
  else if (!image.color) channel = 0;
  else {
    throw new Error(
      `bitmap PNG is ${image.palette ? 'a palette' : 'an RGB'} image without transparency; ` +
        'a mask must be grey, or carry alpha / a tRNS chunk (the SDK: "Wrong internal mask format")',
    );
  }
  const { width, height } = image;
  const pixels = image.data as unknown as ArrayLike<number>; // Buffer, or Uint16Array for 16-bit input
  const out = new Uint8Array(width * height);
  for (let i = 0, p = channel; i < out.length; i++, p += 4) out[i] = pixels[p] !== 0 ? 1 : 0;
  return { width, height, data: out };
}
