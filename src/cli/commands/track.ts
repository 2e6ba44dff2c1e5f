/**
 * `track`: follow the first frame's masks through a video or a folder of frames (index PNGs a frame, and an
 * overlay video), or through the sequences of a DAVIS-layout data set (`--davis`, ready for `sly-nn
 * eval-davis`). For now with the two baselines every tracker is measured against; the trained tracker (issue
 * 14) plugs in as another TrackerFactory.
 */
import { parseShardSpec } from '../../task/shard';
import type { TrackerFactory } from '../../tasks/video-tracking/baselines';
import { type CliCommand, type CliIo, parseOptions, UsageError } from '../command';
import { unitProgress } from '../progress';

const OPTIONS = {
  davis: { type: 'string' },
  out: { type: 'string' },
  baseline: { type: 'string' },
  checkpoint: { type: 'string' },
  engine: { type: 'string' },
  set: { type: 'string' },
  sequences: { type: 'string' },
  chunk: { type: 'string' },
  'objects-appear-later': { type: 'boolean' },
  'per-object-png': { type: 'boolean' },
  mask: { type: 'string' },
  point: { type: 'string', multiple: true },
  'click-checkpoint': { type: 'string' },
  video: { type: 'string' },
  'side-by-side': { type: 'string' },
  'short-side': { type: 'string' },
  'adapt-steps': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseOptions<typeof OPTIONS>>['values'];

/** Progress lines: one a second, or one every this many frames when frames come faster. */
const PROGRESS_FRAMES = 50;
const PROGRESS_MS = 1000;

export const trackCommand: CliCommand = {
  name: 'track',
  summary: 'Track first-frame masks through a video, a folder of frames or a DAVIS-layout data set',
  usage: [
    'sly-nn track INPUT (--mask FIRST.png | --point x,y[,+|-] ... --click-checkpoint CLICKS) --out DIR',
    '                [--video OUT.mp4] [--side-by-side GT_DIR]',
    '                [--checkpoint CKPT [--engine onnxruntime|tfjs] [--adapt-steps N] | --baseline copy|colour-nn]',
    '                [--short-side N]',
    '       sly-nn track --davis ROOT --out DIR (--checkpoint CKPT | --baseline copy|colour-nn) [--set val]',
    '                [--sequences a,b] [--chunk i/n] [--objects-appear-later] [--per-object-png]',
  ].join('\n'),
  help: [
    'INPUT is a video file (read with ffmpeg) or a folder of .jpg/.png frames in name order. FIRST.png is the',
    "first frame's mask: an index PNG (palette or grey; ids 1..255 are objects, in any order, 0 background) of",
    "the frames' size. Writes DIR/00000.png, 00001.png, ... (VOC palette, the first mask's ids), the folder",
    'whole or not at all.',
    '',
    '  --point x,y[,+|-]      instead of --mask: clicks on the first frame (+ object, - not; repeat the option)',
    '                         turned into the first mask (id 1) by a click checkpoint, --click-checkpoint DIR',
    '                         (network "clicks"; see sly-nn segment)',
    '  --video OUT.mp4        also an H.264 mp4 of the masks blended over the frames',
    '  --side-by-side GT_DIR  the video shows frame | prediction | ground truth; GT_DIR holds one index PNG a',
    '                         frame, in name order',
    '  --short-side N         track at a short side of N pixels (faster), masks scaled back (nearest neighbour);',
    '                         the video is at that size',
    '  --checkpoint CKPT      a trained tracker (a checkpoint folder of network "tracker", e.g. results/00000003',
    "                         of a training task, or `npm run example -- --tracker`'s); tracks at the short",
    '                         side it was trained for (config.json tracker.short_side)',
    '  --engine onnxruntime   the checkpoint on onnxruntime (default; its encoder.onnx and decoder.onnx) or tfjs',
    "  --adapt-steps N        before each video, N training steps on its first frame's mask (test-time",
    '                         adaptation: better on objects only texture tells apart, seconds per video; 20 is',
    '                         a good start; default 0)',
    '  --baseline copy        the first mask on every frame',
    '  --baseline colour-nn   label propagation on raw colours from the first and the previous frame (default)',
    '',
    'With --davis: reads <ROOT>/JPEGImages/480p/<sequence>/ and the first frame of',
    "<ROOT>/Annotations/480p/<sequence>/, and writes <DIR>/<sequence>/<frame>.png (VOC palette, the first mask's",
    'ids), each sequence folder whole or not at all. The sequences come from <ROOT>/ImageSets/2017/<set>.txt, or',
    'every annotated sequence. --checkpoint or --baseline is required there.',
    '  --chunk i/n            every n-th sequence from the i-th (0 <= i < n): one share of a SLURM array or a',
    '                         Kubernetes Indexed Job (i = SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX)',
    "  --objects-appear-later a later frame's annotation PNG, when there is one, adds its new ids from there",
    '                         (YouTube-VOS style)',
    '  --per-object-png       also <DIR>/<sequence>/<id>/<frame>.png, 0/255, one per object',
    '',
    'Videos need ffmpeg and ffprobe (apt-get install -y ffmpeg; FFMPEG_PATH / FFPROBE_PATH override).',
    '',
    'Examples: sly-nn track clip.mp4 --mask first.png --out masks --video overlay.mp4 --short-side 240',
    '          sly-nn track --davis DAVIS --out results/copy --baseline copy && sly-nn eval-davis results/copy DAVIS',
  ].join('\n'),
  async run(args, io) {
    const parsed = parseOptions(args, OPTIONS, true);
    if (parsed.values.davis !== undefined) return trackDavisSet(parsed.values, parsed.positionals, io);
    return trackOne(parsed.values, parsed.positionals, io);
  },
};

interface ChosenTracker {
  make: TrackerFactory;
  close: () => Promise<void>;
}

/** The trained tracker of --checkpoint, or the baseline named by --baseline (`fallback` when neither). */
async function chooseTracker(v: Values, io: CliIo, fallback?: string): Promise<ChosenTracker> {
  if (v.checkpoint !== undefined) {
    if (v.baseline !== undefined) throw new UsageError('--checkpoint and --baseline exclude each other');
    const engine = v.engine ?? 'onnxruntime';
    if (engine !== 'onnxruntime' && engine !== 'tfjs') {
      throw new UsageError(`--engine must be onnxruntime or tfjs (got ${engine})`);
    }
    const adaptSteps = v['adapt-steps'] === undefined ? 0 : Number(v['adapt-steps']);
    if (!Number.isInteger(adaptSteps) || adaptSteps < 0) {
      throw new UsageError(`--adapt-steps must be a whole number of steps (got ${v['adapt-steps']})`);
    }
    const os = await import('node:os');
    const { openCheckpointTracker } = await import('../../tasks/video-tracking/adapt');
    const ort =
      engine === 'onnxruntime' ? await (await import('../../onnx/runtime')).loadOnnxRuntime() : undefined;
    return openCheckpointTracker(v.checkpoint, {
      engine,
      ...(ort !== undefined ? { ort } : {}),
      threads: os.cpus().length,
      adapt: {
        steps: adaptSteps,
        // Seconds before the first frame: say so, at most every 5 steps.
        onStep: (step, steps) => {
          if (step % 5 === 0 || step === steps) io.err(`adapting to the first frame: step ${step}/${steps}`);
        },
      },
    });
  }
  if (v.engine !== undefined) throw new UsageError('--engine goes with --checkpoint');
  if (v['adapt-steps'] !== undefined) throw new UsageError('--adapt-steps goes with --checkpoint');
  const { BASELINES, makeBaseline } = await import('../../tasks/video-tracking/baselines');
  const name = v.baseline ?? fallback;
  const baseline = BASELINES.find((b) => b === name);
  if (baseline === undefined) {
    throw new UsageError(`--checkpoint CKPT, or --baseline one of: ${BASELINES.join(', ')}`);
  }
  return { make: async (first, mask) => makeBaseline(baseline, first, mask), close: () => Promise.resolve() };
}

async function trackOne(v: Values, positionals: string[], io: CliIo): Promise<number> {
  if (positionals.length !== 1) {
    throw new UsageError(
      `expected one INPUT (a video file or a folder of frames), got ${positionals.length}`,
    );
  }
  const davisOnly = (['set', 'sequences', 'chunk', 'objects-appear-later', 'per-object-png'] as const).filter(
    (k) => v[k] !== undefined,
  );
  if (davisOnly.length > 0) throw new UsageError(`--${davisOnly[0]} goes with --davis`);
  if (v.out === undefined) throw new UsageError('--out is required');
  if ((v.mask === undefined) === (v.point === undefined)) {
    throw new UsageError(
      "give the first frame's mask (--mask FIRST.png) or clicks on it (--point x,y ...), one of them",
    );
  }
  if (v.point !== undefined && v['click-checkpoint'] === undefined) {
    throw new UsageError(
      '--point needs --click-checkpoint DIR: a checkpoint of network "clicks" turns clicks into a mask',
    );
  }
  if (v['side-by-side'] !== undefined && v.video === undefined) {
    throw new UsageError('--side-by-side needs --video OUT.mp4: it is the video that shows the three panels');
  }
  let shortSide: number | undefined;
  if (v['short-side'] !== undefined) {
    shortSide = Number(v['short-side']);
    if (!Number.isInteger(shortSide) || shortSide < 2) {
      throw new UsageError(
        `--short-side must be a whole number of pixels, at least 2 (got ${v['short-side']})`,
      );
    }
  }
  const clicked =
    v.point === undefined
      ? undefined
      : await maskFromClicks(positionals[0], v.point, v['click-checkpoint'] as string, io);
  const tracker = await chooseTracker(v, io, 'colour-nn');
  const makeTracker = tracker.make;
  const { trackVideo } = await import('../../tasks/video-tracking/track-video');
  const started = Date.now();
  let shown = { at: started, frames: 0 };
  const fps = (frames: number, now: number): number => frames / Math.max(1e-3, (now - started) / 1000);
  let result;
  try {
    result = await trackVideo({
      input: positionals[0],
      firstMaskFile: clicked ?? (v.mask as string),
      outDir: v.out,
      ...(v.video === undefined ? {} : { videoOut: v.video }),
      ...(v['side-by-side'] === undefined ? {} : { sideBySideDir: v['side-by-side'] }),
      ...(shortSide === undefined ? {} : { shortSide }),
      makeTracker,
      onFrame: (done, total) => {
        const now = Date.now();
        if (done - shown.frames < PROGRESS_FRAMES && now - shown.at < PROGRESS_MS) return;
        shown = { at: now, frames: done };
        io.out(unitProgress({ unit: 'frame', done, total, seconds: (now - started) / 1000 }));
      },
    });
  } finally {
    await tracker.close();
  }
  const { frames, size, trackedSize } = result;
  const at =
    size.width === trackedSize.width ? '' : ` (tracked at ${trackedSize.width}x${trackedSize.height})`;
  io.out(
    `Tracked ${frames} frames of ${size.width}x${size.height}${at} in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
      `(${fps(frames, Date.now()).toFixed(1)} fps): masks in ${v.out}${v.video === undefined ? '' : `, video ${v.video}`}`,
  );
  return 0;
}

async function trackDavisSet(v: Values, positionals: string[], io: CliIo): Promise<number> {
  if (positionals.length > 0) throw new UsageError('--davis takes no INPUT: the sequences are its own');
  const videoOnly = (['mask', 'video', 'side-by-side', 'short-side'] as const).filter(
    (k) => v[k] !== undefined,
  );
  if (videoOnly.length > 0) throw new UsageError(`--${videoOnly[0]} is for one video, not --davis`);
  if (v.davis === undefined || v.out === undefined) throw new UsageError('--davis and --out are required');
  const { trackDavis } = await import('../../tasks/video-tracking/track-davis');
  let chunk;
  try {
    chunk = v.chunk === undefined ? undefined : parseShardSpec(v.chunk, '--chunk');
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const started = Date.now();
  let frames = 0;
  const tracker = await chooseTracker(v, io);
  let done;
  try {
    done = await trackDavis({
      davisRoot: v.davis,
      outDir: v.out,
      set: v.set ?? 'val',
      makeTracker: tracker.make,
      ...(v.sequences === undefined ? {} : { sequences: v.sequences.split(',').filter((s) => s !== '') }),
      ...(chunk === undefined ? {} : { chunk }),
      objectsAppearLater: v['objects-appear-later'] === true,
      perObjectPng: v['per-object-png'] === true,
      onFrame: (sequence, frame, total) => {
        frames += 1;
        if (frame === total) io.out(`${sequence}: ${total} frames`);
      },
    });
  } finally {
    await tracker.close();
  }
  const seconds = (Date.now() - started) / 1000;
  io.out(
    `Tracked ${done.length} sequences, ${frames} frames in ${seconds.toFixed(1)} s (${(frames / seconds).toFixed(1)} fps) into ${v.out}`,
  );
  return 0;
}

/**
 * The first frame's mask from clicks: the first frame is read (full size) and the click checkpoint segments the
 * object; the mask (id 1) goes to trackVideo as a given mask would.
 */
async function maskFromClicks(
  input: string,
  points: readonly string[],
  checkpoint: string,
  io: CliIo,
): Promise<{ name: string; mask: { width: number; height: number; data: Uint8Array } }> {
  const { parsePoint } = await import('./segment');
  const clicks = points.map(parsePoint);
  const { openFrameSource } = await import('../../video/source');
  const source = await openFrameSource(input);
  let first;
  for await (const frame of source.read()) {
    first = frame;
    break;
  }
  if (first === undefined) throw new UsageError(`${input} has no frames`);
  const { initBackend } = await import('../../backend/select');
  await initBackend();
  const { ClickSegmenter } = await import('../../tasks/click-segmentation/segment');
  const { networkSignature } = await import('../../plugins');
  const segmenter = await ClickSegmenter.load(checkpoint, { signatureOf: networkSignature });
  let mask;
  try {
    mask = await segmenter.segmentFromClicks(
      { data: first.rgb, width: first.width, height: first.height },
      clicks,
    );
  } finally {
    await segmenter.dispose();
  }
  const area = mask.mask.reduce((a, v) => a + v, 0);
  io.out(`first mask from ${clicks.length} click(s): ${area} pixels`);
  return {
    name: `the mask from --point on the first frame of ${input}`,
    mask: { width: mask.width, height: mask.height, data: mask.mask },
  };
}
