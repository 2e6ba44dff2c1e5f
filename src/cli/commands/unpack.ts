import type { CliCommand } from '../command';
import { parseCommandArgs } from '../command';
import { unpackModelTar } from '../../model-state/tar';

export const unpackCommand: CliCommand = {
  name: 'unpack',
  summary: 'Unpack a model tar into a new folder, refusing unsafe archives',
  usage: 'sly-nn unpack <file.tar> <dir> [--replace] [--no-config-check]',
  help: [
    'Refuses absolute paths, "..", links leading outside the folder, devices, fifos and entries it does not',
    'write (GNU sparse files); says clearly when the tar is empty, truncated or not a tar. A model tar is uncompressed: a gzip, zstd, bzip2 or xz file is',
    'refused (unpack it with tar, then sly-nn pack the folder). Extracts into a temporary folder and renames it',
    'into place, so a failure leaves nothing half-written. <dir> must not exist or must be empty, unless',
    '--replace is given.',
    '',
    'Options:',
    '  --replace          replace <dir> if it exists and is not empty',
    '  --no-config-check  unpack even if the tar has no config.json at its top level',
    '',
    'Example: sly-nn unpack model.tar /sly_task_data/model',
  ].join('\n'),
  async run(args, io) {
    const { positionals, flags } = parseCommandArgs(args, {
      positionals: ['file.tar', 'dir'],
      flags: ['replace', 'no-config-check'],
    });
    const [file, dir] = positionals as [string, string];
    const result = await unpackModelTar({
      file,
      dir,
      replace: flags.replace,
      requireConfig: !flags['no-config-check'],
    });
    io.out(`Unpacked ${result.entries.length} entries into ${dir}`);
    return 0;
  },
};
