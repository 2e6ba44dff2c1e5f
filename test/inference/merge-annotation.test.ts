import { annotationToJson, parseAnnotation } from '../../src/format/annotation';
import { modeConfig } from './helpers/mode-config';
import { parseObjClass, parseProjectMeta, parseTagMeta } from '../../src/format/meta';
import type { Annotation, Label, Tag } from '../../src/format/model';
import { mergeAnnotation, type ModeResult, type RegionResult } from '../../src/inference/merge-annotation';
import { buildOutputMeta } from '../../src/inference/output-meta';
import { outClassMapping, probabilityClasses, regionPredictions } from '../../src/inference/predictions';
import type { Rect } from '../../src/inference/rect';
import { scoreMap } from '../../src/inference/stitch';

const inputMeta = parseProjectMeta(
  {
    classes: [
      { title: 'kiwi', shape: 'rectangle', color: '#00FF00' },
      { title: 'lemon', shape: 'polygon', color: '#FFFF00' },
    ],
    tags: [
      { name: 'train', value_type: 'none', color: '#0000FF' },
      { name: 'situated', value_type: 'oneof_string', values: ['inside', 'outside'], color: '#00FFFF' },
    ],
  },
  { file: 'meta.json' },
);

const model = {
  classes: [
    parseObjClass({ title: 'bg', shape: 'bitmap', color: '#000000' }, {}),
    parseObjClass({ title: 'kiwi', shape: 'bitmap', color: '#11AA11' }, {}),
  ],
  tagMetas: [parseTagMeta({ name: 'confidence', value_type: 'any_number', color: '#FF0000' }, {})],
};
const classMapping = outClassMapping({ classes: model.classes, classToIndex: { bg: 0, kiwi: 1 } });
const suffix = { add_suffix: '_unet', save_classes: '__all__' } as const;

const input: Annotation = parseAnnotation(
  {
    description: 'kept',
    size: { height: 20, width: 30 },
    tags: [{ name: 'train' }],
    objects: [
      { classTitle: 'kiwi', tags: [], points: { exterior: [[2, 3], [9, 8]], interior: [] } },
      {
        classTitle: 'lemon',
        tags: [{ name: 'situated', value: 'inside' }],
        points: { exterior: [[12, 1], [20, 1], [20, 9]], interior: [] },
      },
      // Partly outside the image: kept, cut to the image.
      { classTitle: 'kiwi', tags: [], points: { exterior: [[25, 15], [40, 30]], interior: [] } },
      // Wholly outside the image: dropped.
      { classTitle: 'kiwi', tags: [], points: { exterior: [[35, 1], [40, 3]], interior: [] } },
    ],
    customBigData: { note: 'kept' },
    imageId: 42,
  },
  inputMeta,
  { file: 'ann/a.jpg.json' },
); // prettier-ignore

const confidence: Tag = { name: 'confidence', value: 0.75, extra: {} };

/** A fake model's answer for a crop: the left half background, the right half kiwi. */
function regionResult(
  rect: Rect,
  opts: { modelTags?: Tag[]; scores?: boolean; renamer: ReturnType<typeof buildOutputMeta>['classRenamer'] },
): RegionResult {
  const h = rect.bottom - rect.top + 1;
  const w = rect.right - rect.left + 1;
  const mask = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = Math.floor(w / 2); x < w; x++) mask[y * w + x] = 1;
  const scores = opts.scores
    ? scoreMap(
        h,
        w,
        2,
        Float32Array.from({ length: h * w * 2 }, (_, i) => (i % 2 === 0 ? 0.4 : 0.6)),
      )
    : undefined;
  return {
    rect,
    predictions: regionPredictions({ mask, region: rect, classMapping, classRenamer: opts.renamer, scores }),
    modelTags: opts.modelTags,
  };
}

/** Serialises and reads back against the output meta: every class and tag must be in it (spec F.4). */
function roundTrip(ann: Annotation, meta: ReturnType<typeof buildOutputMeta>['meta']): Annotation {
  return parseAnnotation(JSON.parse(JSON.stringify(annotationToJson(ann))), meta, { file: 'out.json' });
}

function summary(labels: readonly Label[]): string[] {
  return labels.map(
    (l) =>
      `${l.classTitle}:${l.geometry.type}${l.tags.length > 0 ? `[${l.tags.map((t) => t.name).join(',')}]` : ''}`,
  );
}

