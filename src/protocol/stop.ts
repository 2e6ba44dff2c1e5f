/**
 * Stopping on SIGTERM or SIGINT (a container stop, Ctrl-C). The entry point's wrapper (main.ts) turns a signal
 * into a stop request; the running task decides what a clean stop is (training: finish the step, write a
 * checkpoint and announce it; inference: stop between images and leave no results folder) and ends by throwing
 * `InterruptedError`, which exits with the code that says "interrupted". With nobody listening (before the task
 * has started its loop) the process stops at once with that code.
 */

/** Exit codes of a stop: 128 + the signal's number, as shells report a process ended by it. */
export const EXIT_INTERRUPTED: Readonly<Record<StopSignal, number>> = { SIGTERM: 143, SIGINT: 130 };

export type StopSignal = 'SIGTERM' | 'SIGINT';

/** The task stopped because it was asked to: not a failure of the task, but not a success either. */
export class InterruptedError extends Error {
  constructor(
    readonly signal: StopSignal,
    detail: string,
  ) {
    super(`stopped by ${signal}: ${detail}`);
    this.name = 'InterruptedError';
  }
}

type Listener = (signal: StopSignal) => void;

/** The process's stop requests: tasks listen while they can stop cleanly. */
export class StopRequests {
  private readonly listeners = new Set<Listener>();
  private received: StopSignal | undefined;

  /** The signal received, if any. */
  get signal(): StopSignal | undefined {
    return this.received;
  }

  /** Calls `listener` on a stop (at once if one came already); returns the function that stops listening. */
  listen(listener: Listener): () => void {
    this.listeners.add(listener);
    if (this.received !== undefined) listener(this.received);
    return () => this.listeners.delete(listener);
  }

  /** Records the signal and tells the listeners; false when nobody listens (the caller then exits at once). */
  request(signal: StopSignal): boolean {
    this.received ??= signal;
    // Counted before the calls: a listener may stop listening once told.
    const listening = [...this.listeners];
    for (const l of listening) l(signal);
    return listening.length > 0;
  }

  /** Throws InterruptedError when a stop was asked for (between units of work that cannot be resumed). */
  throwIfRequested(detail: string): void {
    if (this.received !== undefined) throw new InterruptedError(this.received, detail);
  }
}

/** The process-wide instance the entry points' wrapper feeds. */
export const stopRequests = new StopRequests();
