/**
 * NumPy `.npy` format version 1.0, the payload of multichannel bitmaps (spec B.7): magic, version, a
 * little-endian header length, a Python dict literal padded with spaces and ended by a newline so the data
 * starts on a 64-byte boundary, then C-order data. Only little-endian float32 and float64 are supported.
 */

export type NpyDtype = '<f4' | '<f8';

export interface NpyArray {
  readonly shape: readonly number[];
  readonly data: Float32Array | Float64Array;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY
const ALIGN = 64;

function shapeLiteral(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

export function encodeNpy(array: NpyArray): Buffer {
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) {
    throw new Error(`shape ${shapeLiteral(array.shape)} needs ${count} values, got ${array.data.length}`);
  }
  const descr: NpyDtype = array.data instanceof Float64Array ? '<f8' : '<f4';
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeLiteral(array.shape)}, }`;
  const unpadded = MAGIC.length + 2 + 2 + dict.length + 1;
  const padding = (ALIGN - (unpadded % ALIGN)) % ALIGN;
  const header = dict + ' '.repeat(padding) + '\n';
  const prefix = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(prefix, 0);
  prefix[6] = 1; // major version
  prefix[7] = 0; // minor version
  prefix.writeUInt16LE(header.length, 8);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), littleEndianBytes(array.data)]);
}

export function decodeNpy(bytes: Buffer): NpyArray {
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(MAGIC))
    throw new Error('not a .npy file (bad magic)');
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  if (major < 1 || major > 3) throw new Error(`unsupported .npy version ${major}.${bytes[7]}`);
  const header = bytes.subarray(headerStart, headerStart + headerLength).toString('latin1');
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(`.npy header is not understood: ${JSON.stringify(header.trim())}`);
  }
  if (descr !== '<f4' && descr !== '<f8')
    throw new Error(`.npy dtype ${descr} is not supported (only <f4, <f8)`);
  if (fortran === 'True') throw new Error('.npy in Fortran order is not supported');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const itemSize = descr === '<f8' ? 8 : 4;
  const dataStart = headerStart + headerLength;
  if (bytes.length < dataStart + count * itemSize)
    throw new Error('.npy data is shorter than its shape says');
  // Copy into a fresh, aligned buffer: the data offset inside `bytes` need not be a multiple of 8.
  const body = new Uint8Array(count * itemSize);
  body.set(bytes.subarray(dataStart, dataStart + count * itemSize));
  if (!HOST_IS_LITTLE_ENDIAN) swapBytes(body, itemSize);
  const data = itemSize === 8 ? new Float64Array(body.buffer) : new Float32Array(body.buffer);
  return { shape, data };
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function littleEndianBytes(data: Float32Array | Float64Array): Uint8Array {
  const bytes = new Uint8Array(data.byteLength);
  bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  if (!HOST_IS_LITTLE_ENDIAN) swapBytes(bytes, data.BYTES_PER_ELEMENT);
  return bytes;
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}
