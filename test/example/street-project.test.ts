import { drawStreetScene, STREET_CLASSES } from '../../src/example/street-project';
import { mulberry32 } from '../../src/util/random';

/** Labelled pixels per class index (0 background) over `n` scenes. */
function tally(n: number, width: number, height: number): { counts: number[]; poleWidths: Set<number> } {
  const counts = new Array<number>(STREET_CLASSES.length + 1).fill(0);
  const poleWidths = new Set<number>();
  const pole = STREET_CLASSES.indexOf('pole') + 1;
  for (let i = 0; i < n; i += 1) {
    const { labels } = drawStreetScene(width, height, mulberry32(i));
    for (const v of labels) counts[v] += 1;
    // Horizontal runs of pole pixels on the row just above the bottom third: their widths.
    const y = Math.floor(height * 0.6);
    let run = 0;
    for (let x = 0; x <= width; x += 1) {
      if (x < width && labels[y * width + x] === pole) run += 1;
      else if (run > 0) {
        poleWidths.add(run);
        run = 0;
      }
    }
  }
  return { counts, poleWidths };
}

describe('the street-like project of bench:recipe (issue #17)', () => {
  it('has thin structures of 1-3 px, and a rarest class under 1/200 of the largest', () => {
    const { counts, poleWidths } = tally(16, 320, 240);
    const labelled = counts.slice(1);
    const largest = Math.max(...labelled);
    const rarest = Math.min(...labelled);
    expect(rarest).toBeGreaterThan(0);
    expect(rarest / largest).toBeLessThan(1 / 200);
    expect(STREET_CLASSES[labelled.indexOf(rarest)]).toBe('person');
    expect([...poleWidths].every((w) => w >= 1 && w <= 6)).toBe(true); // two poles may touch
    expect(poleWidths.has(1)).toBe(true);
  });

  it('draws the same scene from the same seed, and another from another', () => {
    const a = drawStreetScene(64, 48, mulberry32(5));
    const b = drawStreetScene(64, 48, mulberry32(5));
    const c = drawStreetScene(64, 48, mulberry32(6));
    expect(Buffer.from(a.rgb).equals(Buffer.from(b.rgb))).toBe(true);
    expect(Buffer.from(a.labels).equals(Buffer.from(b.labels))).toBe(true);
    expect(Buffer.from(a.rgb).equals(Buffer.from(c.rgb))).toBe(false);
  });
});
