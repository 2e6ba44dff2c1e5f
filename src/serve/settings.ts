/**
 * Inference settings of the semantic model (docs/supervisely-serving-api.md §1g): the SDK's generic keys
 * (`inference_mode`, `sliding_window_params`, `classes`) and our own `mode` (an inference mode config as the
 * inference task takes it: full_image, roi or sliding_window). Unknown keys are ignored, as the SDK's clients
 * send every scalar argument (`show_progress`, `conf`...) in the settings.
 */
import { TaskError } from '../errors';
import { effectiveModeConfig, validateModeConfig } from '../task/inference-config';
import type { ModeConfig } from '../task/config-types';
import { badRequest } from './http-error';
import { isObject } from './requests';

/** What get_custom_inference_settings returns: every key a client may send (SessionJSON checks them). */
export const DEFAULT_INFERENCE_SETTINGS = {
  inference_mode: 'full_image',
  sliding_window_params: {
    windowHeight: 256,
    windowWidth: 256,
    overlapY: 32,
    overlapX: 32,
    borderStrategy: 'shift_window',
  },
  classes: 'all',
  mode: null,
} as const;

/** The mode config a request's settings ask for (full_image when they name none); a bad one is a 400. */
export function modeFromSettings(settings: Record<string, unknown>): ModeConfig {
  let given: Record<string, unknown>;
  if (settings.mode !== undefined && settings.mode !== null) {
    if (!isObject(settings.mode)) throw badRequest('settings.mode must be an inference mode config object');
    given = settings.mode;
  } else if (settings.inference_mode === 'sliding_window') {
    const p = isObject(settings.sliding_window_params) ? settings.sliding_window_params : {};
    const d = DEFAULT_INFERENCE_SETTINGS.sliding_window_params;
    given = {
      name: 'sliding_window',
      window: { height: p.windowHeight ?? d.windowHeight, width: p.windowWidth ?? d.windowWidth },
      min_overlap: { y: p.overlapY ?? d.overlapY, x: p.overlapX ?? d.overlapX },
    };
  } else if (settings.inference_mode === undefined || settings.inference_mode === 'full_image') {
    given = { name: 'full_image' };
  } else {
    throw badRequest(
      `settings.inference_mode must be "full_image" or "sliding_window", got ${JSON.stringify(settings.inference_mode)}`,
    );
  }
  if (given.name === 'bboxes') {
    throw badRequest('settings.mode "bboxes" needs labels on the image; an upload has none');
  }
  try {
    return validateModeConfig(effectiveModeConfig(given as never, {}, { path: 'settings.mode' }), {
      path: 'settings.mode',
    });
  } catch (e) {
    if (e instanceof TaskError) throw badRequest(e.message);
    throw e;
  }
}
