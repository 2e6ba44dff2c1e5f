import { crc32 } from '../../src/format/png-chunks';

/** A copy of the PNG with its IHDR rewritten to declare another size (its pixel data is left as it is). */
export function withDeclaredSize(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png);
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
}
