/**
 * `segment`: click-prompted segmentation of one image with a click checkpoint (network `clicks`): positive and
 * negative clicks in image pixels give the object's mask, a grey PNG of the image's size (255 = object).
 */
import { TaskError } from '../../errors';
import { type EngineName, parseEngineChoice } from '../../inference/engine/types';
import type { Click } from '../../tasks/click-segmentation/clicks';
import { type CliCommand, type CliIo, parseOptions, UsageError } from '../command';

interface SegmentArgs {
  checkpoint: string;
  image: string;
  points: Click[];
  out: string;
  overlay?: string;
  previousMask?: string;
  engine?: EngineName;
}

/** "x,y", "x,y,+" or "x,y,-" in image pixels; `+` when the sign is left out. */
export function parsePoint(text: string): Click {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*(?:,\s*([+-]))?\s*$/.exec(text);
  if (m === null)
    throw new UsageError(`--point "${text}": expected x,y or x,y,+ or x,y,- (pixels of the image)`);
  return { x: Number(m[1]), y: Number(m[2]), positive: m[3] !== '-' };
}

/** The arguments of `segment`; a deprecated `--engine` name works and is a line on stderr (`io.err`). */
export function parseSegmentArgs(args: readonly string[], io: Pick<CliIo, 'err'>): SegmentArgs {
  const v = parseOptions(args, {
    checkpoint: { type: 'string' },
    image: { type: 'string' },
    point: { type: 'string', multiple: true },
    out: { type: 'string' },
    overlay: { type: 'string' },
    'previous-mask': { type: 'string' },
    engine: { type: 'string' },
  }).values;
  if (v.checkpoint === undefined || v.image === undefined || v.out === undefined) {
    throw new UsageError('--checkpoint, --image and --out are required');
  }
  if (v.point === undefined || v.point.length === 0) throw new UsageError('give at least one --point x,y');
  const engine = v.engine === undefined ? undefined : engineOption(v.engine, io);
  return {
    checkpoint: v.checkpoint,
    image: v.image,
    points: v.point.map(parsePoint),
    out: v.out,
    overlay: v.overlay,
    previousMask: v['previous-mask'],
    engine,
  };
}

/** `--engine`'s value; a deprecated name (`onnx`) works and is a line on stderr. */
function engineOption(value: string, io: Pick<CliIo, 'err'>): EngineName {
  let engine: EngineName | undefined;
  try {
    engine = parseEngineChoice(value, {
      field: '--engine',
      onDeprecated: (given, use) => io.err(`--engine ${given} is deprecated; use --engine ${use}`),
    });
  } catch (e) {
    if (!(e instanceof TaskError)) throw e;
  }
  if (engine === undefined) throw new UsageError(`--engine must be onnxruntime or tfjs, got "${value}"`);
  return engine;
}

export const segmentCommand: CliCommand = {
  name: 'segment',
  summary: 'Segment an object from clicks with a click checkpoint; write its mask (and an overlay) as PNG',
  usage:
    'sly-nn segment --checkpoint DIR --image FILE --point x,y[,+|-] [--point ...] --out mask.png ' +
    '[--overlay overlay.png] [--previous-mask mask.png] [--engine onnxruntime|tfjs]',
  help: [
    'Runs a checkpoint trained with "network": "clicks" on one image (JPEG, PNG, WebP, BMP).',
    '',
    '  --point x,y[,+|-]   a click in image pixels (x from the left, y from the top); + on the object (the',
    '                      default), - on what is not the object. Repeat it; at least one must be positive.',
    '  --out FILE          the mask: a grey PNG of the image size, 255 on the object and 0 elsewhere',
    '  --overlay FILE      the image with the object tinted and outlined and the clicks marked',
    '  --previous-mask F   a mask from an earlier call (grey PNG of the image size), to refine it with more clicks',
    '  --engine E          onnxruntime (default when onnxruntime-node loads) or tfjs (onnx: the old name)',
    '',
    'Example: sly-nn segment --checkpoint results/00000005 --image car.jpg --point 320,240 --point 40,400,- \\',
    '           --out car-mask.png --overlay car-overlay.png',
  ].join('\n'),
  async run(args, io) {
    const opts = parseSegmentArgs(args, io);
    // tfjs, sharp and onnxruntime load only here, so `sly-nn --help` and the other commands start fast.
    const { decodeImage } = await import('../../image/decode');
    const { checkClicks, ClickSegmenter } = await import('../../tasks/click-segmentation/segment');
    const { readPreviousMask } = await import('../../tasks/click-segmentation/previous-mask');
    const { writeMaskPng, writeOverlayPng } = await import('../../tasks/click-segmentation/render');
    const { initBackend } = await import('../../backend/select');
    const image = await decodeImage(opts.image, { displayName: opts.image });
    // Bad clicks fail before the model loads.
    checkClicks(opts.points, image, opts.image);
    const previous =
      opts.previousMask === undefined ? undefined : await readPreviousMask(opts.previousMask, image);
    await initBackend();
    const { networkSignature } = await import('../../plugins');
    const segmenter = await ClickSegmenter.load(opts.checkpoint, {
      signatureOf: networkSignature,
      ...(opts.engine === undefined ? {} : { engine: opts.engine }),
    });
    try {
      const started = performance.now();
      const result = await segmenter.segmentFromClicks(image, opts.points, previous);
      const ms = performance.now() - started;
      await writeMaskPng(opts.out, result);
      let area = 0;
      for (const v of result.mask) area += v;
      io.out(
        `Wrote ${opts.out}: ${result.width}x${result.height}, object ${area} px ` +
          `(${((100 * area) / result.mask.length).toFixed(1)}%), ${opts.points.length} clicks, ` +
          `${ms.toFixed(0)} ms on ${segmenter.engine.description}`,
      );
      if (opts.overlay !== undefined) {
        await writeOverlayPng(opts.overlay, image, result, opts.points);
        io.out(`Wrote ${opts.overlay}`);
      }
    } finally {
      await segmenter.dispose();
    }
    return 0;
  },
};
