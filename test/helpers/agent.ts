/**
 * The Supervisely agent's reading of container output, reimplemented for tests (spec D.2; the agent's
 * `TaskDockerized.parse_log_line` and `process_logs`). Feed it a process's stdout; it returns what the agent
 * would log and dispatch, and throws AgentCrash where the real agent's log loop would crash the task.
 *
 * On purpose this file imports nothing from src/: it is an independent second reading of the protocol, so a
 * mistake in src/protocol cannot hide itself here.
 */

/** sly.LOGGING_LEVELS: the agent looks up `level.upper()` here; anything else counts as INFO. */
export const LOGGING_LEVELS: Readonly<Record<string, number>> = {
  FATAL: 50,
  ERROR: 40,
  WARN: 30,
  INFO: 20,
  DEBUG: 10,
  TRACE: 5,
};

const INFO = 20;
const DEBUG = 10;

/**
 * `Logger.makeRecord` raises KeyError when `extra` holds one of these (LogRecord attributes on Python 3.12, the
 * agent's Python, plus "message" and "asctime"); the exception escapes the agent's log loop.
 */
export const LOG_RECORD_RESERVED_KEYS: readonly string[] = [
  'name',
  'msg',
  'args',
  'levelname',
  'levelno',
  'pathname',
  'filename',
  'module',
  'exc_info',
  'exc_text',
  'stack_info',
  'lineno',
  'funcName',
  'created',
  'msecs',
  'relativeCreated',
  'thread',
  'threadName',
  'processName',
  'process',
  'taskName',
  'message',
  'asctime',
];

/** The agent's action map keys: the only events that make the agent act (spec D.2). */
export const AGENT_ACTIONS = {
  train: ['EventType.CHECKPOINT'],
  inference: ['EventType.MODEL_APPLIED'],
} as const;

/** Where the real agent would have crashed the task while reading this line. */
export class AgentCrash extends Error {
  constructor(
    readonly reason: string,
    readonly line: string,
  ) {
    super(`the agent would crash on this line: ${reason}\n${line}`);
    this.name = 'AgentCrash';
  }
}

export interface AgentLogLine {
  /** The line as received (without its newline). */
  raw: string;
  /** False when the line was forwarded as plain text (not JSON, or no message/level). */
  structured: boolean;
  /** The message the agent logs (the whole line when not structured). */
  message: string;
  /** `level.upper()` as read ("INFO" for plain lines). */
  level: string;
  /** The numeric level the agent re-logs at, after its pip filter. */
  levelNo: number;
  /** Whether the agent's task logger (level INFO) ships the line to the server. */
  shipped: boolean;
  /** The remaining fields (message and level popped), event_type filled in. */
  fields: Record<string, unknown>;
  /** The dispatch key: `fields.event_type`, "EventType.LOGJ" if the line had none. */
  eventType: unknown;
}

/** Read one line as the agent does; throws AgentCrash where the agent would crash. */
export function parseAgentLine(raw: string): AgentLogLine {
  let structured = false;
  let message: unknown = raw;
  let level = 'INFO';
  let fields: Record<string, unknown> = {};
  const parsed = pythonJsonLoads(raw);
  // `jlog["message"]` raises TypeError (caught) on anything that is not a dict, KeyError (caught) if missing.
  if (parsed.ok && isDict(parsed.value) && 'message' in parsed.value && 'level' in parsed.value) {
    const jlog = { ...parsed.value };
    const lvl = jlog.level;
    // `.upper()` on a non-string raises AttributeError, which the agent does not catch.
    if (typeof lvl !== 'string') throw new AgentCrash(`"level" is ${typeName(lvl)}, not a string`, raw);
    message = jlog.message;
    delete jlog.message;
    delete jlog.level;
    level = lvl.toUpperCase();
    fields = jlog;
    structured = true;
  }
  if (!('event_type' in fields)) fields.event_type = 'EventType.LOGJ';
  const eventType = fields.event_type;
  // `et in self.action_map`: an unhashable value (list, dict) raises TypeError there.
  if (eventType !== null && typeof eventType === 'object') {
    throw new AgentCrash(`"event_type" is ${typeName(eventType)} (unhashable)`, raw);
  }
  // `_process_report(msg)` calls msg.split(":").
  if (typeof message !== 'string')
    throw new AgentCrash(`"message" is ${typeName(message)}, not a string`, raw);
  const reserved = Object.keys(fields).filter((k) => LOG_RECORD_RESERVED_KEYS.includes(k));
  if (reserved.length > 0) {
    throw new AgentCrash(`KeyError: Attempt to overwrite ${JSON.stringify(reserved[0])} in LogRecord`, raw);
  }
  let levelNo = LOGGING_LEVELS[level] ?? INFO;
  if (message.includes('Requirement already satisfied')) levelNo = DEBUG; // pip_req_satisfied_filter
  return { raw, structured, message, level, levelNo, shipped: levelNo >= INFO, fields, eventType };
}

