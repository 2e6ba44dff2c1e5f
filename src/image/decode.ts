/**
 * Decoding item images to RGB bytes with sharp (libvips), optionally resized in the same pass (bilinear).
 * JPEG, PNG, WebP (and MPO, read as its first JPEG) go through sharp; BMP, which sharp's prebuilt libvips
 * cannot read, goes through bmp.ts. Like cv2.imread(IMREAD_COLOR): alpha is dropped, grey becomes RGB,
 * 16-bit becomes 8-bit. EXIF orientation follows orientation.ts. Any failure is a data error naming the file.
 */

import { imageSize } from 'image-size';
import sharp from 'sharp';
import { dataError, errorMessage, TaskError } from '../errors';
import { ReusedReadBuffers, type FileLease } from '../format/file-io';
import type { ImageSize } from '../format/model';
import { decodeBmp, isBmp } from './bmp';
import { decideOrientation, type ExifHandling, type OrientationDecision } from './orientation';

export interface DecodedImage {
  /** Row-major RGB, 3 bytes per pixel. */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** The image's size before resizing (after the EXIF decision): compare with the annotation. */
  readonly sourceSize: ImageSize;
  readonly exif: ExifHandling;
}

export interface DecodeImageOptions {
  /** The annotation's size: the image must match it (see orientation.ts for EXIF). */
  expectedSize?: ImageSize;
  /** Resize to this size (bilinear, aspect ratio not kept), as cv2.resize to a network's input size. */
  resize?: ImageSize;
  /** The file as named in errors (default: the path). */
  displayName?: string;
}

/** sharp's messages can span lines (libvips appends its warnings); the first line says what failed. */
function firstLine(e: unknown): string {
  return errorMessage(e).split('\n')[0];
}

/**
 * sharp settings for decoding many small images at once (inference keeps dozens in flight, each its own sharp
 * call in libuv's pool): one libvips thread per image and no operation cache. Per-image threading and caching
 * only add hand-offs and bookkeeping there; bench:infer measured about 2 ms less CPU per 640x480 image.
 * Process-wide, so the inference task sets it, not this module.
 */
export function configureSharpForManyImages(): void {
  sharp.concurrency(1);
  sharp.cache(false);
}

interface ImageHeader {
  /** The size as stored, before any EXIF orientation. */
  readonly stored: ImageSize;
  readonly orientation: number | undefined;
}

/**
 * A JPEG's size and EXIF orientation read from its header by image-size, in microseconds: sharp's metadata call
 * costs about 0.5 ms of libvips work per image, about 1 % of inference's CPU per 640x480 image. Null for any
 * other format, or a header image-size cannot read (sharp then reads it, and names the error).
 */
export function jpegHeader(bytes: Uint8Array): ImageHeader | null {
  try {
    const r = imageSize(bytes);
    if (r.type !== 'jpg' || !(r.width > 0) || !(r.height > 0)) return null;
    return { stored: { width: r.width, height: r.height }, orientation: r.orientation };
  } catch {
    return null;
  }
}

async function sharpHeader(
  pipeline: ReturnType<typeof sharp>,
  where: { file: string },
): Promise<ImageHeader> {
  try {
    const metadata = await pipeline.metadata();
    if (metadata.width === undefined || metadata.height === undefined)
      throw new Error('the image has no size');
    return { stored: { width: metadata.width, height: metadata.height }, orientation: metadata.orientation };
  } catch (e) {
    throw dataError(`cannot decode the image: ${firstLine(e)}`, where, e);
  }
}

/** The EXIF decision for an image of this header (orientation.ts), or a data error when it does not fit. */
function fitToAnnotation(
  header: ImageHeader,
  expected: ImageSize | undefined,
  where: { file: string },
): OrientationDecision {
  const { stored, orientation } = header;
  const decision = decideOrientation({ stored, orientation, expected });
  if (decision !== null) return decision;
  const exifNote = orientation !== undefined && orientation > 1 ? ` (EXIF orientation ${orientation})` : '';
  const says = expected === undefined ? '' : ` but its annotation says ${expected.width}x${expected.height}`;
  throw dataError(`the image is ${stored.width}x${stored.height}${exifNote}${says} (width x height)`, where);
}

