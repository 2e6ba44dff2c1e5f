/**
 * Click-prompted segmentation of one image with a trained click checkpoint: `segmentFromClicks(image, clicks,
 * previousMask?)` gives the object's mask at the image's size. The image is resized to the network input as in
 * training, clicks are scaled to it and drawn as training drew them (the checkpoint records how), the network runs
 * on onnxruntime (exported in memory) or tfjs, and the object score is resized back bilinearly.
 */
import { dataError, modelError } from '../../errors';
import { cropResizeRgb, type RgbRaster } from '../../image/crop-resize';
import type { ChannelStats } from '../../image/normalise';
import { resizeNearest } from '../../image/resize-nearest';
import type { EngineName, SegmentationEngine } from '../../inference/engine/types';
import { argmaxOfResized } from '../../inference/score-resize';
import { scoreMap } from '../../inference/stitch';
import {
  checkModelShapes,
  checkpointPreprocessing,
  readInferenceCheckpoint,
} from '../../inference/checkpoint';
import { networkTensorNames, type NetworkSignature } from '../../network/types';
import { keepClickedComponents, scaleClick, type Click, type Grid } from './clicks';
import { encodeClickInput, type ClickEncoding } from './encode';
import {
  clickNetworkExpected,
  clickScoreRunner,
  clickTensorNames,
  type ClickTensorNames,
} from './network-io';
import { CLICK_SEGMENTATION } from './task-name';

export interface ClickCheckpoint {
  /** The network that made it (config.json's `network`). */
  readonly network: string;
  readonly inputSize: Grid;
  readonly preprocessing: ChannelStats;
  readonly encoding: ClickEncoding;
}

export interface ClickMask {
  /** 0/1 per pixel, row-major, at the image's size. */
  readonly mask: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** Reads and checks a click checkpoint's config.json; another network's checkpoint fails, naming both. */
export async function readClickCheckpoint(dir: string, displayName = dir): Promise<ClickCheckpoint> {
  const file = `${displayName}/config.json`;
  // The input size and the normalisation are read and checked as for any checkpoint.
  const checkpoint = await readInferenceCheckpoint({ dir, displayName });
  const { extra } = checkpoint.config;
  // Checkpoints from before the task layer recorded neither key; they are all U-Nets.
  const network = typeof extra.network === 'string' ? extra.network : 'unet';
  const task = typeof extra.task === 'string' ? extra.task : 'semantic_segmentation';
  if (task !== CLICK_SEGMENTATION) {
    throw modelError(
      `this checkpoint is a "${network}" network for ${task}; click segmentation needs a ${CLICK_SEGMENTATION} ` +
        'network (train one with "network": "clicks")',
      { file, field: 'task' },
    );
  }
  const encoding = extra.click_encoding as { radius?: unknown } | undefined;
  const radius = encoding?.radius;
  if (typeof radius !== 'number' || !Number.isFinite(radius) || radius <= 0) {
    throw modelError('expected {"radius": number > 0}', { file, field: 'click_encoding' });
  }
  // Click checkpoints always record their normalisation: none is assumed.
  const { stats } = checkpointPreprocessing(checkpoint, undefined, displayName);
  return { network, inputSize: checkpoint.inputSize, preprocessing: stats, encoding: { radius } };
}

/** Checks clicks against the image: inside it, at least one positive. Errors name the click. */
export function checkClicks(clicks: readonly Click[], image: Grid, file?: string): void {
  const where = file === undefined ? {} : { file };
  clicks.forEach((c, i) => {
    if (
      !Number.isFinite(c.x) ||
      !Number.isFinite(c.y) ||
      c.x < 0 ||
      c.y < 0 ||
      c.x >= image.width ||
      c.y >= image.height
    ) {
      throw dataError(
        `click ${i + 1} at (${c.x}, ${c.y}) is outside the image, which is ${image.width}x${image.height} ` +
          `(x from 0 to ${image.width - 1}, y from 0 to ${image.height - 1})`,
        { ...where, field: `clicks[${i}]` },
      );
    }
  });
  if (!clicks.some((c) => c.positive)) {
    throw dataError('no positive click: at least one click must be on the object (+)', {
      ...where,
      field: 'clicks',
    });
  }
}

export interface LoadClickOptions {
  /**
   * The declared inputs and outputs of the network of that name (the plugin registry's, which the task cannot
   * import): the checkpoint is checked against them and the network fed and read by these names.
   */
  readonly signatureOf: (network: string) => NetworkSignature;
  readonly engine?: EngineName;
  readonly displayName?: string;
  readonly threads?: number;
}

export class ClickSegmenter {
  private constructor(
    readonly checkpoint: ClickCheckpoint,
    readonly engine: SegmentationEngine,
    private readonly names: ClickTensorNames,
    private readonly release: () => void,
  ) {}

