/**
 * `track`: follow the first frame's masks through the sequences of a DAVIS-layout data set and write one index
 * PNG a frame, in DAVIS layout, ready for `sly-nn eval-davis`. For now with the two baselines every tracker is
 * measured against; the trained tracker (issue 14) will plug in here.
 */
import { type CliCommand, parseOptions, UsageError } from '../command';

export const trackCommand: CliCommand = {
  name: 'track',
  summary: 'Track the first-frame masks of a DAVIS-layout data set through its frames (baselines for now)',
  usage:
    'sly-nn track --davis ROOT --out DIR --baseline copy|colour-nn [--set val] [--sequences a,b] [--chunk i/n]',
  help: [
    'Reads <ROOT>/JPEGImages/480p/<sequence>/ and the first frame of <ROOT>/Annotations/480p/<sequence>/, and',
    "writes <DIR>/<sequence>/<frame>.png (VOC palette, the first mask's ids), each sequence folder whole or not",
    'at all. The sequences come from <ROOT>/ImageSets/2017/<set>.txt, or every annotated sequence.',
    '',
    '  --baseline copy        the first mask on every frame',
    '  --baseline colour-nn   label propagation on raw colours from the first and the previous frame',
    '  --chunk i/n            every n-th sequence from the i-th (0 <= i < n): one share of a SLURM array or a',
    '                         Kubernetes Indexed Job (i = SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX)',
    '',
    'Example: sly-nn track --davis DAVIS --out results/copy --baseline copy && sly-nn eval-davis results/copy DAVIS',
  ].join('\n'),
  async run(args, io) {
    const v = parseOptions(args, {
      davis: { type: 'string' },
      out: { type: 'string' },
      baseline: { type: 'string' },
      set: { type: 'string', default: 'val' },
      sequences: { type: 'string' },
      chunk: { type: 'string' },
    }).values;
    if (v.davis === undefined || v.out === undefined) throw new UsageError('--davis and --out are required');
    const { BASELINES, makeBaseline } = await import('../../tasks/video-tracking/baselines');
    const baseline = BASELINES.find((b) => b === v.baseline);
    if (baseline === undefined) throw new UsageError(`--baseline must be one of: ${BASELINES.join(', ')}`);
    const { parseChunk, trackDavis } = await import('../../tasks/video-tracking/track-davis');
    let chunk;
    try {
      chunk = v.chunk === undefined ? undefined : parseChunk(v.chunk);
    } catch (e) {
      throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    const started = Date.now();
    let frames = 0;
    const done = await trackDavis({
      davisRoot: v.davis,
      outDir: v.out,
      set: v.set,
      makeTracker: async (first, mask) => makeBaseline(baseline, first, mask),
      ...(v.sequences === undefined ? {} : { sequences: v.sequences.split(',').filter((s) => s !== '') }),
      ...(chunk === undefined ? {} : { chunk }),
      onFrame: (sequence, frame, total) => {
        frames += 1;
        if (frame === total) io.out(`${sequence}: ${total} frames`);
      },
    });
    const seconds = (Date.now() - started) / 1000;
    io.out(
      `Tracked ${done.length} sequences, ${frames} frames in ${seconds.toFixed(1)} s (${(frames / seconds).toFixed(1)} fps) into ${v.out}`,
    );
    return 0;
  },
};