/**
 * The cheap check of an image before training (the preflight): the file reads, its header says a size in a
 * format we decode, and the size fits the annotation, as `decodeImage` would find, without decoding the pixels.
 * A file whose pixels are damaged past its header still fails later, when it is decoded. Returns the size.
 */
export async function checkImageHeader(file: string, options: DecodeImageOptions = {}): Promise<ImageSize> {
  const where = { file: options.displayName ?? file };
  const lease = await readImageFile(file, where);
  try {
    const bytes = lease.bytes;
    if (bytes.length === 0) throw dataError('the image file is empty (0 bytes)', where);
    let header: ImageHeader;
    if (isBmp(bytes)) {
      try {
        const r = imageSize(bytes);
        header = { stored: { width: r.width, height: Math.abs(r.height) }, orientation: undefined };
      } catch (e) {
        throw dataError(`cannot decode the image: ${firstLine(e)}`, where, e);
      }
    } else {
      header = jpegHeader(bytes) ?? (await sharpHeader(sharp(bytes), where));
    }
    return fitToAnnotation(header, options.expectedSize, where).size;
  } finally {
    lease.release();
  }
}

/** File bytes are dead once decoded (sharp's output is a buffer of its own): a few buffers serve every read. */
const readBuffers = new ReusedReadBuffers(8);

/** The file's bytes in a reused buffer (release the lease when done), or a data error naming it. */
async function readImageFile(file: string, where: { file: string }): Promise<FileLease> {
  try {
    return await readBuffers.read(file);
  } catch (e) {
    throw dataError(`cannot read the image: ${firstLine(e)}`, where, e);
  }
}

export async function decodeImage(file: string, options: DecodeImageOptions = {}): Promise<DecodedImage> {
  const where = { file: options.displayName ?? file };
  const lease = await readImageFile(file, where);
  try {
    return await decodeBytes(lease.bytes, options, where);
  } finally {
    // Only now: sharp reads the input until its pipeline settles.
    lease.release();
  }
}

/** `decodeImage` for bytes already in memory (an upload): the same checks and errors, named by `displayName`. */
export function decodeImageBytes(bytes: Uint8Array, options: DecodeImageOptions = {}): Promise<DecodedImage> {
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return decodeBytes(buffer, options, { file: options.displayName ?? 'image' });
}

/**
 * Decodes, with every failure a data error naming the file: sharp throws synchronously too (an empty buffer,
 * "Input Buffer is empty"), not only from its promises, and no message of sharp's names the file.
 */
async function decodeBytes(
  bytes: Buffer,
  options: DecodeImageOptions,
  where: { file: string },
): Promise<DecodedImage> {
  if (bytes.length === 0) throw dataError('the image file is empty (0 bytes)', where);
  try {
    return await decodeNonEmpty(bytes, options, where);
  } catch (e) {
    if (e instanceof TaskError) throw e;
    throw dataError(`cannot decode the image: ${firstLine(e)}`, where, e);
  }
}

async function decodeNonEmpty(
  bytes: Buffer,
  options: DecodeImageOptions,
  where: { file: string },
): Promise<DecodedImage> {
  let pipeline: ReturnType<typeof sharp>;
  let stored: ImageSize;
  let orientation: number | undefined;
  if (isBmp(bytes)) {
    const bmp = decodeBmp(bytes);
    stored = { width: bmp.width, height: bmp.height };
    pipeline = sharp(bmp.data, { raw: { width: bmp.width, height: bmp.height, channels: 3 } });
  } else {
    pipeline = sharp(bytes);
    const header = jpegHeader(bytes) ?? (await sharpHeader(pipeline, where));
    stored = header.stored;
    orientation = header.orientation;
  }
  const decision = fitToAnnotation({ stored, orientation }, options.expectedSize, where);
  if (decision.exif === 'applied') pipeline = pipeline.autoOrient();
  pipeline = pipeline.removeAlpha().toColourspace('srgb');
  if (options.resize !== undefined) {
    pipeline = pipeline.resize(options.resize.width, options.resize.height, {
      fit: 'fill',
      kernel: 'linear',
    });
  }
  const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
    sourceSize: decision.size,
    exif: decision.exif,
  };
}
