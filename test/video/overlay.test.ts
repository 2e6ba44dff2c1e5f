import { vocPalette } from '../../src/format/palette';
import {
  isUnsupportedCodec,
  parseVersion,
  passthroughOptions,
  summariseStderr,
} from '../../src/video/ffmpeg';
import { scaledSize } from '../../src/video/frame';
import { overlayMasks, sideBySide } from '../../src/video/overlay';
import { parseRate } from '../../src/video/probe';

const grey = (width: number, height: number, v: number) => ({
  width,
  height,
  rgb: new Uint8Array(width * height * 3).fill(v),
});
const pixel = (f: { width: number; rgb: Uint8Array }, x: number, y: number) =>
  Array.from(f.rgb.subarray((y * f.width + x) * 3, (y * f.width + x) * 3 + 3));

describe('overlayMasks', () => {
  it('blends each id in its VOC colour at alpha 0.5, outlines it 1 px darker, leaves background alone', () => {
    // A 5x5 frame, object 1 on the 3x3 centre, with id 3 at its very centre.
    const frame = grey(5, 5, 100);
    const mask = new Uint8Array(25);
    for (let y = 1; y <= 3; y++) for (let x = 1; x <= 3; x++) mask[y * 5 + x] = 1;
    mask[12] = 3;
    const out = overlayMasks(frame, mask);
    const voc = vocPalette();
    expect(pixel(out, 0, 0)).toEqual([100, 100, 100]);
    // Every pixel of object 1 touches another id: all outline, its colour (128,0,0) at half brightness.
    expect(pixel(out, 1, 1)).toEqual([64, 0, 0]);
    // Id 3 (128,128,0) is a lone pixel: outline too.
    expect(pixel(out, 2, 2)).toEqual([64, 64, 0]);
    expect(Array.from(frame.rgb.subarray(0, 3))).toEqual([100, 100, 100]); // the input is not touched
    // Inside a larger object: the blend.
    const big = new Uint8Array(25).fill(2);
    const inside = overlayMasks(frame, big);
    expect(pixel(inside, 2, 2)).toEqual([0, 1, 2].map((k) => Math.round(100 * 0.5 + voc[2 * 3 + k] * 0.5)));
    // The frame's border is not an edge.
    expect(pixel(inside, 0, 0)).toEqual(pixel(inside, 2, 2));
  });

  it('refuses a mask of another size', () => {
    expect(() => overlayMasks(grey(4, 4, 0), new Uint8Array(15))).toThrow(
      'a mask of 15 pixels for a 4x4 frame',
    );
  });
});

describe('sideBySide', () => {
  it('puts panels left to right', () => {
    const out = sideBySide([grey(2, 2, 10), grey(3, 2, 20), grey(1, 2, 30)]);
    expect([out.width, out.height]).toEqual([6, 2]);
    expect([0, 1, 2, 3, 4, 5].map((x) => pixel(out, x, 1)[0])).toEqual([10, 10, 20, 20, 20, 30]);
    expect(() => sideBySide([grey(2, 2, 0), grey(2, 3, 0)])).toThrow('side by side needs one height');
  });
});

describe('sizes, rates and what ffmpeg says', () => {
  it('scaledSize keeps the aspect, makes both sides even and never enlarges', () => {
    expect(scaledSize({ width: 854, height: 480 }, 240)).toEqual({ width: 428, height: 240 });
    expect(scaledSize({ width: 480, height: 854 }, 240)).toEqual({ width: 240, height: 428 });
    expect(scaledSize({ width: 63, height: 47 }, 100)).toEqual({ width: 63, height: 47 });
    expect(scaledSize({ width: 64, height: 48 }, undefined)).toEqual({ width: 64, height: 48 });
    expect(() => scaledSize({ width: 64, height: 48 }, 1.5)).toThrow('whole number');
  });

  it('parseRate reads ffprobe fractions', () => {
    expect(parseRate('30000/1001')).toBeCloseTo(29.97, 2);
    expect(parseRate('25/1')).toBe(25);
    expect(parseRate('0/0')).toBeNull();
    expect(parseRate(undefined)).toBeNull();
  });

  it('the passthrough option is -fps_mode from ffmpeg 5.1, -vsync before (Ubuntu 22.04 ships 4.4)', () => {
    expect(parseVersion('ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026')).toEqual([5, 1]);
    expect(parseVersion('ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright')).toEqual([4, 4]);
    expect(parseVersion('ffmpeg version n7.1 Copyright')).toEqual([7, 1]);
    expect(parseVersion('ffmpeg version N-113212-gabc Copyright')).toBeNull();
    expect(passthroughOptions([4, 4])).toEqual(['-vsync', 'passthrough']);
    expect(passthroughOptions([5, 0])).toEqual(['-vsync', 'passthrough']);
    expect(passthroughOptions([5, 1])).toEqual(['-fps_mode', 'passthrough']);
    expect(passthroughOptions(null)).toEqual(['-fps_mode', 'passthrough']);
  });

  it('summariseStderr keeps the first distinct lines without internals; codec trouble is recognised', () => {
    const stderr = [
      '[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55a3b51c2800] moov atom not found',
      '/data/in.mp4: Invalid data found when processing input.',
      '[h264 @ 0x5624] Invalid NAL unit size (337 > 274).',
      '[h264 @ 0x5625] Invalid NAL unit size (337 > 274).',
      'fourth',
    ].join('\n');
    expect(summariseStderr(stderr)).toBe(
      'moov atom not found; Invalid data found when processing input; Invalid NAL unit size (337 > 274)',
    );
    expect(isUnsupportedCodec('Decoder (codec av1) not found for input stream #0:0')).toBe(true);
    expect(isUnsupportedCodec('moov atom not found')).toBe(false);
  });
});
