import * as zlib from 'node:zlib';
import fc from 'fast-check';
import reference from './fixtures/bitmap-reference.json';
import { PNG } from 'pngjs';
import {
  decodeBitmapData,
  decodeMaskPng,
  encodeBitmap,
  maskBounds,
  tightCrop,
} from '../../src/format/bitmap-codec';
import { crc32, encodeMaskPng, pngChunk, tableCrc32 } from '../../src/format/png-chunks';
import { withDeclaredSize } from '../helpers/png';
import { runMaskArb } from '../helpers/run-masks';
import type { BinaryMask, PixelPoint } from '../../src/format/model';

/** Absolute pixel positions set in a mask placed at an origin: what a bitmap means, whatever its crop. */
function pixelSet(mask: BinaryMask, origin: PixelPoint): string[] {
  const out: string[] = [];
  for (let y = 0; y < mask.height; y++)
    for (let x = 0; x < mask.width; x++)
      if (mask.data[y * mask.width + x]) out.push(`${origin.x + x},${origin.y + y}`);
  return out;
}

function pngChunkTypes(png: Buffer): string[] {
  const types: string[] = [];
  for (let i = 8; i < png.length; ) {
    const length = png.readUInt32BE(i);
    types.push(png.toString('latin1', i + 4, i + 8));
    i += 12 + length;
  }
  return types;
}

