/**
 * A fast reader for the PNGs bitmaps almost always hold: palette (the SDK's 1-bit masks) or grey, not
 * interlaced. It reads the mask straight from the palette indices or grey values, about ten times faster
 * than expanding to RGBA with pngjs. Other PNGs (RGB, RGBA, grey + alpha, interlaced) return undefined and
 * the caller falls back to pngjs. Chunk CRCs are checked, so damage is reported, not decoded.
 */

import * as zlib from 'node:zlib';
import type { BinaryMask } from './model';
import { crc32, isPngSignature } from './png-chunks';

const COLOR_GREY = 0;
const COLOR_PALETTE = 3;
const COLOR_GREY_ALPHA = 4;
const COLOR_RGBA = 6;

interface Chunks {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlace: number;
  paletteSize: number;
  trns?: Buffer;
  idat: Buffer[];
}

function readChunks(png: Buffer): Chunks {
  let at = 8;
  let header: Omit<Chunks, 'idat' | 'paletteSize' | 'trns'> | undefined;
  let paletteSize = 0;
  let trns: Buffer | undefined;
  const idat: Buffer[] = [];
  for (;;) {
    if (at + 12 > png.length) throw new Error('the PNG ends before its IEND chunk');
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const end = at + 8 + length;
    if (end + 4 > png.length) throw new Error(`the PNG's ${type} chunk is cut short`);
    if (crc32(png.subarray(at + 4, end)) !== png.readUInt32BE(end))
      throw new Error(`bad CRC in the ${type} chunk`);
    const data = png.subarray(at + 8, end);
    if (type === 'IHDR') {
      header = {
        width: data.readUInt32BE(0),
        height: data.readUInt32BE(4),
        depth: data[8],
        colorType: data[9],
        interlace: data[12],
      };
    } else if (type === 'PLTE') paletteSize = length / 3;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    at = end + 4;
  }
  if (header === undefined) throw new Error('the PNG has no IHDR chunk');
  return { ...header, paletteSize, trns, idat };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undoes the per-row filters; returns the rows without their filter bytes. */
function unfilter(raw: Buffer, rowBytes: number, height: number, bpp: number): Uint8Array {
  const out = new Uint8Array(rowBytes * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (rowBytes + 1)];
    const src = y * (rowBytes + 1) + 1;
    const row = y * rowBytes;
    const prev = row - rowBytes;
    // One loop per filter type: the type is fixed for the whole row.
    if (filter === 0) {
      out.set(raw.subarray(src, src + rowBytes), row);
    } else if (filter === 1) {
      for (let x = 0; x < rowBytes; x++) out[row + x] = raw[src + x] + (x >= bpp ? out[row + x - bpp] : 0);
    } else if (filter === 2) {
      if (y === 0) out.set(raw.subarray(src, src + rowBytes), row);
      else for (let x = 0; x < rowBytes; x++) out[row + x] = raw[src + x] + out[prev + x];
    } else if (filter === 3) {
      for (let x = 0; x < rowBytes; x++) {
        const left = x >= bpp ? out[row + x - bpp] : 0;
        const up = y > 0 ? out[prev + x] : 0;
        out[row + x] = raw[src + x] + ((left + up) >> 1);
      }
    } else if (filter === 4) {
      for (let x = 0; x < rowBytes; x++) {
        const left = x >= bpp ? out[row + x - bpp] : 0;
        const up = y > 0 ? out[prev + x] : 0;
        const upLeft = y > 0 && x >= bpp ? out[prev + x - bpp] : 0;
        out[row + x] = raw[src + x] + paeth(left, up, upLeft);
      }
    } else {
      throw new Error(`unknown PNG filter type ${filter}`);
    }
  }
  return out;
}

/** The samples of a palette or grey PNG (palette indices, or grey values), one per pixel, row-major. */
interface Samples {
  chunks: Chunks;
  /** 8 bits or fewer a sample: bytes; 16-bit grey: the 16-bit values. */
  data: Uint8Array | Uint16Array;
}

/**
 * The width and height a PNG's header declares, read from its first chunk (IHDR, which the PNG format puts
 * first) without decoding anything: to check them before the pixels are allocated.
 */
export function readPngSize(png: Buffer): { width: number; height: number } {
  if (!isPngSignature(png)) throw new Error('no PNG signature');
  if (
    png.length < 8 + 8 + 13 + 4 ||
    png.toString('latin1', 12, 16) !== 'IHDR' ||
    png.readUInt32BE(8) !== 13
  ) {
    throw new Error('the PNG does not start with its IHDR chunk');
  }
  if (crc32(png.subarray(12, 29)) !== png.readUInt32BE(29)) throw new Error('bad CRC in the IHDR chunk');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

function readPngChunks(png: Buffer): Chunks {
  if (!isPngSignature(png)) throw new Error('no PNG signature');
  return readChunks(png);
}

/** Decodes a palette or grey PNG to its samples; undefined for other colour types or interlaced images. */
function readSamples(c: Chunks): Samples | undefined {
  if (c.interlace !== 0 || (c.colorType !== COLOR_GREY && c.colorType !== COLOR_PALETTE)) return undefined;
  if (![1, 2, 4, 8, 16].includes(c.depth) || (c.colorType === COLOR_PALETTE && c.depth === 16)) {
    throw new Error(`bit depth ${c.depth} is not valid for colour type ${c.colorType}`);
  }
  if (c.colorType === COLOR_PALETTE && c.paletteSize === 0) throw new Error('a palette PNG without PLTE');
  const { width, height, depth } = c;
  const rowBytes = Math.ceil((width * depth) / 8);
  const raw = inflateImageData(c, (rowBytes + 1) * height);
  const rows = unfilter(raw, rowBytes, height, depth === 16 ? 2 : 1);
  if (depth === 16) {
    const data = new Uint16Array(width * height);
    for (let i = 0; i < width * height; i++) data[i] = (rows[2 * i] << 8) | rows[2 * i + 1]; // rows are exactly 2 * width bytes
    return { chunks: c, data };
  }
  if (depth === 8)
    return { chunks: c, data: rows.length === width * height ? rows : rows.subarray(0, width * height) };
  const data = new Uint8Array(width * height);
  const perByte = 8 / depth;
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    const row = y * rowBytes;
    const dst = y * width;
    for (let x = 0; x < width; x++) {
      data[dst + x] = (rows[row + ((x / perByte) | 0)] >> (8 - depth * ((x % perByte) + 1))) & mask;
    }
  }
  return { chunks: c, data };
}

