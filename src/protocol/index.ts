/** The agent's language: logger, events, progress, crash line, main wrapper. No tfjs, no training knowledge. */

export * from './levels';
export * from './event-types';
export type { JsonValue } from './json-safe';
export { toJsonSafe } from './json-safe';
export { MAX_LINE_BYTES, RESERVED_KEYS, TRUNCATED_KEY, formatLine, formatTimestamp } from './line-format';
export type { LineRecord } from './line-format';
export type { LineSink, MemorySink } from './sink';
export { fdSink, memorySink, writeAllSync } from './sink';
export type { LogExtras, Logger, LoggerOptions } from './logger';
export { createLogger, defaultLogger } from './logger';
export * from './events';
export { Progress } from './progress';
export type { ProgressOptions } from './progress';
export { CRASH_MESSAGE, exceptionText, reportCrash, stackLines } from './crash';
export type { CrashReport } from './crash';
export { EXIT_CRASH, EXIT_OK, runMain } from './main';
export type { RunMainOptions } from './main';
