import type { CliCommand } from '../command';
import { parseCommandArgs } from '../command';
import { packModelDir } from '../../model-state/tar';

export const packCommand: CliCommand = {
  name: 'pack',
  summary: 'Pack a checkpoint folder into a model tar (config.json and weights at the top level)',
  usage: 'sly-nn pack <dir> <file.tar> [--no-config-check]',
  help: [
    "Writes an uncompressed tar of the folder's contents, the layout Supervisely expects for a model (spec C.1).",
    'The tar is written to a temporary file first and renamed, so a failed pack leaves no partial file.',
    'What unpack would refuse is refused here, naming it: FIFOs, sockets and devices, and links that point',
    'outside the folder or to nothing (copy the file in instead of linking to it).',
    '',
    'Options:',
    '  --no-config-check  pack even if the folder has no config.json',
    '',
    'Example: sly-nn pack results/00000003 model.tar',
  ].join('\n'),
  async run(args, io) {
    const { positionals, flags } = parseCommandArgs(args, {
      positionals: ['dir', 'file.tar'],
      flags: ['no-config-check'],
    });
    const [dir, file] = positionals as [string, string];
    const result = await packModelDir({ dir, file, requireConfig: !flags['no-config-check'] });
    io.out(`Packed ${result.entries.length} entries (${result.bytes} bytes) into ${file}`);
    return 0;
  },
};
