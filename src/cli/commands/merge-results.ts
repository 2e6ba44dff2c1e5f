/**
 * `merge-results --out DIR PART...`: joins the parts of a sharded inference (results/<project>.shard-<i>-of-<n>/)
 * into one results project, the one a single run would have written (src/inference/merge-results.ts).
 */
import { type CliCommand, parseOptions, UsageError } from '../command';

export const mergeResultsCommand: CliCommand = {
  name: 'merge-results',
  summary: 'Join the parts of a sharded inference into one results project',
  usage: 'sly-nn merge-results --out DIR PART... (or a folder holding the parts)',
  help: [
    'Each shard of a sharded inference (--shard i/n, SLY_SHARD, a Kubernetes Indexed Job or a SLURM array; see',
    'the README) writes its part, results/<project>.shard-<i>-of-<n>/. This writes the merged project to',
    'DIR/<project>/, byte for byte what one run over the whole project writes, through a temporary folder that',
    'is renamed when complete. Images and annotations are hard-linked from the parts where possible.',
    '',
    '  --out DIR   the results folder the merged project goes into (created if missing)',
    '  PART...     part folders, or folders holding them (hidden folders are skipped)',
    '',
    'It refuses, writing nothing, when a part is missing or given twice, when the parts differ in shard count,',
    'project, model files, mode config or results meta, and when an item is missing, doubled or not its own.',
    '',
    'Example: sly-nn merge-results --out /sly_task_data/results /sly_task_data/results',
  ].join('\n'),
  async run(args, io) {
    const { values, positionals } = parseOptions(args, { out: { type: 'string' } }, true);
    if (values.out === undefined) throw new UsageError('--out DIR is required');
    if (positionals.length === 0) throw new UsageError('name the parts, or a folder holding them');
    const { mergeResults } = await import('../../inference/merge-results');
    const r = await mergeResults({ parts: positionals, out: values.out });
    io.out(
      `Merged ${r.shards} parts of "${r.project}": ${r.items} items in ${r.datasets} datasets, into ` +
        `${r.resultsDir}${r.copied > 0 ? ` (${r.copied} files copied: no hard link possible)` : ''}`,
    );
    return 0;
  },
};
