/** The preflight report: per fold, images and labelled area per class; classes a fold lacks; image sizes. */
import { createLogger } from '../../src/protocol/logger';
import { memorySink } from '../../src/protocol/sink';
import { geometryArea, logPreflight, preflightReport } from '../../src/training/preflight';

describe('geometryArea', () => {
  it('counts a bitmap’s set pixels, a polygon’s area less its holes, a rectangle’s inclusive area', () => {
    const mask = { width: 3, height: 2, data: Uint8Array.from([1, 0, 1, 1, 1, 0]) };
    expect(geometryArea({ type: 'bitmap', origin: { x: 0, y: 0 }, mask })).toBe(4);
    const square = [
      { x: 0, y: 0 },
      { x: 10, y: 0 },
      { x: 10, y: 10 },
      { x: 0, y: 10 },
    ];
    const hole = [
      { x: 2, y: 2 },
      { x: 4, y: 2 },
      { x: 4, y: 4 },
      { x: 2, y: 4 },
    ];
    expect(geometryArea({ type: 'polygon', exterior: square, interior: [hole] })).toBe(96);
    expect(geometryArea({ type: 'rectangle', top: 0, left: 0, bottom: 1, right: 4 })).toBe(10);
    expect(geometryArea({ type: 'point', x: 1, y: 1 })).toBe(0);
  });
});

describe('preflightReport', () => {
  const item = (w: number, h: number, classPixels: Record<string, number>) => ({
    width: w,
    height: h,
    classPixels,
  });
  const report = preflightReport(
    {
      train: [item(10, 10, { road: 60, pole: 2 }), item(20, 10, { road: 150 })],
      val: [item(10, 10, { road: 50 })],
    },
    ['road', 'pole', 'sign'],
  );

  it('counts images and labelled pixels per class and fold, and the classes each fold lacks', () => {
    expect(report.folds.train).toEqual({
      images: 2,
      pixels: 300,
      classes: { road: { images: 2, pixels: 210 }, pole: { images: 1, pixels: 2 } },
      absent: ['sign'],
    });
    expect(report.folds.val.absent).toEqual(['pole', 'sign']);
    expect(report.image_sizes).toEqual({
      min: '10x10',
      max: '20x10',
      most_common: [
        { size: '10x10', images: 2 },
        { size: '20x10', images: 1 },
      ],
    });
  });

  it('is logged as one structured line, a readable line per fold and a warning per fold lacking classes', () => {
    const mem = memorySink();
    logPreflight(createLogger({ sink: mem.sink }), report);
    const lines = mem.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ message: 'Preflight', report: { folds: { train: { images: 2 } } } });
    expect(
      lines.some((l) =>
        /^Preflight: train: 2 images, 2 labelled classes; rarest: pole 1 img \/ 0\.67%/.test(
          String(l.message),
        ),
      ),
    ).toBe(true);
    const warnings = lines.filter((l) => l.level === 'warn').map((l) => l.message);
    expect(warnings).toEqual([
      'Preflight: no train image holds sign: never learned',
      'Preflight: no val image holds pole, sign: never measured',
    ]);
  });
});
