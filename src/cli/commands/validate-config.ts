import type { CliCommand } from '../command';
import { UsageError, parseCommandArgs } from '../command';
import { configError } from '../../errors';
import { resolveInferenceConfig } from '../../task/inference-config';
import { customModelSchemaOf, DEFAULT_PLUGIN } from '../../plugins';
import { parseConfigObject } from '../../task/task-config';
import { resolveTrainConfig } from '../../task/train-config';
import { readRegularFile } from '../../util/regular-file';

export const validateConfigCommand: CliCommand = {
  name: 'validate-config',
  summary: 'Check a train or inference task config and print the full config it resolves to',
  usage: 'sly-nn validate-config train|inference <file> [--quiet]',
  help: [
    'Applies the same defaults, merging and checks as the task itself (spec E.2, F.3) without running it.',
    'Prints the full config as JSON on success; on a problem prints the field, what was expected and what was',
    'found, and exits 1.',
    '',
    'Options:',
    '  --quiet  print nothing on success',
    '',
    'Example: sly-nn validate-config train my_task_config.json',
  ].join('\n'),
  async run(args, io) {
    const { positionals, flags } = parseCommandArgs(args, {
      positionals: ['kind', 'file'],
      flags: ['quiet'],
    });
    const [kind, file] = positionals as [string, string];
    if (kind !== 'train' && kind !== 'inference') {
      throw new UsageError(`the first argument must be "train" or "inference", got "${kind}"`);
    }
    const text = await readRegularFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw configError(e.code === 'ENOENT' ? 'file not found' : `cannot read the file: ${e.message}`, {
        file,
      });
    });
    const raw = parseConfigObject(text, file);
    let full: unknown;
    if (kind === 'train') {
      full = resolveTrainConfig(raw, { file, customModelSchema: customModelSchemaOf });
    } else {
      const configs = resolveInferenceConfig(raw, {
        file,
        defaultModeConfig: DEFAULT_PLUGIN.defaultModeConfig,
      });
      full = { model: configs.modelConfig, mode: configs.modeConfig };
    }
    if (!flags.quiet) io.out(JSON.stringify(full, null, 2));
    return 0;
  },
};
