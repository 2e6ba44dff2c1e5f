import reference from './fixtures/npy-reference.json';
import {
  decodeMultichannelBitmap,
  encodeMultichannelBitmap,
  probabilityLabelJson,
} from '../../src/format/multichannel-bitmap';
import { decodeNpy, encodeNpy } from '../../src/format/npy';

const typed = (dtype: string, values: number[]) =>
  dtype === '<f8' ? Float64Array.from(values) : Float32Array.from(values);

describe('.npy v1.0 and multichannel bitmaps (spec B.7)', () => {
  // Golden data: NumPy's np.save output (fixtures/make-npy-reference.py).
  it.each(reference.cases.map((c) => [c.dtype, c.shape.join('x'), c] as const))(
    '%s %s: encodes byte for byte as NumPy and decodes NumPy files',
    (dtype, _shape, c) => {
      const numpyBytes = Buffer.from(c.npy, 'base64');
      expect(encodeNpy({ shape: c.shape, data: typed(dtype, c.values) }).equals(numpyBytes)).toBe(true);
      const decoded = decodeNpy(numpyBytes);
      expect(decoded.shape).toEqual(c.shape);
      expect(decoded.data).toBeInstanceOf(dtype === '<f8' ? Float64Array : Float32Array);
      expect([...decoded.data]).toEqual([...typed(dtype, c.values)]);
    },
  );

  it('decodes the SDK multichannel payloads and round-trips H x W x C scores', () => {
    const sdk = reference.cases.find((c) => c.shape.length === 3 && c.dtype === '<f4')!;
    const scores = decodeMultichannelBitmap(sdk.multichannel);
    expect([scores.height, scores.width, scores.channels]).toEqual(sdk.shape);
    const data = Float32Array.from({ length: 4 * 3 * 2 }, (_, i) => i / 7);
    const again = decodeMultichannelBitmap(
      encodeMultichannelBitmap({ height: 4, width: 3, channels: 2, data }),
    );
    expect([again.height, again.width, again.channels, [...again.data]]).toEqual([4, 3, 2, [...data]]);
  });

  it('builds a probabilityLabels entry (spec F.5)', () => {
    const label = probabilityLabelJson({
      classTitle: 'kiwi_unet',
      origin: { x: 2, y: 3 },
      scores: { height: 1, width: 2, channels: 1, data: Float32Array.from([0.25, 0.75]) },
    });
    expect(label).toMatchObject({
      classTitle: 'kiwi_unet',
      geometryType: 'multichannelBitmap',
      shape: 'multichannelBitmap',
    });
    expect(label.multichannelBitmap!.origin).toEqual([2, 3]);
    expect([...decodeMultichannelBitmap(label.multichannelBitmap!.data).data]).toEqual([0.25, 0.75]);
  });

  it('rejects what it cannot read', () => {
    expect(() => decodeNpy(Buffer.from('not npy at all'))).toThrow(/bad magic/);
    const int8 = Buffer.from(reference.cases[0].npy, 'base64');
    int8.write("'|i1'", int8.indexOf("'<f4'"), 'latin1');
    expect(() => decodeNpy(int8)).toThrow(/dtype \|i1 is not supported/);
    expect(() => encodeNpy({ shape: [2, 2], data: new Float32Array(3) })).toThrow(/needs 4 values, got 3/);
    expect(() => decodeMultichannelBitmap('eJzz')).toThrow(/multichannel bitmap data is damaged/);
  });
});
