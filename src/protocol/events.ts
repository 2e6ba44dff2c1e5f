/**
 * The event lines a train/inference plugin prints (spec D.5), each at level info so the server sees it (D.2).
 * The field names and message strings are the SDK's, byte for byte.
 */

import { eventTypeString } from './event-types';
import type { Logger } from './logger';

export interface ProgressReport {
  /** The bar's title, kept verbatim (trailing spaces and colons included), e.g. "Model training: ". */
  subtask: string;
  current: number;
  /** 0 or unknown: the SDK then sends total = current. */
  total: number;
  /** Seconds since the bar started. */
  elapsedSeconds?: number;
  /** Seconds left at the rate so far (wall clock: pauses such as validation count). */
  etaSeconds?: number;
}

export function reportProgress(logger: Logger, report: ProgressReport): void {
  const current = Math.ceil(report.current);
  const total = report.total > 0 ? Math.ceil(report.total) : current;
  logger.info('progress', {
    event_type: eventTypeString('PROGRESS'),
    subtask: report.subtask,
    current,
    total,
    // Ours, beside the SDK's keys (the agent forwards them as they are): time so far and the time left.
    ...(report.elapsedSeconds !== undefined ? { elapsed_s: round1(report.elapsedSeconds) } : {}),
    ...(report.etaSeconds !== undefined ? { eta_s: round1(report.etaSeconds) } : {}),
  });
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

export type MetricsType = 'train' | 'val';

export interface MetricsReport {
  type: MetricsType;
  /** Fractional epochs since 0: epoch + iteration / iterations (spec E.7). */
  epoch: number;
  /** Plain numbers; non-finite values are written as null (spec H.5.12). */
  metrics: Readonly<Record<string, number | null>>;
}

export function reportMetrics(logger: Logger, report: MetricsReport): void {
  logger.info('metrics', {
    event_type: eventTypeString('METRICS'),
    type: report.type,
    epoch: report.epoch,
    metrics: { ...report.metrics },
  });
}

export interface CheckpointReport {
  /** 0, 1, 2, … one per saved checkpoint. */
  id: number;
  /** Relative to the results folder, 8 digits (spec A.5, D.5): see checkpointSubdir. */
  subdir: string;
  /** Total bytes of the checkpoint folder. */
  sizeb: number;
  bestNow: boolean;
  /** Anything JSON; the SDK sends {epoch, val_metrics}. */
  optional?: unknown;
}

const SUBDIR_PATTERN = /^[0-9]{8}$/;

/** "00000000", "00000001", … (spec E.6). */
export function checkpointSubdir(id: number): string {
  if (!Number.isSafeInteger(id) || id < 0 || id > 99_999_999) {
    throw new RangeError(`checkpoint id must be an integer in [0, 99999999], got ${id}`);
  }
  return String(id).padStart(8, '0');
}

/**
 * Print CHECKPOINT. Call it only once the folder is complete on disk: the agent copies it as it is at that
 * moment (spec D.6). A malformed report is a programming error and throws before anything is printed.
 */
export function reportCheckpoint(logger: Logger, report: CheckpointReport): void {
  if (!SUBDIR_PATTERN.test(report.subdir)) {
    throw new Error(
      `checkpoint subdir must be 8 digits relative to the results folder, got "${report.subdir}"`,
    );
  }
  if (!Number.isSafeInteger(report.id) || report.id < 0) {
    throw new Error(`checkpoint id must be a non-negative integer, got ${report.id}`);
  }
  if (!Number.isSafeInteger(report.sizeb) || report.sizeb < 0) {
    throw new Error(`checkpoint sizeb must be a non-negative integer, got ${report.sizeb}`);
  }
  logger.info('checkpoint', {
    event_type: eventTypeString('CHECKPOINT'),
    id: report.id,
    subdir: report.subdir,
    sizeb: report.sizeb,
    best_now: report.bestNow,
    optional: report.optional ?? null,
  });
}

/** Print MODEL_APPLIED: only after every result file is on disk, because the agent uploads at once (D.6). */
export function reportModelApplied(logger: Logger): void {
  logger.info('model applied', { event_type: eventTypeString('MODEL_APPLIED') });
}
