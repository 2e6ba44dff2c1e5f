/**
 * A progress bar on the wire (spec D.5), with the SDK's reporting cadence: one line at the start, then one
 * whenever the count crosses a multiple of about 1 % of the total, and always at the end. So at most about 100
 * lines per bar with a known total. (With an unknown total the SDK reports every step; so do we.)
 */

import { reportProgress } from './events';
import type { Logger } from './logger';

export interface ProgressOptions {
  logger: Logger;
  subtask: string;
  /** 0 means unknown. */
  total: number;
  /** Report about every this many percent of the total; SDK default 1. */
  minReportPercent?: number;
  /** The clock for elapsed and ETA, in ms; injectable for tests. */
  now?: () => number;
}

export class Progress {
  private currentCount = 0;
  private reportedCount = 0;
  private readonly reportEvery: number;
  private readonly startedAt: number;
  /** The count when the first step was done (a resumed bar starts above 0): the rate counts from it. */
  private baseCount: number | undefined;
  private baseAt = 0;

  private constructor(private readonly options: ProgressOptions) {
    this.startedAt = this.now();
    const percent = options.minReportPercent ?? 1;
    this.reportEvery = Math.max(1, Math.ceil((Math.max(0, options.total) / 100) * percent));
  }

  /** A new bar, reported at once with current 0 (as the SDK's constructor does). */
  static start(options: ProgressOptions): Progress {
    const progress = new Progress(options);
    progress.report();
    return progress;
  }

  get current(): number {
    return this.currentCount;
  }

  get total(): number {
    return this.isTotalUnknown ? this.currentCount : this.options.total;
  }

  /** How many lines this bar has printed. */
  get reported(): number {
    return this.reportedCount;
  }

  /** Count `count` steps done and report if the cadence says so (SDK iters_done_report). */
  iterDone(count = 1): void {
    if (this.baseCount === undefined) {
      // The rate counts from the start, unless the first move is a jump (a resumed run's bar set to where it
      // is): then from after the jump, whose steps took no time here.
      const jump = count > 1;
      this.baseCount = jump ? this.currentCount + count : this.currentCount;
      this.baseAt = jump ? this.now() : this.startedAt;
    }
    this.currentCount += count;
    if (this.needReport()) this.report();
  }

  /** Jump to an absolute count (SDK set_current_value). */
  setCurrent(value: number): void {
    this.iterDone(value - this.currentCount);
  }

  private get isTotalUnknown(): boolean {
    return !(this.options.total > 0);
  }

  private needReport(): boolean {
    return (
      this.isTotalUnknown ||
      this.currentCount >= this.options.total ||
      this.currentCount % this.reportEvery === 0 ||
      this.reportedCount - 1 < Math.floor(this.currentCount / this.reportEvery)
    );
  }

  private now(): number {
    return (this.options.now ?? (() => performance.now()))();
  }

  /** Seconds left at the rate since the first step, once there is one; undefined with an unknown total. */
  private eta(at: number): number | undefined {
    const base = this.baseCount;
    if (base === undefined || this.isTotalUnknown) return undefined;
    const done = this.currentCount - base;
    if (done <= 0) return undefined;
    return (((at - this.baseAt) / done) * Math.max(0, this.options.total - this.currentCount)) / 1000;
  }

  private report(): void {
    const at = this.now();
    const eta = this.eta(at);
    reportProgress(this.options.logger, {
      subtask: this.options.subtask,
      current: this.currentCount,
      total: this.total,
      ...(this.reportedCount > 0 ? { elapsedSeconds: (at - this.startedAt) / 1000 } : {}),
      ...(eta !== undefined ? { etaSeconds: eta } : {}),
    });
    this.reportedCount += 1;
  }
}
