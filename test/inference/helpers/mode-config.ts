import type { ModeConfig, ModeName } from '../../../src/task/config-types';
import { effectiveModeConfig, validateModeConfig } from '../../../src/task/inference-config';

/**
 * A mode config as the task would deliver it: the given fields over the mode's built-in defaults, validated by
 * the mode's schema (src/task). Tests then read like the task config a user writes.
 */
export function modeConfig<N extends ModeName>(
  fields: { name: N } & Record<string, unknown>,
): Extract<ModeConfig, { name: N }> {
  return validateModeConfig(effectiveModeConfig(fields)) as Extract<ModeConfig, { name: N }>;
}
