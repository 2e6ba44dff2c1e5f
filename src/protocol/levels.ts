/**
 * Log levels as the SDK writes them (spec D.3) and as the agent reads them (spec D.2). The names are the wire
 * values; the agent maps anything else (even "warning") to INFO, so only these six are ever written.
 */

export type LevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** winston's convention: a smaller number is more severe. */
export const LEVEL_SEVERITY: Readonly<Record<LevelName, number>> = {
  fatal: 0,
  error: 1,
  warn: 2,
  info: 3,
  debug: 4,
  trace: 5,
};

export const LEVEL_NAMES = Object.keys(LEVEL_SEVERITY) as LevelName[];

export const DEFAULT_LEVEL: LevelName = 'info';

/** Python logging names and numbers people put in LOG_LEVEL, mapped to ours. */
const LEVEL_ALIASES: Readonly<Record<string, LevelName>> = {
  fatal: 'fatal',
  critical: 'fatal',
  '50': 'fatal',
  error: 'error',
  '40': 'error',
  warn: 'warn',
  warning: 'warn',
  '30': 'warn',
  info: 'info',
  '20': 'info',
  debug: 'debug',
  '10': 'debug',
  trace: 'trace',
  '5': 'trace',
};

export function isLevelName(value: unknown): value is LevelName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(LEVEL_SEVERITY, value);
}

/** The level a name like "DEBUG", "warning" or "10" stands for, or undefined if it means nothing. */
export function parseLevel(text: string): LevelName | undefined {
  const key = text.trim().toLowerCase();
  return Object.prototype.hasOwnProperty.call(LEVEL_ALIASES, key) ? LEVEL_ALIASES[key] : undefined;
}

export interface LevelFromEnv {
  level: LevelName;
  /** Set when LOG_LEVEL/LOGLEVEL held something unknown, so the caller can say so once a logger exists. */
  unknownValue?: string;
}

/** LOG_LEVEL, then LOGLEVEL, as the SDK logger reads them (spec D.3, H.4); default info. */
export function levelFromEnv(env: NodeJS.ProcessEnv): LevelFromEnv {
  const raw = env.LOG_LEVEL ?? env.LOGLEVEL;
  if (raw === undefined || raw.trim() === '') return { level: DEFAULT_LEVEL };
  const level = parseLevel(raw);
  return level === undefined ? { level: DEFAULT_LEVEL, unknownValue: raw } : { level };
}

/** Whether a line at `level` passes a logger set to `threshold`. */
export function isEnabled(level: LevelName, threshold: LevelName): boolean {
  return LEVEL_SEVERITY[level] <= LEVEL_SEVERITY[threshold];
}
