/**
 * `init-weights`: makes an initial model folder for a project (issue 6), to pack as a model-state tar and
 * upload, since a training task on the platform starts from a model. Random weights, or transferred from an
 * existing checkpoint of this plugin (every layer but the head kept).
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { network as unet } from '../../../plugin/unet';
import { initBackend } from '../../backend/select';
import { dataError } from '../../errors';
import { parseProjectMeta, objClassToJson } from '../../format/meta';
import { readJsonFile } from '../../task/json-file';
import { resolveTrainConfig } from '../../task/train-config';
import { initWeights, type InitWeightsResult } from '../../model-state/init-weights';

export const name = 'init-weights';
export const usage =
  'init-weights --project <project dir | meta.json> --out <model dir> [--config <file>] [--from <dir>]';
export const summary =
  'Make an initial model folder (random, or transferred from a checkpoint) for a project';
export const help = `Usage: sly-nn ${usage}

Builds the ${unet.name} network for the classes of a Supervisely project and writes <model dir> with
config.json (settings, out_classes, class_title_to_idx), model.json and weights.bin: a model ready to be packed
(sly-nn pack <model dir> model.tar) and uploaded to start trainings from.

  --project <path>  the project folder (its meta.json is read) or a meta.json file
  --out <dir>       the folder to create (must not exist, or be empty)
  --config <file>   a training config (JSON, as task_config.json): merged over the defaults and validated;
                    input_size, special_classes and custom_model_config shape the model, and the whole merged
                    config is stored as "settings". Without it, the defaults are used.
  --from <dir>      a checkpoint of this plugin (model.json + weights.bin): its weights are kept for every layer
                    but the head, which is freshly initialised for the project's classes (transfer learning)

Class indices follow the platform's rules: the background class at 0, the others in code-point order of their
titles, the neutral class left out. Random weights are for transfer learning only: upload them as such.`;

export interface InitWeightsIo {
  readonly out: (line: string) => void;
}

interface ParsedArgs {
  project: string;
  out: string;
  config?: string;
  from?: string;
}

function parse(args: readonly string[]): ParsedArgs | 'help' {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      project: { type: 'string' },
      out: { type: 'string' },
      config: { type: 'string' },
      from: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) return 'help';
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"\n\n${help}`);
  if (values.project === undefined || values.out === undefined) {
    throw new Error(`--project and --out are required\n\n${help}`);
  }
  return { project: values.project, out: values.out, config: values.config, from: values.from };
}

/** Runs the command; returns the exit code. Errors (TaskError naming the file and field) propagate to the CLI main. */
export async function run(
  args: readonly string[],
  io: InitWeightsIo = { out: (l) => console.log(l) },
): Promise<number> {
  const parsed = parse(args);
  if (parsed === 'help') {
    io.out(help);
    return 0;
  }
  const metaFile = parsed.project.endsWith('.json') ? parsed.project : path.join(parsed.project, 'meta.json');
  const meta = parseProjectMeta(await readJsonFile(metaFile, metaFile), { file: metaFile });
  if (meta.classes.length === 0) {
    throw dataError('the project has no classes to train a model for', { file: metaFile, field: 'classes' });
  }
  const rawConfig = parsed.config === undefined ? {} : await readJsonFile(parsed.config, parsed.config);
  const settings = resolveTrainConfig(rawConfig, {
    file: parsed.config ?? 'the default training config',
    customModelSchema: unet.settingsSchema,
  });
  // Building and saving is light work; wasm when available, else the cpu backend.
  await initBackend();
  const result = await initWeights({
    network: unet,
    settings,
    projectClasses: meta.classes.map(objClassToJson),
    from: parsed.from,
    outDir: parsed.out,
  });
  for (const line of describeResult(result)) io.out(line);
  return 0;
}

export function describeResult(r: InitWeightsResult): string[] {
  const lines = [
    `wrote ${r.dir} (${r.sizeb} bytes): config.json, model.json, weights.bin`,
    `  weights: ${r.init === 'random' ? 'random (for transfer learning only)' : 'transferred; fresh head'}` +
      (r.report.freshLayers.length > 0 && r.init !== 'random' ? ` (${r.report.freshLayers.join(', ')})` : ''),
    `  output classes: ${r.numClasses}; class_title_to_idx ${JSON.stringify(r.config.class_title_to_idx)}`,
    `  pack it with: sly-nn pack ${r.dir} model.tar`,
  ];
  return lines;
}
