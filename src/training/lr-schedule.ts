/**
 * The learning rate of each step (`lr_schedule` of the training config), from the global step (0-based: the
 * step about to run) and the planned steps (epochs x steps per epoch). `lr` is the peak:
 * - warmup: the first `warmup_steps` steps rise linearly from WARMUP_START x lr towards lr (never from 0:
 *   Adam's first steps would be wasted);
 * - then "constant": lr; "cosine": from lr down to min_lr_ratio x lr along half a cosine; "poly": from lr
 *   down to min_lr_ratio x lr along (1 - t)^power. t runs from 0 after the warmup to (n - 1) / n at the
 *   last step, so the floor is approached, not reached.
 * A pure function of the step: a resumed run continues the schedule from its global step.
 */
import type { LrScheduleConfig } from '../task/config-types';

/** Where the warmup starts, as a fraction of lr. */
export const WARMUP_START = 0.1;

/** No warmup, no decay: what a run did before schedules existed. */
export const CONSTANT_SCHEDULE: LrScheduleConfig = {
  name: 'constant',
  warmup_steps: 0,
  min_lr_ratio: 0,
  power: 0.9,
};

export function scheduledLearningRate(
  lr: number,
  schedule: LrScheduleConfig,
  step: number,
  totalSteps: number,
): number {
  const warmup = schedule.warmup_steps;
  if (step < warmup) return lr * (WARMUP_START + ((1 - WARMUP_START) * step) / warmup);
  if (schedule.name === 'constant') return lr;
  const t = Math.min(1, (step - warmup) / Math.max(1, totalSteps - warmup));
  const r = schedule.min_lr_ratio;
  // Written as the tracker's cosine always was (the same rounding: its rates do not move by an ulp).
  if (schedule.name === 'cosine') return lr * (r + (1 - r) * 0.5 * (1 + Math.cos(Math.PI * t)));
  return lr * (r + (1 - r) * Math.pow(1 - t, schedule.power));
}