/** An index image: one value a pixel (a palette index, or an 8-bit grey value), as DAVIS masks are stored. */
export interface IndexImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * The pixel values of an index PNG: palette indices (the palette's colours are not looked at) or 8-bit (or
 * fewer) grey values. A grey mask saved with an alpha channel (grey + alpha, or RGBA with R = G = B, as some
 * editors save a grey image) is read by its first channel; the alpha is not looked at. Other PNGs (RGB, colour
 * RGBA, 16-bit, interlaced) are an error saying so.
 */
export function readIndexPng(png: Buffer): IndexImage {
  const c = readPngChunks(png);
  const samples = readSamples(c) ?? readFirstChannel(c);
  if (samples === undefined || samples.data instanceof Uint16Array) {
    throw new Error('expected an indexed (palette) or 8-bit grey PNG, not interlaced: an index mask');
  }
  return { width: samples.chunks.width, height: samples.chunks.height, data: samples.data };
}

/**
 * The first channel of an 8-bit grey + alpha or RGBA PNG, not interlaced; undefined for other PNGs. An RGBA
 * image whose colour channels differ is a colour-coded mask: its red channel is not the ids, so it is an error.
 */
function readFirstChannel(c: Chunks): Samples | undefined {
  const channels = c.colorType === COLOR_GREY_ALPHA ? 2 : c.colorType === COLOR_RGBA ? 4 : 0;
  if (channels === 0 || c.depth !== 8 || c.interlace !== 0) return undefined;
  const { width, height } = c;
  const rowBytes = width * channels;
  const raw = inflateImageData(c, (rowBytes + 1) * height);
  const rows = unfilter(raw, rowBytes, height, channels);
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) {
    const at = i * channels;
    data[i] = rows[at];
    if (channels === 4 && (rows[at + 1] !== rows[at] || rows[at + 2] !== rows[at])) {
      throw new Error(
        `pixel (${i % width}, ${Math.floor(i / width)}) is a colour (RGB ${rows[at]},${rows[at + 1]},${rows[at + 2]}): ` +
          'a colour-coded mask, not an index mask; save the ids as a palette or grey PNG',
      );
    }
  }
  return { chunks: c, data };
}

/** Slack past the exact size for encoders that leave bytes after the rows (libpng warns, and reads on). */
const IMAGE_DATA_SLACK = 2 ** 16;

/** The filtered rows, `size` bytes of them; more than a little more is refused, not inflated (a zlib bomb). */
function inflateImageData(c: Chunks, size: number): Buffer {
  let raw: Buffer;
  try {
    raw = zlib.inflateSync(Buffer.concat(c.idat), { maxOutputLength: size + IMAGE_DATA_SLACK });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new Error(`the PNG's image data inflates to more than the ${size} bytes its size says`);
    }
    throw new Error(`the PNG's image data does not inflate: ${(e as Error).message}`);
  }
  if (raw.length < size) throw new Error('the PNG image data is shorter than its size says');
  return raw;
}

/** The mask of a palette or grey PNG, or undefined if this PNG needs the general decoder. */
export function readMaskPngFast(png: Buffer): BinaryMask | undefined {
  const samples = readSamples(readPngChunks(png));
  if (samples === undefined) return undefined;
  const c = samples.chunks;
  if (c.colorType === COLOR_PALETTE && c.trns === undefined) {
    throw new Error(
      'bitmap PNG is a palette image without transparency; a mask must be grey, or carry alpha / a tRNS chunk ' +
        '(the SDK: "Wrong internal mask format")',
    );
  }
  // Which sample values are "set": palette entries with non-zero alpha; grey values other than 0 (or, with a
  // tRNS grey value, other than that value, which pngjs and OpenCV turn into alpha 0).
  const set = sampleTest(c);
  const { width, height } = c;
  const data = new Uint8Array(width * height);
  if (samples.data instanceof Uint16Array) {
    for (let i = 0; i < data.length; i++) data[i] = set(samples.data[i]) ? 1 : 0;
  } else {
    const table = Uint8Array.from({ length: 1 << c.depth }, (_, v) => (set(v) ? 1 : 0));
    const src = samples.data;
    for (let i = 0; i < data.length; i++) data[i] = table[src[i]];
  }
  return { width, height, data };
}

function sampleTest(c: Chunks): (sample: number) => boolean {
  if (c.colorType === COLOR_PALETTE) {
    const alpha = c.trns ?? Buffer.alloc(0);
    return (index) => (index < alpha.length ? alpha[index] !== 0 : true);
  }
  if (c.trns !== undefined && c.trns.length >= 2) {
    const transparent = c.trns.readUInt16BE(0);
    return (value) => value !== transparent;
  }
  return (value) => value !== 0;
}
