/**
 * The network this image ships, chosen in one place. Only composition roots import this module (the entry
 * points and the CLI): below them the runtime sees a network only through src/network/types.ts. It imports
 * nothing that loads tfjs, so the entry points can read it before CUDA_VISIBLE_DEVICES is set.
 */
import { UNET_SETTINGS_SCHEMA } from '../plugin/unet/settings';
import { PLUGIN_TASK_DEFAULTS, type PluginTaskDefaults } from './task/plugin-defaults';

/** The plugin module to load with `loadNetworkPlugin` (a path, so worker threads can load it too). */
export const NETWORK_MODULE: string = require.resolve('../plugin/unet');

/** Task defaults with the network's `custom_model_config` schema, so configs are checked in full. */
export const TASK_DEFAULTS: PluginTaskDefaults = {
  ...PLUGIN_TASK_DEFAULTS,
  customModelSchema: UNET_SETTINGS_SCHEMA,
};
