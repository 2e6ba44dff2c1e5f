/**
 * A small BMP decoder, because sharp's prebuilt libvips cannot read BMP and the SDK accepts `.bmp` items
 * (spec B.1). Covers what OpenCV reads: 1/2/4/8-bit palettes, 16/24/32-bit, BI_RGB and BI_BITFIELDS,
 * RLE8 and RLE4, bottom-up and top-down rows, core (OS/2 v1) and Windows headers v3-v5. Alpha is dropped,
 * as cv2.imread(IMREAD_COLOR) drops it.
 */

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** Row-major RGB, 3 bytes per pixel. */
  readonly data: Uint8Array;
}

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;
const MAX_SIDE = 1 << 15;

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d; // "BM"
}

interface Header {
  width: number;
  height: number;
  topDown: boolean;
  bpp: number;
  compression: number;
  dataOffset: number;
  palette: Uint8Array[]; // [r, g, b]
  masks: [number, number, number];
}

/** Decodes a BMP file; throws an Error that says what is wrong or unsupported. */
export function decodeBmp(bytes: Uint8Array): RgbImage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = readHeader(buf);
  const { width, height, bpp, compression } = header;
  const out = new Uint8Array(width * height * 3);
  if (compression === BI_RLE8 || compression === BI_RLE4) {
    decodeRle(buf, header, out);
  } else if (bpp <= 8) {
    decodeIndexed(buf, header, out);
  } else {
    decodeDirect(buf, header, out);
  }
  return { width, height, data: out };
}

function readHeader(buf: Buffer): Header {
  if (buf.length < 26 || !isBmp(buf)) throw new Error('not a BMP file (no "BM" signature)');
  const dataOffset = buf.readUInt32LE(10);
  const headerSize = buf.readUInt32LE(14);
  const core = headerSize === 12;
  if (!core && headerSize < 40) throw new Error(`unsupported BMP header size ${headerSize}`);
  if (buf.length < 14 + headerSize) throw new Error('BMP header is cut short');
  const width = core ? buf.readUInt16LE(18) : buf.readInt32LE(18);
  const rawHeight = core ? buf.readInt16LE(20) : buf.readInt32LE(22);
  const bpp = core ? buf.readUInt16LE(24) : buf.readUInt16LE(28);
  const compression = core ? BI_RGB : buf.readUInt32LE(30);
  const height = Math.abs(rawHeight);
  if (width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) {
    throw new Error(`BMP size ${width}x${rawHeight} is not supported`);
  }
  if (![1, 2, 4, 8, 16, 24, 32].includes(bpp)) throw new Error(`BMP bit depth ${bpp} is not supported`);
  const okCompression =
    compression === BI_RGB ||
    (compression === BI_RLE8 && bpp === 8) ||
    (compression === BI_RLE4 && bpp === 4) ||
    ((compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) && (bpp === 16 || bpp === 32));
  if (!okCompression)
    throw new Error(`BMP compression ${compression} with ${bpp} bits per pixel is not supported`);
  if ((compression === BI_RLE8 || compression === BI_RLE4) && rawHeight < 0) {
    throw new Error('a top-down BMP cannot be RLE-compressed');
  }

  let masks: [number, number, number] =
    bpp === 16 ? [0x7c00, 0x03e0, 0x001f] : [0xff0000, 0x00ff00, 0x0000ff];
  if (compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) {
    // Masks sit inside v2+ headers, or right after a 40-byte header.
    const at = 14 + 40;
    if (buf.length < at + 12) throw new Error('BMP bit-field masks are cut short');
    masks = [buf.readUInt32LE(at), buf.readUInt32LE(at + 4), buf.readUInt32LE(at + 8)];
  }

  const palette: Uint8Array[] = [];
  if (bpp <= 8) {
    const entrySize = core ? 3 : 4;
    const used = core ? 0 : buf.readUInt32LE(46);
    const count = used > 0 && used <= 1 << bpp ? used : 1 << bpp;
    let at = 14 + headerSize;
    if (!core && headerSize === 40 && (compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS))
      at += 12;
    for (let i = 0; i < count && at + 3 <= buf.length && at + 3 <= dataOffset; i++, at += entrySize) {
      palette.push(Uint8Array.of(buf[at + 2], buf[at + 1], buf[at])); // stored B, G, R
    }
    if (palette.length === 0) throw new Error('BMP palette is missing');
  }
  return { width, height, topDown: rawHeight < 0, bpp, compression, dataOffset, palette, masks };
}

function rowStart(header: Header, y: number): number {
  const stride = Math.ceil((header.width * header.bpp) / 32) * 4;
  const fileRow = header.topDown ? y : header.height - 1 - y;
  return header.dataOffset + fileRow * stride;
}

