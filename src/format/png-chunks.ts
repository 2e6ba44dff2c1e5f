/**
 * A minimal PNG writer for 1-bit masks (spec B.6): IHDR (bit depth 1, colour type 3), PLTE 000000 FFFFFF,
 * tRNS 00, IDAT, IEND, exactly the chunks PIL writes for `mode "P"` with `transparency=0`.
 */

import * as zlib from 'node:zlib';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function isPngSignature(bytes: Uint8Array): boolean {
  if (bytes.length < PNG_SIGNATURE.length) return false;
  for (let i = 0; i < PNG_SIGNATURE.length; i++) if (bytes[i] !== PNG_SIGNATURE[i]) return false;
  return true;
}

/** CRC-32 as PNG uses it; zlib.crc32 exists from Node 20.15, a table fallback covers older 20.x. */
export const crc32: (data: Uint8Array) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function'
    ? (data) => (zlib as unknown as { crc32(d: Uint8Array): number }).crc32(data)
    : tableCrc32;

let crcTable: Uint32Array | undefined;

export function tableCrc32(data: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, data and CRC. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * zlib level of the pixel data. Masks are long runs, which the fast levels (1-3) already pack well: on 640x480
 * predicted masks level 2 took a third of level 6's time, for payloads about 5 % (noisy masks) to 40 % (smooth
 * masks, a few hundred bytes) larger. Any level decodes to the same pixels.
 */
const IDAT_LEVEL = 2;

/**
 * Encodes a 0/1 mask (row-major, any non-zero byte counts as 1) as a 1-bit palette PNG with index 0
 * transparent. The mask must not be empty in either dimension.
 */
export function encodeMaskPng(mask: { width: number; height: number; data: Uint8Array }): Buffer {
  const { width, height, data } = mask;
  if (width < 1 || height < 1) throw new Error(`cannot write a ${width}x${height} PNG`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 3; // colour type: indexed
  // bytes 10-12: compression 0, filter 0, interlace 0
  const rowBytes = (width + 7) >> 3;
  const raw = Buffer.alloc((rowBytes + 1) * height); // each row: filter byte 0 (None), then packed bits
  // Eight pixels as two (unaligned) words: masks are mostly long runs, so most bytes are all clear or all 1s.
  const words = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let y = 0; y < height; y++) {
    const rowStart = y * (rowBytes + 1) + 1;
    const src = y * width;
    let x = 0;
    // Eight pixels to a byte at a time, then the rest of the row.
    for (let b = rowStart; x + 8 <= width; b++, x += 8) {
      const q = src + x;
      const w0 = words.getUint32(q, true);
      const w1 = words.getUint32(q + 4, true);
      if ((w0 | w1) === 0) continue; // raw is zeroed
      if (w0 === 0x01010101 && w1 === 0x01010101) {
        raw[b] = 0xff;
        continue;
      }
      raw[b] =
        (data[q] !== 0 ? 0x80 : 0) |
        (data[q + 1] !== 0 ? 0x40 : 0) |
        (data[q + 2] !== 0 ? 0x20 : 0) |
        (data[q + 3] !== 0 ? 0x10 : 0) |
        (data[q + 4] !== 0 ? 8 : 0) |
        (data[q + 5] !== 0 ? 4 : 0) |
        (data[q + 6] !== 0 ? 2 : 0) |
        (data[q + 7] !== 0 ? 1 : 0);
    }
    for (; x < width; x++) {
      if (data[src + x] !== 0) raw[rowStart + (x >> 3)] |= 0x80 >> (x & 7);
    }
  }
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    pngChunk('PLTE', Buffer.from([0, 0, 0, 255, 255, 255])),
    pngChunk('tRNS', Buffer.from([0])),
    pngChunk('IDAT', zlib.deflateSync(raw, { level: IDAT_LEVEL })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Encodes an index image (one byte a pixel: an object id) as an 8-bit palette PNG with the given palette (RGB
 * triples, at most 256), as DAVIS stores its masks: readers that keep indices see the ids, viewers the colours.
 */
export function encodeIndexPng(
  image: { width: number; height: number; data: Uint8Array },
  palette: Uint8Array,
): Buffer {
  const { width, height, data } = image;
  if (width < 1 || height < 1) throw new Error(`cannot write a ${width}x${height} PNG`);
  if (data.length !== width * height) throw new Error(`${data.length} values for a ${width}x${height} image`);
  if (palette.length % 3 !== 0 || palette.length === 0 || palette.length > 768) {
    throw new Error(`a palette is 1 to 256 RGB triples, got ${palette.length} bytes`);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 3; // colour type: indexed
  const raw = Buffer.alloc((width + 1) * height); // each row: filter byte 0 (None), then the indices
  for (let y = 0; y < height; y++) raw.set(data.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    pngChunk('PLTE', Buffer.from(palette.buffer, palette.byteOffset, palette.byteLength)),
    pngChunk('IDAT', zlib.deflateSync(raw, { level: IDAT_LEVEL })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}
