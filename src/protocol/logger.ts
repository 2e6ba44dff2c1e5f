/**
 * The task logger: winston with the SDK's JSON line format (spec D.3). Each call becomes one line, handed to the
 * sink synchronously before the call returns, so nothing is lost when the process exits.
 *
 * Loggers are made by `createLogger({ sink })`, so tests and several tasks in one process each get their own;
 * `defaultLogger()` is the process-wide stdout logger for the entry points.
 */

import winston from 'winston';
import type TransportStream from 'winston-transport';
import type { LevelName } from './levels';
import { LEVEL_NAMES, LEVEL_SEVERITY, isEnabled, levelFromEnv } from './levels';
import { MAX_LINE_BYTES, formatLine } from './line-format';
import type { LineSink } from './sink';
import { fdSink } from './sink';

export type LogExtras = Readonly<Record<string, unknown>>;

export interface Logger {
  /** The threshold: lines less severe than this are dropped. */
  readonly level: LevelName;
  log(level: LevelName, message: string, extras?: LogExtras): void;
  fatal(message: string, extras?: LogExtras): void;
  error(message: string, extras?: LogExtras): void;
  warn(message: string, extras?: LogExtras): void;
  info(message: string, extras?: LogExtras): void;
  debug(message: string, extras?: LogExtras): void;
  trace(message: string, extras?: LogExtras): void;
  isLevelEnabled(level: LevelName): boolean;
  /** A logger writing to the same sink that adds `extras` to each line (the call's own extras win). */
  child(extras: LogExtras): Logger;
}

export interface LoggerOptions {
  /** Where lines go; default: stdout, written synchronously. */
  sink?: LineSink;
  /** Default: info. */
  level?: LevelName;
  /** The clock for `timestamp`; injectable for tests. */
  now?: () => Date;
  /** Default MAX_LINE_BYTES (spec D.1). */
  maxLineBytes?: number;
}

// Extras ride on a symbol key so winston's own meta handling (merging `message` keys, unwrapping errors) never
// touches them; the format step is the only place that decides what reaches the wire.
const EXTRAS = Symbol('sly.extras');
// triple-beam's MESSAGE: the finished line a transport writes.
const MESSAGE = Symbol.for('message');

interface SlyInfo {
  level: string;
  message: unknown;
  [EXTRAS]?: LogExtras;
  [MESSAGE]?: string;
}

// Library boundary: winston's typings name the transport base class `transport`, but at run time it is exported
// as `Transport` (winston 3.19). Take the value from winston and only the type from winston-transport (a type
// import is erased, so there is no run-time dependency on a package we do not declare).
const TransportBase = (winston as unknown as { Transport: typeof TransportStream }).Transport;

class SinkTransport extends TransportBase {
  constructor(private readonly sink: LineSink) {
    super();
  }

  override log(info: SlyInfo, next: () => void): void {
    const line = info[MESSAGE];
    if (line !== undefined) this.sink(line);
    next();
  }
}

function agentFormat(now: () => Date, maxBytes: number): winston.Logform.Format {
  return winston.format((info) => {
    const sly = info as unknown as SlyInfo;
    sly[MESSAGE] = formatLine({
      message: String(sly.message),
      level: sly.level as LevelName,
      time: now(),
      extras: sly[EXTRAS],
      maxBytes,
    });
    return info;
  })();
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const sink = options.sink ?? fdSink(1);
  const engine = winston.createLogger({
    levels: { ...LEVEL_SEVERITY },
    // winston passes everything; TaskLogger.log does the filtering, because event lines bypass the threshold.
    level: 'trace',
    format: agentFormat(options.now ?? (() => new Date()), options.maxLineBytes ?? MAX_LINE_BYTES),
    transports: [new SinkTransport(sink)],
    exitOnError: false,
  });
  return new TaskLogger(engine, level, {});
}

class TaskLogger implements Logger {
  constructor(
    private readonly engine: winston.Logger,
    readonly level: LevelName,
    private readonly bound: LogExtras,
  ) {}

  log(level: LevelName, message: string, extras?: LogExtras): void {
    const merged = extras === undefined ? this.bound : { ...this.bound, ...extras };
    // Event lines are protocol, not chatter: the agent must see every one whatever LOG_LEVEL says, and the server
    // only sees info and above (spec D.2), so they pass the filter and are lifted to info.
    const isEvent = merged.event_type !== undefined;
    const effective = isEvent && !isEnabled(level, 'info') ? 'info' : level;
    if (!isEvent && !isEnabled(effective, this.level)) return;
    const info: SlyInfo = { level: effective, message, [EXTRAS]: merged };
    this.engine.log(info as unknown as winston.LogEntry);
  }

  fatal(message: string, extras?: LogExtras): void {
    this.log('fatal', message, extras);
  }
  error(message: string, extras?: LogExtras): void {
    this.log('error', message, extras);
  }
  warn(message: string, extras?: LogExtras): void {
    this.log('warn', message, extras);
  }
  info(message: string, extras?: LogExtras): void {
    this.log('info', message, extras);
  }
  debug(message: string, extras?: LogExtras): void {
    this.log('debug', message, extras);
  }
  trace(message: string, extras?: LogExtras): void {
    this.log('trace', message, extras);
  }

  isLevelEnabled(level: LevelName): boolean {
    return isEnabled(level, this.level);
  }

  child(extras: LogExtras): Logger {
    return new TaskLogger(this.engine, this.level, { ...this.bound, ...extras });
  }
}

let processLogger: Logger | undefined;

/**
 * The process-wide stdout logger for entry points, its level from LOG_LEVEL/LOGLEVEL (default info; the agent
 * passes DEBUG). Code below the entry points receives a Logger instead of calling this.
 */
export function defaultLogger(): Logger {
  if (processLogger === undefined) {
    const { level, unknownValue } = levelFromEnv(process.env);
    processLogger = createLogger({ level });
    if (unknownValue !== undefined) {
      processLogger.warn('Unknown LOG_LEVEL value; using info.', { value: unknownValue, known: LEVEL_NAMES });
    }
  }
  return processLogger;
}
