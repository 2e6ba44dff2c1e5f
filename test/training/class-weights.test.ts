/**
 * class_weights: the pixel counts per class index from the preflight's item stats (background = what no label
 * covers, neutral not counted), and the ENet and median-frequency formulas on a known count table.
 */
import { classPixelCounts, classWeights, weightsByTitle } from '../../src/training/class-weights';

describe('classPixelCounts', () => {
  it('counts labels by class index, unlabelled pixels as the fill class, and the area of the images holding each', () => {
    const counts = classPixelCounts({
      items: [
        // 100 px: 20 car, 10 neutral, 70 unlabelled (background).
        { width: 10, height: 10, classPixels: { car: 20, neutral: 10 } },
        // 50 px: 10 road, 5.4 car (rounded as the preflight does), 35 background.
        { width: 5, height: 10, classPixels: { road: 10, car: 5.4 } },
        // 40 px all road: no background in it.
        { width: 4, height: 10, classPixels: { road: 40 } },
      ],
      drawingClassToIdx: { bg: 0, car: 1, road: 2, neutral: 3 },
      fill: 0,
      numClasses: 3,
    });
    expect(counts.pixels).toEqual([70 + 35, 25, 50]);
    expect(counts.imagePixels).toEqual([100 + 50, 100 + 50, 50 + 40]);
  });

  it('leaves unlabelled pixels out when there is no background (fill is the ignore index)', () => {
    const counts = classPixelCounts({
      items: [{ width: 10, height: 10, classPixels: { car: 20 } }],
      drawingClassToIdx: { car: 0, road: 1 },
      fill: 2,
      numClasses: 2,
    });
    expect(counts).toEqual({ pixels: [20, 0], imagePixels: [100, 0] });
  });
});

describe('classWeights', () => {
  // bg 600 px in 1000 px of images, a 300 in 500, b 100 in 800, c absent.
  const table = { pixels: [600, 300, 100, 0], imagePixels: [1000, 500, 800, 0] };

  it('none: no weights at all (the loss stays the unweighted one)', () => {
    expect(classWeights('none', table)).toBeUndefined();
  });

  it('enet: 1 / ln(1.02 + p_c), p_c the share of the counted pixels; 0 for a class without pixels', () => {
    const w = classWeights('enet', table) as number[];
    expect(w).toHaveLength(4);
    expect(w[0]).toBeCloseTo(1 / Math.log(1.02 + 0.6), 12);
    expect(w[1]).toBeCloseTo(1 / Math.log(1.02 + 0.3), 12);
    expect(w[2]).toBeCloseTo(1 / Math.log(1.02 + 0.1), 12);
    expect(w[3]).toBe(0);
    // By hand: the rare class weighs most (1/ln 1.12 = 8.82), the common one least (1/ln 1.62 = 2.07).
    expect(w[2]).toBeCloseTo(8.8236, 3);
    expect(w[0]).toBeCloseTo(2.0728, 3);
  });

  it('median_frequency: median(freq) / freq_c, freq_c = pixels / pixels of the images holding c', () => {
    const w = classWeights('median_frequency', table) as number[];
    // freq = [0.6, 0.6, 0.125]; median 0.6.
    expect(w[0]).toBeCloseTo(1, 12);
    expect(w[1]).toBeCloseTo(1, 12);
    expect(w[2]).toBeCloseTo(0.6 / 0.125, 12);
    expect(w[3]).toBe(0);
    // An even number of classes present: the median is the mean of the middle two.
    const even = classWeights('median_frequency', { pixels: [1, 2, 3, 4], imagePixels: [10, 10, 10, 10] });
    expect(even).toEqual([0.25 / 0.1, 0.25 / 0.2, 0.25 / 0.3, 0.25 / 0.4].map((x) => expect.closeTo(x, 12)));
  });

  it('keys the weights by class title in index order', () => {
    expect(Object.entries(weightsByTitle([1, 2, 3], { road: 2, bg: 0, car: 1, neutral: 3 }))).toEqual([
      ['bg', 1],
      ['car', 2],
      ['road', 3],
    ]);
  });
});
