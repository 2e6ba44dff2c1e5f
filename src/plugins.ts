/**
 * The network plugins this image ships, by name: the one module that names concrete networks. Only composition
 * roots import it (the entry points, the CLI, the example, benchmarks and tests); below them the runtime sees a
 * network through src/network/types.ts and a task through src/training/task.ts. It loads no tfjs (module paths
 * and JSON schemas only), so the entry points can read it before CUDA_VISIBLE_DEVICES is set.
 *
 * To add a network: a folder under plugin/ exporting `network` (a SegmentationNetwork), one entry here.
 */
import { configError } from './errors';
import CLICKS_SETTINGS_SCHEMA from '../plugin/clicks/settings.schema.json';
import { CLICKS_SIGNATURE } from '../plugin/clicks/signature';
import TRACKER_SETTINGS_SCHEMA from '../plugin/tracker/settings.schema.json';
import { UNET_DEFAULT_MODE } from '../plugin/unet/mode';
import { IMAGENET_PREPROCESSING } from '../plugin/unet/preprocessing';
import type { ChannelStats } from './image/normalise';
import { IMAGE_INPUT, SCORES_OUTPUT, type NetworkSignature } from './network/types';
import { UNET_SETTINGS_SCHEMA } from '../plugin/unet/settings';
import type { ModeConfigInput } from './task/inference-config';
import type { JsonSchema } from './task/schema-defaults';
import type { JsonObject } from './task/update-recursively';

export interface PluginEntry {
  /** `network` in the training config and in a checkpoint's config.json. */
  readonly name: string;
  /** The task it is built for (src/tasks). */
  readonly task: string;
  /** The module to load with `loadNetworkPlugin` (a path, so worker threads can load it too). */
  readonly module: string;
  /** The JSON schema of its `custom_model_config`. */
  readonly settingsSchema: JsonSchema;
  /**
   * What an image network's model takes and gives (its module's `inputs` and `outputs`), known without loading
   * the module: inference checks a checkpoint against it and feeds the network by these names.
   */
  readonly signature?: NetworkSignature;
  /** Inference through inference.py: the default mode (spec F.3, G.3); only networks the agent applies have it. */
  readonly defaultModeConfig?: ModeConfigInput;
  /** The input normalisation of this network's checkpoints from before checkpoints recorded it. */
  readonly legacyPreprocessing?: ChannelStats;
}

export const DEFAULT_NETWORK = 'unet';

export const PLUGINS: readonly PluginEntry[] = [
  {
    name: 'unet',
    task: 'semantic_segmentation',
    module: require.resolve('../plugin/unet'),
    settingsSchema: UNET_SETTINGS_SCHEMA,
    signature: { inputs: IMAGE_INPUT, outputs: SCORES_OUTPUT },
    defaultModeConfig: UNET_DEFAULT_MODE,
    legacyPreprocessing: IMAGENET_PREPROCESSING,
  },
  {
    name: 'clicks',
    task: 'click_segmentation',
    module: require.resolve('../plugin/clicks'),
    settingsSchema: CLICKS_SETTINGS_SCHEMA,
    signature: CLICKS_SIGNATURE,
  },
  {
    name: 'tracker',
    task: 'video_tracking',
    module: require.resolve('../plugin/tracker'),
    settingsSchema: TRACKER_SETTINGS_SCHEMA,
  },
];

/** The registered plugins, as an error message lists them. */
export function pluginList(): string {
  return PLUGINS.map((p) => `${p.name} (${p.task})`).join(', ');
}

/** The plugin of that name; an unknown name is a config error listing every registered plugin. */
export function findPlugin(name: unknown, where: { file?: string; field: string }): PluginEntry {
  const hit = PLUGINS.find((p) => p.name === name);
  if (hit === undefined) {
    throw configError(
      `unknown network ${JSON.stringify(name)}; the registered networks are: ${pluginList()}`,
      where,
    );
  }
  return hit;
}

/** The plugin a task config names (its `network`, `unet` when absent). */
export function pluginOfTrainConfig(taskConfig: JsonObject, file = 'task_config.json'): PluginEntry {
  return findPlugin(taskConfig.network ?? DEFAULT_NETWORK, { file, field: 'network' });
}

/** For loadTrainConfig / resolveTrainConfig: the named plugin's `custom_model_config` schema. */
export const customModelSchemaOf = (taskConfig: JsonObject): JsonSchema =>
  pluginOfTrainConfig(taskConfig).settingsSchema;

/** The plugin that made a checkpoint (config.json's `network`; `unet` for checkpoints that predate it). */
export function pluginOfCheckpoint(extra: Readonly<Record<string, unknown>>, file: string): PluginEntry {
  return findPlugin(extra.network ?? DEFAULT_NETWORK, { file, field: 'network' });
}

/** The signature of the image network of that name (see PluginEntry.signature); a model error otherwise. */
export function networkSignature(name: string): NetworkSignature {
  const plugin = findPlugin(name, { field: 'network' });
  if (plugin.signature === undefined) {
    throw configError(`the "${name}" network (task ${plugin.task}) is not an image network`, {
      field: 'network',
    });
  }
  return plugin.signature;
}

/** The default plugin (`unet`), what earlier versions always used. */
export const DEFAULT_PLUGIN: PluginEntry = findPlugin(DEFAULT_NETWORK, { field: 'network' });
