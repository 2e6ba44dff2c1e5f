/**
 * Multichannel bitmaps: pixelwise scores as base64(zlib(.npy)) of an H x W x C array (spec B.7), stored under
 * `customBigData.probabilityLabels` when inference saves probabilities (spec F.5).
 */

import * as zlib from 'node:zlib';
import { decodeBase64Strict } from './base64';
import type { PixelPoint } from './model';
import { decodeNpy, encodeNpy, type NpyArray } from './npy';
import type { LabelJson } from './types';

export interface ScoreMap {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  /** H x W x C, C-order (channel fastest). */
  readonly data: Float32Array | Float64Array;
}

export function encodeMultichannelBitmap(scores: ScoreMap): string {
  const npy = encodeNpy({ shape: [scores.height, scores.width, scores.channels], data: scores.data });
  return zlib.deflateSync(npy).toString('base64');
}

export function decodeMultichannelBitmap(data: string): ScoreMap {
  let array: NpyArray;
  try {
    array = decodeNpy(zlib.inflateSync(decodeBase64Strict(data)));
  } catch (e) {
    throw new Error(`multichannel bitmap data is damaged: ${(e as Error).message}`);
  }
  if (array.shape.length !== 3)
    throw new Error(`multichannel bitmap must be H x W x C, got ${array.shape.length}-D`);
  const [height, width, channels] = array.shape;
  return { height, width, channels, data: array.data };
}

/** A `probabilityLabels` entry (spec F.5): one class's scores as a multichannelBitmap label. */
export function probabilityLabelJson(options: {
  classTitle: string;
  origin?: PixelPoint;
  scores: ScoreMap;
}): LabelJson {
  const origin = options.origin ?? { x: 0, y: 0 };
  return {
    classTitle: options.classTitle,
    description: '',
    tags: [],
    multichannelBitmap: { origin: [origin.x, origin.y], data: encodeMultichannelBitmap(options.scores) },
    geometryType: 'multichannelBitmap',
    shape: 'multichannelBitmap',
  };
}
