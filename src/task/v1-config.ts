/**
 * The legacy "v1" inference task config (spec A.3; SDK `maybe_convert_from_v1_inference_task_config`), accepted
 * when the config has no `model` section:
 * - `mode` is taken from `raw.mode`, with `mode.source` renamed to `mode.name`;
 * - if `mode.model_classes` is missing it is taken from top-level `raw.model_classes` ({} if absent);
 * - `model` becomes every other top-level key except `mode` and `model_classes`.
 */

import type { JsonObject } from './update-recursively';
import { deepCopy, isJsonObject } from './update-recursively';

export function isV1InferenceConfig(raw: JsonObject): boolean {
  return !Object.prototype.hasOwnProperty.call(raw, 'model');
}

/** The v2 form {model, mode} of a v1 or v2 config; a v2 config is returned as a copy, unchanged. */
export function convertFromV1InferenceConfig(raw: JsonObject): JsonObject {
  if (!isV1InferenceConfig(raw)) return deepCopy(raw);
  const model: JsonObject = {};
  for (const [k, v] of Object.entries(raw)) {
    if (k !== 'mode' && k !== 'model_classes') {
      Object.defineProperty(model, k, {
        value: deepCopy(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  const rawMode = Object.prototype.hasOwnProperty.call(raw, 'mode') ? raw.mode : {};
  // Not an object: pass it on unchanged, so validation names it ("mode": expected an object).
  if (!isJsonObject(rawMode)) return { model, mode: deepCopy(rawMode) };
  const mode: JsonObject = deepCopy(rawMode);
  if (Object.prototype.hasOwnProperty.call(mode, 'source')) {
    mode.name = mode.source;
    delete mode.source;
  }
  if (!Object.prototype.hasOwnProperty.call(mode, 'model_classes')) {
    mode.model_classes = deepCopy(raw.model_classes ?? {});
  }
  return { model, mode };
}
