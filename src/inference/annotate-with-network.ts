/**
 * One image through the network and the inference mode, to its annotation: what the inference task does for
 * each project item and what the model server does for each upload. The image comes through `decode`, so the
 * caller decides where it is read from (a project file, bytes of a request) and what its annotation says.
 */
import { TaskError, dataError } from '../errors';
import type { Annotation, ImageSize } from '../format/model';
import { cropResizeRgb, type RgbRaster } from '../image/crop-resize';
import type { DecodedImage } from '../image/decode';
import { normaliseRgbInto, type ChannelStats } from '../image/normalise';
import type { ModeConfig } from '../task/config-types';
import { annotateImage } from './annotate-image';
import { nativeWindow } from './native-window';
import type { MicroBatcher } from './batcher';
import type { InferenceCheckpoint } from './checkpoint';
import type { OutputMeta } from './output-meta';
import type { outClassMapping } from './predictions';
import type { Rect } from './rect';
import { rectSize } from './rect';
import { argmaxOfResized, resizeScores } from './score-resize';
import { scoreMap, type ClassIndexMask, type ScoreMap } from './stitch';

export interface ImageSource {
  /**
   * The image's annotation (its size and the labels the modes read, e.g. bboxes), given the decoded image: an
   * upload's is empty, at the size decoding found.
   */
  annotation(decoded: DecodedImage): Annotation;
  /** How the image is named in errors. */
  readonly display: string;
  /** Decodes the image, resized to `resize` when given (full_image needs it only at the network's size). */
  decode(resize?: ImageSize): Promise<DecodedImage>;
}

export interface AnnotateWithNetworkOptions {
  readonly source: ImageSource;
  readonly checkpoint: InferenceCheckpoint;
  readonly preprocessing: ChannelStats;
  readonly outputMeta: OutputMeta;
  readonly batcher: MicroBatcher;
  readonly mode: ModeConfig;
  readonly classMapping: ReturnType<typeof outClassMapping>;
  /** Crops per network call (sliding windows are stitched this many at a time). */
  readonly cropsPerCall: number;
  /** Class masks that nothing reads any more, shared by every image of the run (see `masksDone`). */
  readonly spareMasks: ClassIndexMask[];
}

const SPARE_MASKS = 8;

export async function annotateWithNetwork(opts: AnnotateWithNetworkOptions): Promise<Annotation> {
  const { source, checkpoint } = opts;
  const display = source.display;
  const { height, width } = checkpoint.inputSize;
  // full_image needs the image only at the network's size: decoding straight to it skips a full-size raster
  // and a second resize. It is also exactly what training feeds the network (the loader decodes with the same
  // `resize`; for JPEG, libvips may then shrink while decoding), so the input matches training at least as well.
  const resolution = checkpoint.resolution;
  const networkSizeOnly = opts.mode.name === 'full_image' && resolution.mode === 'fit';
  const decoded = await source.decode(networkSizeOnly ? checkpoint.inputSize : undefined);
  const image: RgbRaster = { data: decoded.data, width: decoded.width, height: decoded.height };
  const inputFor = (rect: Rect): Promise<Uint8Array> => {
    if (networkSizeOnly) {
      if (!isWholeImage(rect, decoded.sourceSize)) {
        throw new Error(`full_image asked for the crop ${JSON.stringify(rect)}, not the whole image`);
      }
      return Promise.resolve(decoded.data);
    }
    return cropResizeRgb(image, rect, checkpoint.inputSize);
  };
  /**
   * `use` applied to the network's scores for one crop, at the network's size. The scores are a view on the
   * batch's output that is reused once every image of the batch has had its `use`: `use` keeps nothing of it.
   */
  const withScores = async <T>(rect: Rect, use: (scores: ScoreMap) => T): Promise<T> => {
    const rgb = await inputFor(rect);
    if (rgb.length !== height * width * 3) {
      throw new RangeError(`a network input needs ${height * width * 3} values, got ${rgb.length}`);
    }
    // Normalised straight into the batch buffer when the batch is made: no float copy per image. `rgb` is this
    // crop's own (never reused), so it is still intact then.
    return opts.batcher.score(
      (x, offset) => normaliseRgbInto(rgb, x, offset, opts.preprocessing),
      (scores) => use(scoreMap(height, width, checkpoint.channels, scores)),
    );
  };
  // resizeScores always returns a map of its own (a copy at the same size).
  const scoreCrops = (crops: readonly Rect[]): Promise<ScoreMap[]> =>
    Promise.all(crops.map((rect) => withScores(rect, (scores) => resizeScores(scores, rectSize(rect)))));
  // Without saved scores only the class masks are needed: the argmax of the resized scores, exactly, without them.
  const maskCrops = (crops: readonly Rect[]): Promise<ClassIndexMask[]> =>
    Promise.all(
      crops.map((rect) =>
        withScores(rect, (scores) => argmaxOfResized(scores, rectSize(rect), opts.spareMasks.pop())),
      ),
    );
  try {
    const result = await annotateImage({
      maskCrops,
      // Image-sized masks are reused across images (hundreds of KB each, which V8 counts towards full
      // collections); a few are enough, as each is held only from its argmax to its labels.
      masksDone: (masks) => {
        for (const m of masks) if (opts.spareMasks.length < SPARE_MASKS) opts.spareMasks.push(m);
      },
      mode: opts.mode,
      annotation: source.annotation(decoded),
      outputMeta: opts.outputMeta,
      classMapping: opts.classMapping,
      scoreCrops,
      // Sliding windows are stitched this many at a time: enough to fill the network's batches.
      batchSize: opts.cropsPerCall,
      ...(resolution.mode === 'native'
        ? { regionWindow: nativeWindow(checkpoint.inputSize, resolution.scale) }
        : {}),
    });
    return result.annotation;
  } catch (e) {
    if (e instanceof TaskError) throw e.withContext({ file: display });
    throw dataError(`inference failed: ${(e as Error).message}`, { file: display }, e);
  }
}

function isWholeImage(rect: Rect, size: { height: number; width: number }): boolean {
  return (
    rect.top === 0 && rect.left === 0 && rect.bottom === size.height - 1 && rect.right === size.width - 1
  );
}
