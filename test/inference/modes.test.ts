import { TaskError } from '../../src/errors';
import { modeConfig } from './helpers/mode-config';
import { offsetPixels } from '../../src/inference/modes/bounds';
import { bboxesRegions, paddedBox } from '../../src/inference/modes/bboxes';
import { planInference } from '../../src/inference/modes/plan';
import { roiRect } from '../../src/inference/modes/roi';
import { axisStarts, slidingWindows } from '../../src/inference/modes/sliding-window';
import type { Rect } from '../../src/inference/rect';

function catchError(fn: () => unknown): TaskError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a TaskError');
}

const zero = { left: '0px', top: '0px', right: '0px', bottom: '0px' };

describe('"Npx" / "N%" offsets (spec F.3 int_percent_or_px)', () => {
  it('takes pixels as written and percent as int(side * N / 100), truncating toward zero', () => {
    expect(offsetPixels('7px', 100, 'f')).toBe(7);
    expect(offsetPixels('-3px', 100, 'f')).toBe(-3);
    expect(offsetPixels('10%', 33, 'f')).toBe(3); // 3.3
    expect(offsetPixels('5%', 33, 'f')).toBe(1); // 1.65
    expect(offsetPixels('-5%', 33, 'f')).toBe(-1); // Python int(-1.65) == -1
  });

  it('rejects other forms with the field and the value', () => {
    const err = catchError(() => offsetPixels('10 px', 10, 'mode.bounds.left'));
    expect(err.context.field).toBe('mode.bounds.left');
    expect(err.message).toContain('"10 px"');
  });
});

describe('roi mode region (spec F.3 InfModeRoi)', () => {
  it('is Rectangle(top=t, left=l, bottom=H-b-1, right=W-r-1)', () => {
    const r = roiRect({
      bounds: { left: '10%', top: '30%', right: '10%', bottom: '10%' },
      image: { height: 200, width: 300 },
    });
    expect(r).toEqual({ top: 60, left: 30, bottom: 200 - 20 - 1, right: 300 - 30 - 1 });
    expect(roiRect({ bounds: zero, image: { height: 5, width: 4 } })).toEqual({
      top: 0,
      left: 0,
      bottom: 4,
      right: 3,
    });
  });

  it('clips negative margins to the image', () => {
    const r = roiRect({
      bounds: { left: '-5px', top: '2px', right: '0px', bottom: '-9px' },
      image: { height: 10, width: 10 },
    });
    expect(r).toEqual({ top: 2, left: 0, bottom: 9, right: 9 });
  });

  it('an inverted ROI is an error naming the margins and the image size', () => {
    const err = catchError(() =>
      roiRect({
        bounds: { left: '60%', top: '0px', right: '50%', bottom: '0px' },
        image: { height: 10, width: 100 },
      }),
    );
    expect(err.kind).toBe('config');
    expect(err.context.field).toBe('mode.bounds');
    expect(err.message).toContain('left "60%"');
    expect(err.message).toContain('100x10');
  });

  it('an empty ROI (rows) is an error too', () => {
    const err = catchError(() =>
      roiRect({
        bounds: { left: '0px', top: '5px', right: '0px', bottom: '5px' },
        image: { height: 10, width: 10 },
      }),
    );
    expect(err.message).toContain('no rows');
  });
});

describe('bboxes mode regions (spec F.3 InfModeBboxes)', () => {
  const image = { height: 100, width: 100 };
  const bbox: Rect = { top: 10, left: 20, bottom: 29, right: 59 }; // 20 rows, 40 columns

  it('zero padding keeps the bounding box', () => {
    expect(paddedBox({ bbox, padding: zero, image })).toEqual(bbox);
  });

  it('positive padding expands; percent is relative to the bbox size (left/right of width, top/bottom of height)', () => {
    const r = paddedBox({ bbox, padding: { left: '10%', right: '5px', top: '50%', bottom: '1px' }, image });
    expect(r).toEqual({ top: 10 - 10, left: 20 - 4, bottom: 29 + 1, right: 59 + 5 });
  });

  it('is cut to the image', () => {
    const r = paddedBox({
      bbox,
      padding: { left: '100px', right: '100px', top: '0px', bottom: '0px' },
      image,
    });
    expect(r).toEqual({ top: 10, left: 0, bottom: 29, right: 99 });
  });

  it('is null outside the image, or when negative padding leaves nothing', () => {
    expect(
      paddedBox({ bbox: { top: 200, left: 0, bottom: 210, right: 5 }, padding: zero, image }),
    ).toBeNull();
    expect(paddedBox({ bbox, padding: { ...zero, left: '-30px', right: '-30px' }, image })).toBeNull();
  });

  it('plans one crop per selected label in label order and reports the skipped ones', () => {
    const plan = bboxesRegions({
      labels: [
        { classTitle: 'kiwi', bbox },
        { classTitle: 'lemon', bbox },
        { classTitle: 'kiwi', bbox: { top: -50, left: -50, bottom: -10, right: -10 } },
        { classTitle: 'kiwi', bbox: { top: 0, left: 0, bottom: 0, right: 0 } },
      ],
      fromClasses: ['kiwi'],
      padding: zero,
      image,
    });
    expect(plan.crops).toEqual([bbox, { top: 0, left: 0, bottom: 0, right: 0 }]);
    expect(plan.cropLabel).toEqual([0, 3]);
    expect(plan.skipped.map((s) => s.labelIndex)).toEqual([2]);
  });
});

