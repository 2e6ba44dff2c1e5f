/**
 * The SDK's EventType enum (spec D.4), written on the wire as the string "EventType.<NAME>" (python-json-logger
 * <= 3.0 writes str(enum)); the agent dispatches on that exact string (spec D.2).
 */

export const EVENT_TYPE_NUMBERS = {
  LOGJ: 1,
  LOGS: 2,
  TASK_STARTED: 3,
  TASK_FINISHED: 4,
  TASK_STOPPED: 5,
  TASK_CRASHED: 6,
  PROGRESS: 7,
  CHECKPOINT: 8,
  METRICS: 9,
  TASK_REMOVED: 10,
  MODEL_APPLIED: 11,
  DTL_APPLIED: 12,
  IMPORT_APPLIED: 13,
  PROJECT_CREATED: 14,
  TASK_VERIFIED: 15,
  STEP_COMPLETE: 16,
  TASK_DEPLOYED: 17,
  AGENT_READY_FOR_TASKS: 18,
  MISSED_TASK_FOUND: 19,
  REPORT_CREATED: 20,
  APP_FINISHED: 21,
} as const;

export type EventTypeName = keyof typeof EVENT_TYPE_NUMBERS;

/** The wire form, e.g. "EventType.CHECKPOINT". */
export type EventTypeString = `EventType.${EventTypeName}`;

export function eventTypeString(name: EventTypeName): EventTypeString {
  return `EventType.${name}`;
}

/** The events a train/inference plugin itself may print (spec D.4); the agent prints the others. */
export const PLUGIN_EVENT_TYPES = [
  'PROGRESS',
  'METRICS',
  'CHECKPOINT',
  'MODEL_APPLIED',
  'TASK_CRASHED',
  'TASK_DEPLOYED',
] as const satisfies readonly EventTypeName[];

export function isEventTypeString(value: unknown): value is EventTypeString {
  if (typeof value !== 'string' || !value.startsWith('EventType.')) return false;
  return Object.prototype.hasOwnProperty.call(EVENT_TYPE_NUMBERS, value.slice('EventType.'.length));
}
