import { TaskError } from '../../src/errors';
import { labelToJson } from '../../src/format/annotation';
import { decodeBitmapData } from '../../src/format/bitmap-codec';
import { parseObjClass } from '../../src/format/meta';
import type { BitmapGeometry } from '../../src/format/model';
import { decodeMultichannelBitmap } from '../../src/format/multichannel-bitmap';
import {
  outClassMapping,
  probabilityClasses,
  regionPredictions,
  scoreChannel,
} from '../../src/inference/predictions';
import { Renamer } from '../../src/inference/renamer';
import { scoreMap } from '../../src/inference/stitch';

const bg = parseObjClass({ title: 'bg', shape: 'bitmap', color: '#000000' }, {});
const kiwi = parseObjClass({ title: 'kiwi', shape: 'bitmap', color: '#00FF00', id: 5 }, {});
const lemon = parseObjClass({ title: 'lemon', shape: 'bitmap', color: '#FFFF00' }, {});
const mapping = outClassMapping({
  classes: [lemon, kiwi, bg],
  classToIndex: { bg: 0, kiwi: 1, lemon: 2, gone: 3 },
});

// 3 rows x 4 columns; the region sits at row 10, column 20 of the image.
const region = { top: 10, left: 20, bottom: 12, right: 23 };
const mask = Uint8Array.from([0, 0, 1, 1, 0, 2, 1, 0, 0, 0, 0, 0]);

/** Image pixels `"x,y"` of a bitmap label. */
function pixels(g: BitmapGeometry): string[] {
  const out: string[] = [];
  for (let y = 0; y < g.mask.height; y++) {
    for (let x = 0; x < g.mask.width; x++) {
      if (g.mask.data[y * g.mask.width + x] !== 0) out.push(`${g.origin.x + x},${g.origin.y + y}`);
    }
  }
  return out;
}

/** The expected image pixels of a class, straight from the mask. */
function expectedPixels(index: number): string[] {
  const out: string[] = [];
  for (let y = 0; y < 3; y++)
    for (let x = 0; x < 4; x++) if (mask[y * 4 + x] === index) out.push(`${20 + x},${10 + y}`);
  return out;
}

describe('out class mapping (spec F.1 out_class_mapping)', () => {
  it('maps each index of class_title_to_idx to its out class, skipping titles that are not out classes', () => {
    expect([...mapping].map(([i, c]) => [i, c.title])).toEqual([
      [0, 'bg'],
      [1, 'kiwi'],
      [2, 'lemon'],
    ]);
  });
});

describe('region predictions (spec F.1 segmentation_array_to_sly_bitmaps, F.3 renaming)', () => {
  it('makes one tight bitmap per class present, background included, renamed and placed in the image', () => {
    const { labels, probabilityLabels } = regionPredictions({
      mask,
      region,
      classMapping: mapping,
      classRenamer: Renamer.fromJson({ add_suffix: '_unet' }),
    });
    expect(labels.map((l) => l.classTitle)).toEqual(['bg_unet', 'kiwi_unet', 'lemon_unet']);
    labels.forEach((l, i) => {
      if (l.geometry.type !== 'bitmap') throw new Error('expected a bitmap');
      expect(pixels(l.geometry).sort()).toEqual(expectedPixels(i).sort());
    });
    const kiwiLabel = labels[1].geometry as BitmapGeometry;
    expect(kiwiLabel.origin).toEqual({ x: 22, y: 10 }); // tight: columns 2..3 of the region, rows 0..1
    expect([kiwiLabel.mask.width, kiwiLabel.mask.height]).toEqual([2, 2]);
    expect(probabilityLabels).toEqual([]);
  });

  it('drops classes the renamer does not save', () => {
    const { labels } = regionPredictions({
      mask,
      region,
      classMapping: mapping,
      classRenamer: Renamer.fromJson({ save_classes: ['lemon'] }),
    });
    expect(labels.map((l) => l.classTitle)).toEqual(['lemon']);
  });

  it('writes labels that encode as spec B.6 bitmaps and decode to the same pixels', () => {
    const { labels } = regionPredictions({
      mask,
      region,
      classMapping: mapping,
      classRenamer: new Renamer(),
    });
    for (const l of labels) {
      const json = labelToJson(l);
      if (json === null || json.bitmap === undefined || json.bitmap === null)
        throw new Error('expected bitmap JSON');
      const decoded = decodeBitmapData(json.bitmap.data);
      const g: BitmapGeometry = {
        type: 'bitmap',
        origin: { x: json.bitmap.origin[0], y: json.bitmap.origin[1] },
        mask: decoded,
      };
      expect(pixels(g)).toEqual(pixels(l.geometry as BitmapGeometry));
    }
  });

  it('with scores, adds one float32 multichannelBitmap per saved class (spec B.7, F.5)', () => {
    const scores = scoreMap(3, 4, 3);
    for (let i = 0; i < scores.data.length; i++) scores.data[i] = (i % 7) / 7;
    const { probabilityLabels } = regionPredictions({
      mask,
      region,
      classMapping: mapping,
      classRenamer: Renamer.fromJson({ add_suffix: '_m', save_classes: ['bg', 'lemon'] }),
      scores,
    });
    expect(probabilityLabels.map((l) => l.classTitle)).toEqual(['bg_m', 'lemon_m']);
    probabilityLabels.forEach((l, k) => {
      const channel = [0, 2][k];
      expect(l.multichannelBitmap?.origin).toEqual([20, 10]);
      expect(l.geometryType).toBe('multichannelBitmap');
      const decoded = decodeMultichannelBitmap(l.multichannelBitmap?.data ?? '');
      expect([decoded.height, decoded.width, decoded.channels]).toEqual([3, 4, 1]);
      expect(decoded.data).toBeInstanceOf(Float32Array);
      expect(Array.from(decoded.data)).toEqual(Array.from(scoreChannel(scores, channel)));
    });
  });

  it('a class index beyond the score channels is a model error', () => {
    const scores = scoreMap(3, 4, 2);
    let err: unknown;
    try {
      regionPredictions({ mask, region, classMapping: mapping, classRenamer: new Renamer(), scores });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TaskError);
    expect((err as TaskError).kind).toBe('model');
    expect((err as TaskError).message).toContain('"lemon" has index 2');
  });

  it('probabilityClasses are the saved classes, renamed, as multichannelBitmap, colours kept', () => {
    const classes = probabilityClasses(
      mapping,
      Renamer.fromJson({ add_suffix: '_m', save_classes: ['kiwi'] }),
    );
    expect(classes).toEqual([
      { title: 'kiwi_m', shape: 'multichannelBitmap', color: '#00FF00', geometry_config: {}, hotkey: '' },
    ]);
  });
});