describe('sliding windows (spec F.3, SDK SlidingWindows)', () => {
  it('starts at 0, s, 2s, ... and clamps the last start to H - h', () => {
    expect(axisStarts(10, 4)).toEqual([0, 4, 8, 10]);
    expect(axisStarts(8, 4)).toEqual([0, 4, 8]);
    expect(axisStarts(0, 3)).toEqual([0]);
  });

  it('goes rows then columns and covers every pixel', () => {
    const image = { height: 7, width: 9 };
    const ws = slidingWindows({ image, window: { width: 4, height: 3 }, minOverlap: { x: 1, y: 0 } });
    // rows: limit 4, stride 3 -> 0, 3, 4; columns: limit 5, stride 3 -> 0, 3, 5
    expect(ws.map((w) => [w.top, w.left])).toEqual([
      [0, 0], [0, 3], [0, 5],
      [3, 0], [3, 3], [3, 5],
      [4, 0], [4, 3], [4, 5],
    ]); // prettier-ignore
    for (const w of ws) {
      expect(w.bottom - w.top + 1).toBe(3);
      expect(w.right - w.left + 1).toBe(4);
    }
    const covered = new Uint8Array(image.height * image.width);
    for (const w of ws)
      for (let y = w.top; y <= w.bottom; y++) for (let x = w.left; x <= w.right; x++) covered[y * 9 + x] = 1;
    expect(covered.every((v) => v === 1)).toBe(true);
  });

  it('a window the size of the image gives one window', () => {
    expect(
      slidingWindows({
        image: { height: 5, width: 6 },
        window: { width: 6, height: 5 },
        minOverlap: { x: 3, y: 2 },
      }),
    ).toEqual([{ top: 0, left: 0, bottom: 4, right: 5 }]);
  });

  it('overlap >= window is "overlap is too high", naming the field', () => {
    const err = catchError(() =>
      slidingWindows({
        image: { height: 50, width: 50 },
        window: { width: 10, height: 10 },
        minOverlap: { x: 10, y: 0 },
      }),
    );
    expect(err.message).toContain('overlap is too high');
    expect(err.context.field).toBe('mode.min_overlap.x');
  });

  it('a window larger than the image is an error naming both sizes', () => {
    const err = catchError(() =>
      slidingWindows({
        image: { height: 80, width: 100 },
        window: { width: 128, height: 64 },
        minOverlap: { x: 0, y: 0 },
      }),
    );
    expect(err.message).toContain('window 128x64');
    expect(err.message).toContain('image 100x80');
    expect(err.context.field).toBe('mode.window');
  });
});

describe('inference plan per mode (spec F.3)', () => {
  const image = { height: 20, width: 30 };
  it('full_image: one crop, the whole image', () => {
    expect(planInference({ mode: modeConfig({ name: 'full_image' }), image })).toEqual({
      mode: 'full_image',
      crops: [{ top: 0, left: 0, bottom: 19, right: 29 }],
    });
  });

  it('roi, bboxes and sliding_window delegate to their geometry', () => {
    const roi = planInference({
      mode: modeConfig({ name: 'roi', bounds: { ...zero, top: '5px' }, save: false, class_name: 'r' }),
      image,
    });
    expect(roi.crops).toEqual([{ top: 5, left: 0, bottom: 19, right: 29 }]);
    const bb = planInference({
      mode: modeConfig({
        name: 'bboxes',
        from_classes: '__all__',
        padding: zero,
        save: false,
        add_suffix: '_b',
      }),
      image,
      labels: [{ classTitle: 'a', bbox: { top: 1, left: 2, bottom: 3, right: 4 } }],
    });
    expect(bb).toMatchObject({
      mode: 'bboxes',
      crops: [{ top: 1, left: 2, bottom: 3, right: 4 }],
      cropLabel: [0],
    });
    const sw = planInference({
      mode: modeConfig({
        name: 'sliding_window',
        window: { width: 16, height: 16 },
        min_overlap: { x: 2, y: 2 },
        save: false,
        class_name: 's',
        blending: 'feather',
      }),
      image,
    });
    // rows: limit 4, stride 14 -> 0, 4; columns: limit 14 -> 0, 14
    expect(sw.crops.map((c) => [c.top, c.left])).toEqual([
      [0, 0],
      [0, 14],
      [4, 0],
      [4, 14],
    ]);
  });
});
