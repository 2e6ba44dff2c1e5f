/** readIndexPng on masks saved with an alpha channel: read by their first channel (grey values are the ids). */
import { PNG } from 'pngjs';
import { readIndexPng } from '../../src/format/png-mask-reader';

/** 3x2 ids with non-consecutive values. */
const IDS = [0, 7, 7, 0, 200, 3];

/** A PNG of colour type 4 (grey + alpha: pngjs keeps the red channel as grey) or 6 (RGBA) from RGBA pixels. */
function png(colorType: 4 | 6, pixel: (id: number, i: number) => number[]): Buffer {
  const image = new PNG({ width: 3, height: 2 });
  image.data = Buffer.from(IDS.flatMap(pixel));
  return PNG.sync.write(image, { colorType });
}

describe('readIndexPng with an alpha channel', () => {
  it('reads a grey + alpha PNG by its grey values, whatever the alpha', () => {
    const bytes = png(4, (id, i) => [id, id, id, i * 40]);
    expect(bytes[25]).toBe(4); // colour type: grey + alpha
    expect(readIndexPng(bytes)).toEqual({ width: 3, height: 2, data: Uint8Array.from(IDS) });
  });

  it('reads an RGBA PNG whose colour channels are equal (a grey mask saved as RGBA) by its first channel', () => {
    const bytes = png(6, (id) => [id, id, id, 255]);
    expect(bytes[25]).toBe(6); // colour type: RGBA
    expect(Array.from(readIndexPng(bytes).data)).toEqual(IDS);
  });

  it('refuses a colour-coded RGBA mask: its red channel is not the ids', () => {
    const bytes = png(6, (id) => (id === 0 ? [0, 0, 0, 255] : [128, id, 0, 255]));
    expect(() => readIndexPng(bytes)).toThrow(
      /pixel \(1, 0\) is a colour \(RGB 128,7,0\): a colour-coded mask/,
    );
  });
});