/** Every non-empty line of a process's output, read as the agent reads it. */
export function parseAgentOutput(output: string): AgentLogLine[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(parseAgentLine);
}

/** The lines of one event type, e.g. eventsOf(lines, 'CHECKPOINT'). */
export function eventsOf(lines: readonly AgentLogLine[], name: string): AgentLogLine[] {
  return lines.filter((l) => l.eventType === `EventType.${name}`);
}

/** The lines the agent would act on for a task type (CHECKPOINT for train, MODEL_APPLIED for inference). */
export function agentActions(
  lines: readonly AgentLogLine[],
  task: keyof typeof AGENT_ACTIONS,
): AgentLogLine[] {
  const keys: readonly string[] = AGENT_ACTIONS[task];
  return lines.filter((l) => typeof l.eventType === 'string' && keys.includes(l.eventType));
}

// ---- Our own contract: stricter than the agent (spec D.3, D.5, H.5) ----

const LEVEL_NAMES = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const EVENT_TYPE = /^EventType\.[A-Z_]+$/;
const MAX_LINE_BYTES = 16 * 1024;

/** What is wrong with a line by our stricter contract; [] when nothing is. */
export function strictLineProblems(raw: string): string[] {
  const problems: string[] = [];
  if (Buffer.byteLength(raw, 'utf8') + 1 > MAX_LINE_BYTES) problems.push('line is 16 KiB or longer');
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return [...problems, 'not strict JSON'];
  }
  if (!isDict(value)) return [...problems, 'not a JSON object'];
  if (typeof value.message !== 'string') problems.push('message is not a string');
  if (typeof value.level !== 'string' || !LEVEL_NAMES.includes(value.level)) problems.push('bad level');
  if (typeof value.timestamp !== 'string' || !TIMESTAMP.test(value.timestamp)) problems.push('bad timestamp');
  const reserved = Object.keys(value).filter((k) => k !== 'message' && LOG_RECORD_RESERVED_KEYS.includes(k));
  if (reserved.length > 0) problems.push(`reserved keys: ${reserved.join(', ')}`);
  if ('event_type' in value) {
    const et = value.event_type;
    if (typeof et !== 'string' || !EVENT_TYPE.test(et)) problems.push(`bad event_type ${JSON.stringify(et)}`);
    else {
      if (!['fatal', 'error', 'warn', 'info'].includes(String(value.level)) && et !== 'EventType.LOGJ') {
        problems.push('event line below info');
      }
      problems.push(...eventPayloadProblems(et, value));
    }
  }
  return problems;
}

