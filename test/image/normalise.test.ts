import { normaliseRgbInto } from '../../src/image/normalise';

describe('normaliseRgbInto', () => {
  const stats = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;

  it('computes (x / 255 - mean) / std per channel at the offset', () => {
    const rgb = new Uint8Array([0, 128, 255, 10, 20, 30]);
    const out = new Float32Array(8).fill(99);
    normaliseRgbInto(rgb, out, 1, stats);
    expect(out[0]).toBe(99);
    expect(out[7]).toBe(99);
    rgb.forEach((v, i) => {
      const c = i % 3;
      expect(out[1 + i]).toBeCloseTo((v / 255 - stats.mean[c]) / stats.std[c], 5);
    });
  });

  it('refuses data that does not fit', () => {
    expect(() => normaliseRgbInto(new Uint8Array(6), new Float32Array(5), 0, stats)).toThrow(/does not fit/);
    expect(() => normaliseRgbInto(new Uint8Array(4), new Float32Array(9), 0, stats)).toThrow(/multiple of 3/);
  });
});
