import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import reference from './fixtures/bmp-reference.json';
import { decodeBmp, isBmp } from '../../src/image/bmp';

const dir = path.join(__dirname, 'fixtures', 'bmp');

describe('BMP decoder (spec B.1: .bmp items; sharp cannot read BMP)', () => {
  // Golden data: each file decoded by cv2.imread(IMREAD_COLOR) (fixtures/make-bmp-reference.py).
  it.each(reference.cases.map((c) => [c.file, c] as const))('%s decodes as OpenCV decodes it', (file, c) => {
    const bytes = readFileSync(path.join(dir, file));
    expect(isBmp(bytes)).toBe(true);
    const image = decodeBmp(bytes);
    expect({ width: image.width, height: image.height }).toEqual({ width: c.width, height: c.height });
    expect(Buffer.from(image.data).toString('hex')).toBe(c.rgb);
  });

  it('refuses what it cannot read with a reason', () => {
    const good = readFileSync(path.join(dir, 'pil-rgb24.bmp'));
    expect(() => decodeBmp(Buffer.from('BMxx'))).toThrow(/not a BMP file/);
    expect(() => decodeBmp(good.subarray(0, good.length - 30))).toThrow(/pixel data is cut short/);
    const badDepth = Buffer.from(good);
    badDepth.writeUInt16LE(12, 28);
    expect(() => decodeBmp(badDepth)).toThrow(/bit depth 12 is not supported/);
    const jpegCompressed = Buffer.from(good);
    jpegCompressed.writeUInt32LE(4, 30); // BI_JPEG
    expect(() => decodeBmp(jpegCompressed)).toThrow(/compression 4 with 24 bits per pixel is not supported/);
  });
});