function eventPayloadProblems(eventType: string, v: Record<string, unknown>): string[] {
  const p: string[] = [];
  const isInt = (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x);
  switch (eventType) {
    case 'EventType.PROGRESS':
      if (v.message !== 'progress') p.push('PROGRESS message is not "progress"');
      if (typeof v.subtask !== 'string') p.push('PROGRESS subtask is not a string');
      if (!isInt(v.current) || !isInt(v.total)) p.push('PROGRESS current/total are not integers');
      break;
    case 'EventType.METRICS':
      if (v.message !== 'metrics') p.push('METRICS message is not "metrics"');
      if (v.type !== 'train' && v.type !== 'val') p.push('METRICS type is not train|val');
      if (typeof v.epoch !== 'number') p.push('METRICS epoch is not a number');
      if (!isDict(v.metrics) || !Object.values(v.metrics).every((m) => m === null || typeof m === 'number')) {
        p.push('METRICS metrics is not a map of numbers');
      }
      break;
    case 'EventType.CHECKPOINT':
      if (v.message !== 'checkpoint') p.push('CHECKPOINT message is not "checkpoint"');
      if (!isInt(v.id)) p.push('CHECKPOINT id is not an integer');
      if (typeof v.subdir !== 'string' || !/^[0-9]{8}$/.test(v.subdir))
        p.push('CHECKPOINT subdir is not 8 digits');
      if (!isInt(v.sizeb)) p.push('CHECKPOINT sizeb is not an integer');
      if (typeof v.best_now !== 'boolean') p.push('CHECKPOINT best_now is not a boolean');
      if (!('optional' in v)) p.push('CHECKPOINT has no optional');
      break;
    case 'EventType.MODEL_APPLIED':
      if (v.message !== 'model applied') p.push('MODEL_APPLIED message is not "model applied"');
      break;
    case 'EventType.TASK_CRASHED':
      if (v.level !== 'fatal') p.push('TASK_CRASHED level is not fatal');
      if (typeof v.main_name !== 'string') p.push('TASK_CRASHED main_name is not a string');
      if (typeof v.exc_str !== 'string') p.push('TASK_CRASHED exc_str is not a string');
      if (!Array.isArray(v.stack) || !v.stack.every((s) => typeof s === 'string')) {
        p.push('TASK_CRASHED stack is not a list of strings');
      }
      break;
    default:
      break;
  }
  return p;
}

/**
 * Read a whole output as the agent does, and also check every line against our stricter contract. Throws
 * (AgentCrash, or an Error listing the problems per line) if anything is off; returns the lines otherwise.
 */
export function readStrictOutput(output: string): AgentLogLine[] {
  const lines = parseAgentOutput(output);
  const bad = lines
    .map((l, i) => ({ i, raw: l.raw, problems: strictLineProblems(l.raw) }))
    .filter((x) => x.problems.length > 0);
  if (bad.length > 0) {
    const text = bad
      .map((b) => `line ${b.i + 1}: ${b.problems.join('; ')}\n  ${b.raw.slice(0, 300)}`)
      .join('\n');
    throw new Error(`output breaks the log contract:\n${text}`);
  }
  return lines;
}

// ---- Python's json.loads, as far as the agent's reading depends on it ----

type Loaded = { ok: true; value: unknown } | { ok: false };

/** json.loads: JSON plus the bare tokens NaN, Infinity and -Infinity, which Python accepts and JSON.parse does not. */
export function pythonJsonLoads(text: string): Loaded {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    // fall through to the lenient reading
  }
  const marked = markPythonConstants(text);
  if (marked === text) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(marked, reviveMarkers) };
  } catch {
    return { ok: false };
  }
}

const MARKERS: Readonly<Record<string, number>> = {
  '\u0000py:NaN': Number.NaN,
  '\u0000py:Infinity': Number.POSITIVE_INFINITY,
  '\u0000py:-Infinity': Number.NEGATIVE_INFINITY,
};

function reviveMarkers(_key: string, value: unknown): unknown {
  return typeof value === 'string' && value in MARKERS ? MARKERS[value] : value;
}

/** Replace NaN / Infinity / -Infinity outside strings with marker strings that JSON.parse reads. */
function markPythonConstants(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') {
        out += text[i + 1] ?? '';
        i += 1;
      } else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      out += c;
      continue;
    }
    const token = ['-Infinity', 'Infinity', 'NaN'].find((t) => text.startsWith(t, i));
    if (token !== undefined) {
      out += JSON.stringify(`\u0000py:${token}`);
      i += token.length - 1;
      continue;
    }
    out += c;
  }
  return out;
}

function isDict(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a dict' : `a ${typeof value}`;
}
