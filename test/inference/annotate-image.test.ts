import { modeConfig } from './helpers/mode-config';
import { TaskError } from '../../src/errors';
import { parseAnnotation } from '../../src/format/annotation';
import { parseObjClass, parseProjectMeta } from '../../src/format/meta';
import type { Annotation, BitmapGeometry, Label } from '../../src/format/model';
import { decodeMultichannelBitmap } from '../../src/format/multichannel-bitmap';
import { annotateImage, type ScoreCrops } from '../../src/inference/annotate-image';
import type { ModeConfig } from '../../src/task/config-types';
import { buildOutputMeta } from '../../src/inference/output-meta';
import { outClassMapping } from '../../src/inference/predictions';
import type { Rect } from '../../src/inference/rect';
import { argmaxMask, scoreMap, type ClassIndexMask, type ScoreMap } from '../../src/inference/stitch';

const inputMeta = parseProjectMeta(
  { classes: [{ title: 'box', shape: 'rectangle', color: '#00FF00' }], tags: [] },
  { file: 'meta.json' },
);
const model = {
  classes: [
    parseObjClass({ title: 'bg', shape: 'bitmap', color: '#000000' }, {}),
    parseObjClass({ title: 'fg', shape: 'bitmap', color: '#FF0000' }, {}),
  ],
  tagMetas: [],
};
const classMapping = outClassMapping({ classes: model.classes, classToIndex: { bg: 0, fg: 1 } });
const size = { height: 24, width: 40 };

const input: Annotation = parseAnnotation(
  {
    size,
    tags: [],
    objects: [{ classTitle: 'box', tags: [], points: { exterior: [[4, 4], [13, 11]], interior: [] } }],
  },
  inputMeta,
  { file: 'a.json' },
); // prettier-ignore

/** The fake network's truth: foreground below the diagonal band column + row >= 30. */
function isForeground(x: number, y: number): boolean {
  return x + y >= 30;
}

/** A fake network that scores each pixel of a crop by its image position, so all windows agree. */
function fakeNetwork(calls: number[]): ScoreCrops {
  return async (crops: readonly Rect[]): Promise<ScoreMap[]> => {
    calls.push(crops.length);
    return crops.map((c) => {
      const h = c.bottom - c.top + 1;
      const w = c.right - c.left + 1;
      const m = scoreMap(h, w, 2);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const fg = isForeground(c.left + x, c.top + y) ? 0.8 : 0.3;
          m.data[(y * w + x) * 2] = 1 - fg;
          m.data[(y * w + x) * 2 + 1] = fg;
        }
      }
      return m;
    });
  };
}

function pixelsOf(labels: readonly Label[], classTitle: string): Set<string> {
  const out = new Set<string>();
  for (const l of labels) {
    if (l.classTitle !== classTitle || l.geometry.type !== 'bitmap') continue;
    const g: BitmapGeometry = l.geometry;
    for (let y = 0; y < g.mask.height; y++) {
      for (let x = 0; x < g.mask.width; x++) {
        if (g.mask.data[y * g.mask.width + x] !== 0) out.add(`${g.origin.x + x},${g.origin.y + y}`);
      }
    }
  }
  return out;
}

function truth(rects: Rect[], fg: boolean): Set<string> {
  const out = new Set<string>();
  for (const r of rects) {
    for (let y = r.top; y <= r.bottom; y++) {
      for (let x = r.left; x <= r.right; x++) if (isForeground(x, y) === fg) out.add(`${x},${y}`);
    }
  }
  return out;
}

const common = {
  model_classes: { add_suffix: '_m', save_classes: '__all__' },
  model_tags: { add_suffix: '_m', save_classes: '__all__' },
} as const;

async function run(mode: ModeConfig, calls: number[] = [], batchSize?: number) {
  const outputMeta = buildOutputMeta({ inputMeta, model, mode });
  return annotateImage({
    mode,
    annotation: input,
    outputMeta,
    classMapping,
    scoreCrops: fakeNetwork(calls),
    batchSize,
  });
}

const whole: Rect = { top: 0, left: 0, bottom: 23, right: 39 };

