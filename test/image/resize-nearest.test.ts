import { nearestSourceIndex, resizeNearest } from '../../src/image/resize-nearest';

describe('nearest resize for masks (spec E.5: make_gt, then nearest resize to input_size)', () => {
  it('samples the pixel under each output centre, as skimage order=0', () => {
    // 4 -> 2: centres at 1.0 and 3.0 in input pixels -> 1, 3.   4 -> 8: each input pixel twice.
    expect([0, 1].map((i) => nearestSourceIndex(i, 4, 2))).toEqual([1, 3]);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => nearestSourceIndex(i, 4, 8))).toEqual([
      0, 0, 1, 1, 2, 2, 3, 3,
    ]);
    // 3 -> 2: centres at 0.75 and 2.25 -> 0, 2.
    expect([0, 1].map((i) => nearestSourceIndex(i, 3, 2))).toEqual([0, 2]);
  });

  it('keeps only values present in the input and keeps the array type', () => {
    const mask = Int32Array.from([0, 1, 2, 3, 4, 5, -1, 7, 8, 9, 10, 11]); // 4 x 3
    const up = resizeNearest(mask, { width: 4, height: 3 }, { width: 8, height: 6 });
    expect(up).toBeInstanceOf(Int32Array);
    expect([...up.subarray(0, 8)]).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    expect([...up.subarray(16, 24)]).toEqual([4, 4, 5, 5, -1, -1, 7, 7]); // output row 2 = input row 1
    const down = resizeNearest(
      Uint8Array.from(mask.map((v) => (v < 0 ? 255 : v))),
      { width: 4, height: 3 },
      { width: 2, height: 1 },
    );
    expect([...down]).toEqual([5, 7]);
  });

  it('rejects a mask of the wrong length', () => {
    expect(() => resizeNearest(new Uint8Array(5), { width: 2, height: 2 }, { width: 1, height: 1 })).toThrow(
      /5 pixels/,
    );
  });
});
