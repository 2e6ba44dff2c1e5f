/**
 * `init-weights`: makes an initial model folder for a project (issue 6), to pack as a model-state tar and
 * upload, since a training task on the platform starts from a model. Random weights, or transferred from an
 * existing checkpoint of this plugin (every layer but the head kept).
 */
import * as path from 'node:path';
import { configError, dataError } from '../../errors';
import { objClassToJson, parseProjectMeta } from '../../format/meta';
import type { InitWeightsResult } from '../../model-state/init-weights';
import { customModelSchemaOf, findPlugin } from '../../plugins';
import { packModelDir } from '../../model-state/tar';
import { readJsonFile } from '../../task/json-file';
import { resolveTrainConfig } from '../../task/train-config';
import { type CliCommand, parseOptions, UsageError } from '../command';

interface InitWeightsArgs {
  project: string;
  out: string;
  config?: string;
  from?: string;
  tar?: string;
}

function parseInitWeightsArgs(args: readonly string[]): InitWeightsArgs {
  const { values, positionals } = parseOptions(
    args,
    {
      project: { type: 'string' },
      out: { type: 'string' },
      config: { type: 'string' },
      from: { type: 'string' },
      tar: { type: 'string' },
    },
    true,
  );
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (values.project === undefined || values.out === undefined) {
    throw new UsageError('--project and --out are required');
  }
  return {
    project: values.project,
    out: values.out,
    config: values.config,
    from: values.from,
    tar: values.tar,
  };
}

export function describeInitWeights(r: InitWeightsResult): string[] {
  const weights =
    r.init === 'random'
      ? 'random (upload as "for transfer learning only")'
      : `transferred from the checkpoint; fresh ${r.report.freshLayers.join(', ')}`;
  return [
    `Wrote ${r.dir} (${r.sizeb} bytes): config.json, model.json, weights.bin`,
    `  weights: ${weights}`,
    `  output classes: ${r.numClasses}; class_title_to_idx ${JSON.stringify(r.config.class_title_to_idx)}`,
  ];
}

export const initWeightsCommand: CliCommand = {
  name: 'init-weights',
  summary: 'Make an initial model for a project: random weights, or transferred from a checkpoint',
  usage:
    'sly-nn init-weights --project <dir | meta.json> --out <dir> [--config <file>] [--from <dir>] [--tar <file>]',
  help: [
    "Builds this image's network for the classes of a Supervisely project and writes a model folder with",
    'config.json (settings, out_classes, class_title_to_idx), model.json and weights.bin (spec C): a model to',
    'upload and start trainings from.',
    '',
    'Options:',
    '  --project <path>  the project folder (its meta.json is read) or a meta.json file',
    '  --out <dir>       the model folder to create (must not exist, or be empty)',
    '  --config <file>   a training config (JSON, like task_config.json), merged over the defaults and',
    '                    validated; input_size, special_classes and custom_model_config shape the model, and the',
    '                    whole merged config is stored as "settings". Without it, the defaults are used.',
    '  --from <dir>      a checkpoint of this plugin (model.json + weights.bin): every layer but the head keeps',
    "                    its weights; the head is new, for the project's classes (transfer learning)",
    '  --tar <file>      also pack the folder into a model tar (config.json and weights at the top level)',
    '',
    'Class indices follow the platform (spec E.3): the background class at 0, the others in code-point order',
    'of their titles, the neutral class left out. Random weights are for transfer learning only.',
    '',
    'Example: sly-nn init-weights --project ./my_project --config train.json --out ./unet-init --tar unet-init.tar',
  ].join('\n'),
  async run(args, io) {
    const opts = parseInitWeightsArgs(args);
    const metaFile = opts.project.endsWith('.json') ? opts.project : path.join(opts.project, 'meta.json');
    const meta = parseProjectMeta(await readJsonFile(metaFile, metaFile), { file: metaFile });
    if (meta.classes.length === 0) {
      throw dataError('the project has no classes to train a model for', {
        file: metaFile,
        field: 'classes',
      });
    }
    const rawConfig = opts.config === undefined ? {} : await readJsonFile(opts.config, opts.config);
    const configFile = opts.config ?? 'the default training config';
    const settings = resolveTrainConfig(rawConfig, {
      file: configFile,
      customModelSchema: customModelSchemaOf,
    });
    const plugin = findPlugin(settings.network, { file: configFile, field: 'network' });
    if (plugin.task !== 'semantic_segmentation') {
      // Its classes come from the project's classes: other tasks start from scratch (an empty model/).
      throw configError(
        `init-weights makes models for semantic segmentation networks; "${plugin.name}" is a ${plugin.task} ` +
          'network: train it from scratch with an empty model folder',
        { file: configFile, field: 'network' },
      );
    }
    // tfjs loads only here, so `sly-nn --help` and the other commands start fast.
    const { initBackend } = await import('../../backend/select');
    const { loadNetworkPlugin } = await import('../../network/load-plugin');
    const { initWeights } = await import('../../model-state/init-weights');
    // Building and saving is light work: whichever backend starts (wasm here, else the cpu backend).
    await initBackend();
    const result = await initWeights({
      network: loadNetworkPlugin(plugin.module),
      settings,
      projectClasses: meta.classes.map(objClassToJson),
      from: opts.from,
      outDir: opts.out,
    });
    for (const line of describeInitWeights(result)) io.out(line);
    if (opts.tar !== undefined) {
      const packed = await packModelDir({ dir: result.dir, file: opts.tar });
      io.out(`Packed ${packed.entries.length} entries (${packed.bytes} bytes) into ${opts.tar}`);
    } else {
      io.out(`  pack it with: sly-nn pack ${result.dir} model.tar`);
    }
    return 0;
  },
};