describe('one image through each mode with a fake network (spec F.3)', () => {
  it('full_image: the predicted classes cover the image exactly as the network says', async () => {
    const { annotation } = await run(modeConfig({ name: 'full_image', ...common }));
    expect(annotation.labels.map((l) => l.classTitle)).toEqual(['box', 'bg_m', 'fg_m']);
    expect(pixelsOf(annotation.labels, 'fg_m')).toEqual(truth([whole], true));
    expect(pixelsOf(annotation.labels, 'bg_m')).toEqual(truth([whole], false));
  });

  it('full_image with maskCrops: masks given back through masksDone can be overwritten without changing the labels', async () => {
    const mode = modeConfig({ name: 'full_image', ...common });
    const outputMeta = buildOutputMeta({ inputMeta, model, mode });
    const scores = fakeNetwork([]);
    const done: ClassIndexMask[] = [];
    const { annotation } = await annotateImage({
      mode,
      annotation: input,
      outputMeta,
      classMapping,
      scoreCrops: scores,
      maskCrops: async (crops) => (await scores(crops)).map((m) => argmaxMask(m)),
      masksDone: (masks) => done.push(...masks),
    });
    expect(done).toHaveLength(1); // the one crop
    const before = JSON.stringify(annotation.labels);
    for (const m of done) m.fill(1); // as a reuse by the next image would
    expect(JSON.stringify(annotation.labels)).toBe(before);
    expect(pixelsOf(annotation.labels, 'fg_m')).toEqual(truth([whole], true));
  });

  it('roi: predictions only inside the ROI', async () => {
    const mode = modeConfig({
      name: 'roi',
      ...common,
      bounds: { left: '25%', top: '2px', right: '0px', bottom: '50%' },
      save: false,
      class_name: 'r',
    });
    const { annotation, plan } = await run(mode);
    const roi = { top: 2, left: 10, bottom: 11, right: 39 };
    expect(plan.crops).toEqual([roi]);
    expect(pixelsOf(annotation.labels, 'fg_m')).toEqual(truth([roi], true));
  });

  it('bboxes: predictions inside each padded box, in label order', async () => {
    const mode = modeConfig({
      name: 'bboxes',
      ...common,
      from_classes: '__all__',
      padding: { left: '10px', top: '0px', right: '100%', bottom: '2px' },
      save: true,
      add_suffix: '_in',
    });
    const { annotation, plan } = await run(mode);
    const box = { top: 4, left: 0, bottom: 13, right: 23 };
    expect(plan.crops).toEqual([box]);
    expect(annotation.labels.map((l) => l.classTitle)).toEqual(['bg_m', 'fg_m', 'box_in', 'box']);
    expect(pixelsOf(annotation.labels, 'fg_m')).toEqual(truth([box], true));
  });

  for (const blending of ['sum', 'feather'] as const) {
    it(`sliding_window (${blending}): windows that agree stitch into the network's own answer, batch by batch`, async () => {
      const mode = modeConfig({
        name: 'sliding_window',
        ...common,
        window: { width: 16, height: 16 },
        min_overlap: { x: 4, y: 4 },
        save: true,
        class_name: 'win',
        blending,
        save_probabilities: true,
      });
      const calls: number[] = [];
      const { annotation, plan } = await run(mode, calls, 4);
      // rows: limit 8, stride 12 -> 0, 8; columns: limit 24, stride 12 -> 0, 12, 24
      expect(plan.crops.length).toBe(6);
      expect(calls).toEqual([4, 2]);
      expect(annotation.labels.filter((l) => l.classTitle === 'win').length).toBe(6);
      expect(pixelsOf(annotation.labels, 'fg_m')).toEqual(truth([whole], true));
      expect(pixelsOf(annotation.labels, 'bg_m')).toEqual(truth([whole], false));
      const probs = annotation.customBigData.probabilityLabels as {
        classTitle: string;
        multichannelBitmap: { data: string };
      }[];
      expect(probs.map((p) => p.classTitle)).toEqual(['bg_m', 'fg_m']);
      const fg = decodeMultichannelBitmap(probs[1].multichannelBitmap.data);
      expect([fg.height, fg.width, fg.channels]).toEqual([24, 40, 1]);
      expect(fg.data[0]).toBeCloseTo(0.3, 5); // (0, 0) is background
      expect(fg.data[23 * 40 + 39]).toBeCloseTo(0.8, 5);
    });
  }

  it('a network with the wrong number of score channels is a model error', async () => {
    const mode = modeConfig({ name: 'full_image', ...common });
    const outputMeta = buildOutputMeta({ inputMeta, model, mode });
    const threeChannels: ScoreCrops = async (crops) =>
      crops.map((c) => scoreMap(c.bottom - c.top + 1, c.right - c.left + 1, 3));
    await expect(
      annotateImage({ mode, annotation: input, outputMeta, classMapping, scoreCrops: threeChannels }),
    ).rejects.toThrow(TaskError);
  });
});

describe('a native-resolution checkpoint: full_image and roi scored in windows at its scale (issue #17)', () => {
  /** The annotation, and every crop the network was asked to score. */
  async function windowed(mode: ModeConfig, regionWindow: { width: number; height: number }) {
    const seen: Rect[] = [];
    const network = fakeNetwork([]);
    const { annotation } = await annotateImage({
      mode,
      annotation: input,
      outputMeta: buildOutputMeta({ inputMeta, model, mode }),
      classMapping,
      scoreCrops: (crops) => {
        seen.push(...crops);
        return network(crops);
      },
      regionWindow,
      batchSize: 3,
    });
    return { annotation, seen };
  }

  it('full_image: windows of the given size cover the image and the labels are the network’s', async () => {
    const mode = modeConfig({ name: 'full_image', ...common });
    const { annotation, seen } = await windowed(mode, { width: 16, height: 10 });
    expect(seen.length).toBeGreaterThan(4);
    for (const r of seen) {
      expect([r.right - r.left + 1, r.bottom - r.top + 1]).toEqual([16, 10]);
    }
    const covered = new Set(seen.flatMap((r) => [...truth([r], true), ...truth([r], false)]));
    expect(covered.size).toBe(40 * 24);
    expect(pixelsOf(annotation.labels, 'fg_m')).toEqual(truth([whole], true));
    expect(pixelsOf(annotation.labels, 'bg_m')).toEqual(truth([whole], false));
  });

  it('roi: the windows stay inside the region, and a window larger than the region shrinks to it', async () => {
    const mode = modeConfig({
      name: 'roi',
      bounds: { left: '10px', top: '4px', right: '10px', bottom: '4px' },
      ...common,
    });
    const { annotation, seen } = await windowed(mode, { width: 100, height: 7 });
    const region: Rect = { top: 4, left: 10, bottom: 19, right: 29 };
    for (const r of seen) {
      expect(r.left).toBeGreaterThanOrEqual(region.left);
      expect(r.right).toBeLessThanOrEqual(region.right);
      expect(r.top).toBeGreaterThanOrEqual(region.top);
      expect(r.bottom).toBeLessThanOrEqual(region.bottom);
      expect(r.right - r.left + 1).toBe(20);
      expect(r.bottom - r.top + 1).toBe(7);
    }
    expect(pixelsOf(annotation.labels, 'fg_m')).toEqual(truth([region], true));
  });
});
