/**
 * `eval-davis`: the DAVIS 2017 semi-supervised evaluation of a results folder (index PNGs per frame), as the
 * official davis2017-evaluation computes it: J and F per object, mean, recall and decay, and J&F.
 */
import * as path from 'node:path';
import { type CliCommand, parseOptions, UsageError } from '../command';

export const evalDavisCommand: CliCommand = {
  name: 'eval-davis',
  summary:
    'Evaluate mask-tracking results on a DAVIS-layout data set: J, F and J&F, as the official code does',
  usage:
    'sly-nn eval-davis <results dir> <DAVIS root> [--set val] [--year 2017] [--resolution 480p] [--sequences a,b]',
  help: [
    'Results: <results dir>/<sequence>/<frame>.png, index PNGs (palette or 8-bit grey), the value an object id,',
    'one per annotated frame of <DAVIS root>/Annotations/<resolution>/<sequence>/. The sequences come from',
    '<DAVIS root>/ImageSets/<year>/<set>.txt, or every annotated sequence when that list is missing.',
    '',
    'As the official evaluation: objects are the ids of the first frame, void (255) is ignored, the first and the',
    'last frame do not count, F tolerates 0.008 of the image diagonal (evaluate at 480p), and the global figures',
    'average over all objects. Prints a table per object, writes global_results-<set>.csv and',
    'per-sequence_results-<set>.csv into the results folder, and prints one JSON line last.',
    '',
    'Example: sly-nn eval-davis results/davis-val DAVIS --set val',
  ].join('\n'),
  async run(args, io) {
    const parsed = parseOptions(
      args,
      {
        set: { type: 'string', default: 'val' },
        year: { type: 'string', default: '2017' },
        resolution: { type: 'string', default: '480p' },
        sequences: { type: 'string' },
      },
      true,
    );
    if (parsed.positionals.length !== 2) throw new UsageError('expected <results dir> <DAVIS root>');
    const [resultsDir, davisRoot] = parsed.positionals as [string, string];
    const v = parsed.values;
    const { evaluateDavis, davisCsv } = await import('../../tasks/video-tracking/davis-eval');
    const { writeFileAtomic } = await import('../../util/atomic');
    const f3 = (x: number): string => (Number.isNaN(x) ? '  nan' : x.toFixed(3));
    io.out('sequence                     object  J-Mean  F-Mean  J-Recall  F-Recall  J-Decay  F-Decay');
    const report = await evaluateDavis({
      resultsDir,
      davisRoot,
      set: v.set,
      year: v.year,
      resolution: v.resolution,
      ...(v.sequences === undefined ? {} : { sequences: v.sequences.split(',').filter((s) => s !== '') }),
      onSequence: (_sequence, objects) => {
        for (const o of objects) {
          io.out(
            `${o.sequence.padEnd(28)} ${String(o.object).padStart(6)}  ${f3(o.jStats.mean)}   ${f3(o.fStats.mean)}   ` +
              `${f3(o.jStats.recall)}     ${f3(o.fStats.recall)}     ${f3(o.jStats.decay)}    ${f3(o.fStats.decay)}`,
          );
        }
      },
    });
    const csv = davisCsv(report);
    await writeFileAtomic(path.join(resultsDir, `global_results-${v.set}.csv`), csv.global);
    await writeFileAtomic(path.join(resultsDir, `per-sequence_results-${v.set}.csv`), csv.perSequence);
    const g = report.global;
    io.out(
      `${report.sequences.length} sequences, ${report.objects.length} objects: J&F ${f3(g['J&F-Mean'])} ` +
        `(J ${f3(g['J-Mean'])}, F ${f3(g['F-Mean'])})`,
    );
    io.out(JSON.stringify({ sequences: report.sequences.length, objects: report.objects.length, ...g }));
    return 0;
  },
};