const inputSummary = ['kiwi:rectangle', 'lemon:polygon[situated]', 'kiwi:rectangle'];

describe('merging predictions into the output annotation (spec F.3 table, F.4)', () => {
  it('full_image: input kept, predictions added, model image tags on the image, labels cut to the image', () => {
    const mode = modeConfig({ name: 'full_image', model_classes: suffix, model_tags: suffix });
    const out = buildOutputMeta({ inputMeta, model, mode });
    const region = regionResult(
      { top: 0, left: 0, bottom: 19, right: 29 },
      { modelTags: [confidence], renamer: out.classRenamer },
    );
    const merged = mergeAnnotation({ input, result: { mode: 'full_image', region }, outputMeta: out });
    expect(summary(merged.labels)).toEqual([...inputSummary, 'bg_unet:bitmap', 'kiwi_unet:bitmap']);
    expect(merged.labels[2].geometry).toEqual({
      type: 'rectangle',
      top: 15,
      left: 25,
      bottom: 19,
      right: 29,
    });
    expect(merged.tags.map((t) => [t.name, t.value])).toEqual([
      ['train', undefined],
      ['confidence_unet', 0.75],
    ]);
    expect(merged.description).toBe('kept');
    expect(merged.extra).toEqual({ imageId: 42 });
    expect(merged.customBigData).toEqual({ note: 'kept' });
    const back = roundTrip(merged, out.meta);
    expect(summary(back.labels)).toEqual(summary(merged.labels));
  });

  it('roi with save: the ROI rectangle of class_name carries the model tags, which also go on the image', () => {
    const mode = modeConfig({
      name: 'roi',
      model_classes: suffix,
      model_tags: suffix,
      bounds: { left: '10px', top: '2px', right: '0px', bottom: '0px' },
      save: true,
      class_name: 'inference_roi',
    });
    const out = buildOutputMeta({ inputMeta, model, mode });
    const rect = { top: 2, left: 10, bottom: 19, right: 29 };
    const region = regionResult(rect, { modelTags: [confidence], renamer: out.classRenamer });
    const merged = mergeAnnotation({ input, result: { mode: 'roi', region }, outputMeta: out });
    expect(summary(merged.labels)).toEqual([
      ...inputSummary,
      'bg_unet:bitmap',
      'kiwi_unet:bitmap',
      'inference_roi:rectangle[confidence_unet]',
    ]);
    expect(merged.labels[5].geometry).toEqual({ type: 'rectangle', ...rect });
    // Predictions are placed inside the ROI.
    const bgLabel = merged.labels[3].geometry;
    expect(bgLabel.type === 'bitmap' && bgLabel.origin).toEqual({ x: 10, y: 2 });
    expect(merged.tags.map((t) => t.name)).toEqual(['train', 'confidence_unet']);
    roundTrip(merged, out.meta);
  });

  it('bboxes: per selected label its predictions, its saved box, then the label with the model tags; the image tags untouched', () => {
    const mode = modeConfig({
      name: 'bboxes',
      model_classes: suffix,
      model_tags: suffix,
      from_classes: ['kiwi'],
      padding: { left: '0px', top: '0px', right: '0px', bottom: '0px' },
      save: true,
      add_suffix: '_input_bbox',
    });
    const out = buildOutputMeta({ inputMeta, model, mode });
    const r0 = regionResult(
      { top: 3, left: 2, bottom: 8, right: 9 },
      { modelTags: [confidence], renamer: out.classRenamer },
    );
    const r2 = regionResult({ top: 15, left: 25, bottom: 19, right: 29 }, { renamer: out.classRenamer });
    const result: ModeResult = { mode: 'bboxes', regions: [r0, r2], cropLabel: [0, 2] };
    const merged = mergeAnnotation({ input, result, outputMeta: out });
    expect(summary(merged.labels)).toEqual([
      'bg_unet:bitmap',
      'kiwi_unet:bitmap',
      'kiwi_input_bbox:rectangle[confidence_unet]',
      'kiwi:rectangle[confidence_unet]',
      'lemon:polygon[situated]',
      'bg_unet:bitmap',
      'kiwi_unet:bitmap',
      'kiwi_input_bbox:rectangle',
      'kiwi:rectangle',
    ]);
    expect(merged.tags.map((t) => t.name)).toEqual(['train']);
    roundTrip(merged, out.meta);
  });

  it('sliding_window with save: one class_name rectangle per window (with its tags), then the stitched labels', () => {
    const mode = modeConfig({
      name: 'sliding_window',
      model_classes: suffix,
      model_tags: suffix,
      window: { width: 30, height: 12 },
      min_overlap: { x: 0, y: 4 },
      save: true,
      class_name: 'sl_window',
      blending: 'feather',
    });
    const out = buildOutputMeta({ inputMeta, model, mode });
    const whole = regionResult({ top: 0, left: 0, bottom: 19, right: 29 }, { renamer: out.classRenamer });
    const windows = [
      { rect: { top: 0, left: 0, bottom: 11, right: 29 }, modelTags: [confidence] },
      { rect: { top: 8, left: 0, bottom: 19, right: 29 } },
    ];
    const merged = mergeAnnotation({
      input,
      result: { mode: 'sliding_window', windows, stitched: whole.predictions },
      outputMeta: out,
    });
    expect(summary(merged.labels)).toEqual([
      ...inputSummary,
      'sl_window:rectangle[confidence_unet]',
      'sl_window:rectangle',
      'bg_unet:bitmap',
      'kiwi_unet:bitmap',
    ]);
    expect(merged.tags.map((t) => t.name)).toEqual(['train']);
    roundTrip(merged, out.meta);
  });

  it('save_probabilities: customBigData keeps its keys and gains probabilityLabels and probabilityClasses (spec F.5)', () => {
    const mode = modeConfig({ name: 'full_image', model_classes: suffix, save_probabilities: true });
    const out = buildOutputMeta({ inputMeta, model, mode });
    const region = regionResult(
      { top: 0, left: 0, bottom: 19, right: 29 },
      { scores: true, renamer: out.classRenamer },
    );
    const earlier = {
      ...input,
      customBigData: {
        note: 'kept',
        probabilityLabels: [{ classTitle: 'old' }],
        probabilityClasses: [{ title: 'old', shape: 'multichannelBitmap', color: '#123456' }],
      },
    };
    const merged = mergeAnnotation({
      input: earlier,
      result: { mode: 'full_image', region },
      outputMeta: out,
      probabilityClasses: probabilityClasses(classMapping, out.classRenamer),
    });
    const cbd = merged.customBigData as {
      note: string;
      probabilityLabels: { classTitle: string }[];
      probabilityClasses: { title: string; shape: string }[];
    };
    expect(cbd.note).toBe('kept');
    expect(cbd.probabilityLabels.map((l) => l.classTitle)).toEqual(['old', 'bg_unet', 'kiwi_unet']);
    expect(cbd.probabilityClasses.map((c) => [c.title, c.shape])).toEqual([
      ['old', 'multichannelBitmap'],
      ['bg_unet', 'multichannelBitmap'],
      ['kiwi_unet', 'multichannelBitmap'],
    ]);
    // Scores never stay among the objects.
    expect(merged.labels.every((l) => l.geometry.type !== 'multichannelBitmap')).toBe(true);
    expect(() => mergeAnnotation({ input, result: { mode: 'full_image', region }, outputMeta: out })).toThrow(
      /probabilityClasses/,
    );
  });

  it('drops score labels found among the input objects (backend-only, spec B.7)', () => {
    const withScores: Annotation = {
      ...input,
      labels: [
        ...input.labels,
        {
          classTitle: 'kiwi',
          description: '',
          tags: [],
          geometry: { type: 'multichannelBitmap', origin: { x: 0, y: 0 }, encoded: 'x' },
          extra: {},
        },
      ],
    };
    const out = buildOutputMeta({
      inputMeta,
      model,
      mode: modeConfig({ name: 'full_image', model_classes: suffix }),
    });
    const region = regionResult({ top: 0, left: 0, bottom: 19, right: 29 }, { renamer: out.classRenamer });
    const merged = mergeAnnotation({
      input: withScores,
      result: { mode: 'full_image', region },
      outputMeta: out,
    });
    expect(summary(merged.labels)).toEqual([...inputSummary, 'bg_unet:bitmap', 'kiwi_unet:bitmap']);
  });
});
