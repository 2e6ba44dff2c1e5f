/**
 * Byte masks made of runs of values (as predicted masks are), placed at any byte offset 0-7 of their buffer,
 * for code that reads masks several bytes at a time where they are aligned (property tests).
 */
import fc from 'fast-check';

export interface RunMask {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Masks up to 40 x `maxHeight` of runs (1-30 pixels) of `values`, at byte offsets 0-7 of a larger buffer. */
export function runMaskArb(values: readonly number[], maxHeight: number): fc.Arbitrary<RunMask> {
  return fc
    .tuple(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: maxHeight }),
      fc.integer({ min: 0, max: 7 }),
      fc.array(fc.tuple(fc.constantFrom(...values), fc.integer({ min: 1, max: 30 })), {
        minLength: 1,
        maxLength: 40,
      }),
    )
    .map(([width, height, offset, runs]) => {
      const data = new Uint8Array(offset + width * height).subarray(offset);
      for (let i = 0, r = 0; i < data.length; r++) {
        const [value, length] = runs[r % runs.length];
        data.fill(value, i, Math.min(data.length, i + length));
        i += length;
      }
      return { width, height, data };
    });
}