  /** Loads a click checkpoint folder (config.json, model.json, weights.bin) onto an engine. */
  static async load(dir: string, opts: LoadClickOptions): Promise<ClickSegmenter> {
    const displayName = opts.displayName ?? dir;
    const checkpoint = await readClickCheckpoint(dir, displayName);
    const signature = opts.signatureOf(checkpoint.network);
    const names = clickTensorNames({ name: checkpoint.network, ...signature });
    const { loadModelFromDir } = await import('../../network/io');
    const { chooseEngine } = await import('../../inference/engine/choose-engine');
    const model = await loadModelFromDir(dir);
    try {
      checkModelShapes(model, {
        inputSize: checkpoint.inputSize,
        expected: clickNetworkExpected(signature),
        file: `${displayName}/model.json`,
      });
    } catch (e) {
      model.dispose();
      throw e;
    }
    const choice = await chooseEngine({
      model,
      ...(opts.engine === undefined ? {} : { force: opts.engine }),
      ...(opts.threads === undefined ? {} : { intraOpNumThreads: opts.threads }),
      cuda: 'never',
      tensorNames: networkTensorNames(signature),
    });
    if (!choice.needsTfjsModel) model.dispose();
    return new ClickSegmenter(checkpoint, choice.engine, names, () => {
      if (choice.needsTfjsModel) model.dispose();
    });
  }

  /**
   * The object's mask from clicks in image pixels (and the previous mask, 0/1 at the image's size, when refining).
   * A click outside the image, no positive click or a previous mask of another size is a data error.
   */
  async segmentFromClicks(
    image: RgbRaster,
    clicks: readonly Click[],
    previousMask?: Uint8Array,
  ): Promise<ClickMask> {
    const size: Grid = { height: image.height, width: image.width };
    checkClicks(clicks, size);
    if (previousMask !== undefined && previousMask.length !== image.width * image.height) {
      throw dataError(
        `the previous mask has ${previousMask.length} pixels, the image ${image.width}x${image.height}`,
        { field: 'previousMask' },
      );
    }
    // Clicks on whole pixels; a click in the last pixel's right half stays in it.
    const pixelClicks = clicks.map((c) => ({
      x: Math.min(Math.round(c.x), image.width - 1),
      y: Math.min(Math.round(c.y), image.height - 1),
      positive: c.positive,
    }));
    const grid = this.checkpoint.inputSize;
    const same = image.width === grid.width && image.height === grid.height;
    const rgb = same
      ? image.data
      : await cropResizeRgb(
          image,
          { top: 0, left: 0, bottom: image.height - 1, right: image.width - 1 },
          grid,
        );
    const x = encodeClickInput({
      rgb,
      grid,
      preprocessing: this.checkpoint.preprocessing,
      clicks: pixelClicks.map((c) => scaleClick(c, size, grid)),
      previous: previousMask === undefined ? null : resizeNearest(previousMask, size, grid),
      encoding: this.checkpoint.encoding,
    });
    const scores = await clickScoreRunner(this.engine, this.names, grid)(x, 1);
    const raw = argmaxOfResized(scoreMap(grid.height, grid.width, 2, scores), size);
    const mask = keepClickedComponents(
      raw instanceof Uint8Array ? raw : Uint8Array.from(raw),
      pixelClicks,
      size,
    );
    return { mask, width: image.width, height: image.height };
  }

  async dispose(): Promise<void> {
    await this.engine.dispose();
    this.release();
  }
}