function checkPixelData(buf: Buffer, header: Header): void {
  const stride = Math.ceil((header.width * header.bpp) / 32) * 4;
  // The last row may omit its padding in files from some writers.
  const needed =
    header.dataOffset + stride * (header.height - 1) + Math.ceil((header.width * header.bpp) / 8);
  if (buf.length < needed) throw new Error(`BMP pixel data is cut short (${buf.length} of ${needed} bytes)`);
}

function setFromPalette(header: Header, out: Uint8Array, pixel: number, index: number): void {
  // Indices past the palette read as black.
  const color = header.palette[index];
  const o = pixel * 3;
  if (color === undefined) {
    out[o] = out[o + 1] = out[o + 2] = 0;
    return;
  }
  out[o] = color[0];
  out[o + 1] = color[1];
  out[o + 2] = color[2];
}

function decodeIndexed(buf: Buffer, header: Header, out: Uint8Array): void {
  checkPixelData(buf, header);
  const { width, height, bpp } = header;
  const perByte = 8 / bpp;
  const valueMask = (1 << bpp) - 1;
  for (let y = 0; y < height; y++) {
    const start = rowStart(header, y);
    for (let x = 0; x < width; x++) {
      const byte = buf[start + Math.floor(x / perByte)];
      const shift = 8 - bpp * ((x % perByte) + 1);
      setFromPalette(header, out, y * width + x, (byte >> shift) & valueMask);
    }
  }
}

/** Reads a masked channel as 8 bits the way OpenCV does: narrow channels shifted left (5 bits: v << 3). */
function channelReader(mask: number): (value: number) => number {
  if (mask === 0) return () => 0;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  let bits = 0;
  while (bits + shift < 32 && ((mask >>> (shift + bits)) & 1) === 1) bits++;
  return bits >= 8
    ? (value) => ((value & mask) >>> shift) >>> (bits - 8)
    : (value) => (((value & mask) >>> shift) << (8 - bits)) & 0xff;
}

function decodeDirect(buf: Buffer, header: Header, out: Uint8Array): void {
  checkPixelData(buf, header);
  const { width, height, bpp, compression } = header;
  const [r, g, b] = header.masks.map(channelReader);
  for (let y = 0; y < height; y++) {
    const start = rowStart(header, y);
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (bpp === 24 || (bpp === 32 && compression === BI_RGB)) {
        const p = start + x * (bpp / 8);
        out[o] = buf[p + 2];
        out[o + 1] = buf[p + 1];
        out[o + 2] = buf[p];
      } else {
        const v = bpp === 16 ? buf.readUInt16LE(start + x * 2) : buf.readUInt32LE(start + x * 4);
        out[o] = r(v);
        out[o + 1] = g(v);
        out[o + 2] = b(v);
      }
    }
  }
}

/** RLE8 / RLE4: runs and absolute blocks, rows bottom-up; pixels never written stay palette index 0. */
function decodeRle(buf: Buffer, header: Header, out: Uint8Array): void {
  const { width, height } = header;
  const four = header.compression === BI_RLE4;
  for (let i = 0; i < width * height; i++) setFromPalette(header, out, i, 0);
  let x = 0;
  let row = 0; // counted from the bottom
  let p = header.dataOffset;
  const put = (index: number): void => {
    if (x < width && row < height) setFromPalette(header, out, (height - 1 - row) * width + x, index);
    x++;
  };
  while (p + 1 < buf.length) {
    if (row >= height) return;
    const count = buf[p];
    const value = buf[p + 1];
    p += 2;
    if (count > 0) {
      for (let i = 0; i < count; i++) put(four ? (i % 2 === 0 ? value >> 4 : value & 15) : value);
    } else if (value === 0) {
      x = 0;
      row++;
    } else if (value === 1) {
      return;
    } else if (value === 2) {
      if (p + 1 >= buf.length) break;
      x += buf[p];
      row += buf[p + 1];
      p += 2;
    } else {
      const bytes = four ? Math.ceil(value / 2) : value;
      if (p + bytes > buf.length) break;
      for (let i = 0; i < value; i++)
        put(four ? (i % 2 === 0 ? buf[p + (i >> 1)] >> 4 : buf[p + (i >> 1)] & 15) : buf[p + i]);
      p += bytes + (bytes % 2); // absolute blocks are padded to 16 bits
    }
  }
  // Some writers stop after the last row without an end-of-bitmap marker; less than that is damage.
  if (row < height - 1) throw new Error('BMP RLE data is cut short');
}
