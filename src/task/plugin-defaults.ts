/**
 * The network plugin's choices that the task layer needs before any tfjs code loads: its default inference
 * mode and its schema for `custom_model_config`. The entry points and `sly-nn validate-config` read them from
 * here, so a task and its dry-run validation agree. The plugin owner sets them (e.g. from plugin/unet).
 */

import type { ModeConfigInput } from './inference-config';
import type { JsonSchema } from './schema-defaults';

export interface PluginTaskDefaults {
  /** Used when the task names no mode, and as defaults for that same mode (spec F.3, G.3). */
  defaultModeConfig: ModeConfigInput;
  /** The JSON schema of `custom_model_config`; undefined accepts any object. */
  customModelSchema?: JsonSchema;
}

/** The stock UNet plugin's default mode (spec G.3): full image, model classes and tags suffixed "_unet". */
export const PLUGIN_TASK_DEFAULTS: PluginTaskDefaults = {
  defaultModeConfig: {
    name: 'full_image',
    model_classes: { save_classes: '__all__', add_suffix: '_unet' },
    model_tags: { save_classes: '__all__', add_suffix: '_unet' },
    save_probabilities: false,
  },
};