describe('bitmap codec (spec B.6)', () => {
  const example = {
    origin: { x: 10, y: 20 },
    data: 'eJzrDPBz5+WS4mJgYOD19HAJAtIsQMzMyAwk+6xsWoEUW4BPiCuQ/v///9Kb8+8CWYwlQX7BDA7PbqQBOXyeLo4hFXOSCxKCEgSAcvsYiv8q7m0GyjB4uvq5rHNKaAIAeQcaKw==',
    mask: [0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1],
  };

  it('decodes the worked example to its 3 x 4 mask', () => {
    const mask = decodeBitmapData(example.data);
    expect({ width: mask.width, height: mask.height }).toEqual({ width: 4, height: 3 });
    expect([...mask.data]).toEqual(example.mask);
  });

  it('encodes the worked example mask to a payload that decodes to the same pixels, tightly cropped', () => {
    const mask = { width: 4, height: 3, data: Uint8Array.from(example.mask) };
    const json = encodeBitmap(mask, example.origin);
    expect(json).not.toBeNull();
    // The empty first column is cropped away, so the origin moves one pixel right.
    expect(json!.origin).toEqual([11, 20]);
    expect(json!.data.startsWith('eJ')).toBe(true); // zlib header 78 9C, as the SDK's zlib.compress
    const decoded = decodeBitmapData(json!.data);
    expect(pixelSet(decoded, { x: 11, y: 20 })).toEqual(pixelSet(mask, example.origin));
  });

  it('writes exactly the PIL chunks: 1-bit palette, PLTE 000000 FFFFFF, tRNS 00', () => {
    const json = encodeBitmap({ width: 3, height: 2, data: Uint8Array.from([1, 0, 1, 0, 1, 0]) })!;
    const png = zlib.inflateSync(Buffer.from(json.data, 'base64'));
    expect(pngChunkTypes(png)).toEqual(['IHDR', 'PLTE', 'tRNS', 'IDAT', 'IEND']);
    const ihdr = png.subarray(16, 29);
    expect([ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ihdr[8], ihdr[9], ihdr[12]]).toEqual([3, 2, 1, 3, 0]);
    expect(png.subarray(41, 47).toString('hex')).toBe('000000ffffff');
    expect(png[59]).toBe(0);
  });

  it('round-trips random masks at random origins (property)', () => {
    const maskArb = fc
      .record({ width: fc.integer({ min: 1, max: 40 }), height: fc.integer({ min: 1, max: 30 }) })
      .chain(({ width, height }) =>
        fc.record({
          width: fc.constant(width),
          height: fc.constant(height),
          bits: fc.uint8Array({ minLength: width * height, maxLength: width * height }),
          origin: fc.record({ x: fc.integer({ min: -5, max: 500 }), y: fc.integer({ min: -5, max: 500 }) }),
        }),
      );
    fc.assert(
      fc.property(maskArb, ({ width, height, bits, origin }) => {
        const mask = { width, height, data: bits.map((b) => (b > 128 ? 1 : 0)) };
        const json = encodeBitmap(mask, origin);
        const expected = pixelSet(mask, origin);
        if (expected.length === 0) return json === null;
        const decoded = decodeBitmapData(json!.data);
        const [x, y] = json!.origin;
        // Tight: the decoded mask touches all four of its borders.
        const bounds = maskBounds(decoded)!;
        return (
          bounds.top === 0 &&
          bounds.left === 0 &&
          bounds.bottom === decoded.height - 1 &&
          bounds.right === decoded.width - 1 &&
          JSON.stringify(pixelSet(decoded, { x, y })) === JSON.stringify(expected)
        );
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips masks of runs of any non-zero values, at any byte offset of their buffer (property)', () => {
    fc.assert(
      fc.property(runMaskArb([0, 1, 2, 255], 12), (mask) => {
        const json = encodeBitmap(mask);
        const expected = pixelSet(mask, { x: 0, y: 0 });
        if (expected.length === 0) return json === null;
        const decoded = decodeBitmapData(json!.data);
        const [x, y] = json!.origin;
        return JSON.stringify(pixelSet(decoded, { x, y })) === JSON.stringify(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('maskBounds is the box of the set pixels, for sparse, dense and already tight masks', () => {
    const brute = (m: BinaryMask) => {
      let box: { top: number; left: number; bottom: number; right: number } | null = null;
      for (let y = 0; y < m.height; y++)
        for (let x = 0; x < m.width; x++) {
          if (m.data[y * m.width + x] === 0) continue;
          box = box ?? { top: y, left: x, bottom: y, right: x };
          box = {
            top: Math.min(box.top, y),
            left: Math.min(box.left, x),
            bottom: Math.max(box.bottom, y),
            right: Math.max(box.right, x),
          };
        }
      return box;
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer(),
        (width, height, density, seed) => {
          let s = seed >>> 0;
          const data = new Uint8Array(width * height).map(() => {
            s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
            return s / 2 ** 32 < density ? 1 : 0;
          });
          const mask = { width, height, data };
          expect(maskBounds(mask)).toEqual(brute(mask));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('returns null for an empty mask instead of throwing (the SDK cannot store one)', () => {
    expect(encodeBitmap({ width: 5, height: 4, data: new Uint8Array(20) })).toBeNull();
    expect(tightCrop({ width: 2, height: 2, data: new Uint8Array(4) }, { x: 0, y: 0 })).toBeNull();
  });

  describe('payloads made by the SDK, the web editor and others, decoded as OpenCV decodes them', () => {
    // Golden data: made by Pillow, decoded by OpenCV (fixtures/make-bitmap-reference.py).
    it.each(reference.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      if (c.mask === null) {
        expect(() => decodeBitmapData(c.data)).toThrow(/without transparency.*Wrong internal mask format/);
        return;
      }
      const mask = decodeBitmapData(c.data);
      expect({ width: mask.width, height: mask.height }).toEqual({ width: c.width, height: c.height });
      expect(Buffer.from(mask.data).toString('hex')).toBe(c.mask);
    });
  });

  it('reads grey PNGs written with every PNG filter type (fast path) as pngjs reads them', () => {
    const width = 23;
    const height = 9;
    const grey = Uint8Array.from({ length: width * height }, (_, i) =>
      (i * 37) % 5 === 0 ? 0 : (i * 53) % 256,
    );
    for (const filterType of [-1, 0, 1, 2, 3, 4]) {
      const image = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false });
      image.data = Buffer.from(grey);
      const png = PNG.sync.write(image, {
        colorType: 0,
        inputColorType: 0,
        inputHasAlpha: false,
        filterType,
      });
      const mask = decodeMaskPng(png);
      expect([...mask.data]).toEqual([...grey].map((v) => (v !== 0 ? 1 : 0)));
    }
  });

  describe('damaged payloads give one clear error', () => {
    const good = encodeBitmap({ width: 2, height: 2, data: Uint8Array.from([1, 0, 0, 1]) })!.data;

    it('broken base64', () => {
      expect(() => decodeBitmapData(good.slice(0, 10) + '*' + good.slice(11))).toThrow(/not valid base64/);
      expect(() => decodeBitmapData(good.slice(0, good.length - 1))).toThrow(/not valid base64/);
    });

    it('broken zlib', () => {
      const bytes = Buffer.from(good, 'base64');
      bytes[bytes.length - 3] ^= 0xff; // damages the stream and its checksum
      expect(() => decodeBitmapData(bytes.toString('base64'))).toThrow(/neither zlib-compressed nor a PNG/);
    });

    it('zlib around something that is not a PNG', () => {
      const notPng = zlib.deflateSync(Buffer.from('GIF89a, not a png')).toString('base64');
      expect(() => decodeBitmapData(notPng)).toThrow(/does not hold a PNG/);
    });

    it('a PNG with a damaged chunk (CRC mismatch)', () => {
      const png = zlib.inflateSync(Buffer.from(good, 'base64'));
      png[png.indexOf('IDAT') + 6] ^= 0x01;
      const damaged = zlib.deflateSync(png).toString('base64');
      expect(() => decodeBitmapData(damaged)).toThrow(/bitmap PNG is damaged: bad CRC in the IDAT chunk/);
    });

    it('a PNG cut short', () => {
      const png = zlib.inflateSync(Buffer.from(good, 'base64'));
      const cut = zlib.deflateSync(png.subarray(0, 40)).toString('base64');
      expect(() => decodeBitmapData(cut)).toThrow(/bitmap PNG is damaged/);
    });
  });

  describe('a bitmap is checked against its image before it is decoded', () => {
    const image = { width: 640, height: 480 };
    const payload = (png: Buffer): string => zlib.deflateSync(png).toString('base64');
    const small = encodeMaskPng({ width: 3, height: 2, data: Uint8Array.from([1, 0, 1, 0, 1, 0]) });

    it('refuses a PNG declaring 30000x30000 on a 640x480 image from its header alone', () => {
      const bomb = payload(withDeclaredSize(small, 30000, 30000));
      expect(Buffer.from(bomb, 'base64').length).toBeLessThan(600);
      expect(() => decodeBitmapData(bomb, { image })).toThrow(
        'bitmap PNG declares 30000x30000 pixels, larger than its 640x480 image',
      );
    });

    it('refuses a whole PNG wider or taller than the image, and decodes one of the image size', () => {
      const mask = (width: number, height: number) =>
        payload(encodeMaskPng({ width, height, data: new Uint8Array(width * height).fill(1) }));
      expect(() => decodeBitmapData(mask(641, 1), { image })).toThrow(/declares 641x1 pixels, larger/);
      expect(() => decodeBitmapData(mask(1, 481), { image })).toThrow(/declares 1x481 pixels, larger/);
      expect(decodeBitmapData(mask(640, 480), { image })).toMatchObject({ width: 640, height: 480 });
      // Without an image to check against (masks made in code), nothing changes.
      expect(decodeBitmapData(mask(641, 1))).toMatchObject({ width: 641, height: 1 });
    });

    it('refuses a payload inflating past what a PNG of the image size can hold (a zlib bomb)', () => {
      const at = small.indexOf('IEND') - 4;
      const padded = Buffer.concat([
        small.subarray(0, at),
        pngChunk('tEXt', Buffer.alloc(3 * 2 ** 20, 0x61)),
        small.subarray(at),
      ]);
      const tiny = { width: 10, height: 10 };
      expect(() => decodeBitmapData(payload(padded), { image: tiny })).toThrow(
        /inflates to more than \d+ bytes/,
      );
      expect(decodeBitmapData(payload(padded))).toMatchObject({ width: 3, height: 2 });
    });

    it('refuses image data inflating far past the rows its header declares (an IDAT bomb)', () => {
      const ihdr = Buffer.from([0, 0, 0, 10, 0, 0, 0, 10, 8, 0, 0, 0, 0]); // 10x10 grey, 8 bits
      const png = Buffer.concat([
        small.subarray(0, 8),
        pngChunk('IHDR', ihdr),
        pngChunk('IDAT', zlib.deflateSync(Buffer.alloc(2 ** 22))),
        pngChunk('IEND', Buffer.alloc(0)),
      ]);
      expect(() => decodeMaskPng(png)).toThrow(
        /image data inflates to more than the 110 bytes its size says/,
      );
    });
  });

  it('computes CRC-32 the same way with zlib and with the table fallback', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => crc32(bytes) === tableCrc32(bytes)));
    expect(tableCrc32(Buffer.from('IEND', 'latin1'))).toBe(0xae426082);
  });
});
