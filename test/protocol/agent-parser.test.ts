import {
  AgentCrash,
  agentActions,
  eventsOf,
  parseAgentLine,
  parseAgentOutput,
  pythonJsonLoads,
  readStrictOutput,
  strictLineProblems,
} from '../helpers/agent';

describe('the agent-like reader itself (spec D.2)', () => {
  it('pops message and level, upper-cases the level, fills event_type with EventType.LOGJ', () => {
    const line = parseAgentLine('{"message": "hi", "level": "warn", "x": 1}');
    expect(line).toMatchObject({
      structured: true,
      message: 'hi',
      level: 'WARN',
      levelNo: 30,
      shipped: true,
    });
    expect(line.fields).toEqual({ x: 1, event_type: 'EventType.LOGJ' });
  });

  it('treats a line without message or level, or not a JSON object, as plain INFO text (its event_type ignored)', () => {
    for (const raw of [
      '{"level": "info", "event_type": "EventType.CHECKPOINT"}',
      '{"message": "m"}',
      'Traceback (most recent call last):',
      '[1, 2]',
      '5',
      '"text"',
    ]) {
      const line = parseAgentLine(raw);
      expect(line).toMatchObject({
        structured: false,
        message: raw,
        level: 'INFO',
        levelNo: 20,
        eventType: 'EventType.LOGJ',
      });
    }
  });

  it('maps unknown level names (even "warning" and "critical") to INFO', () => {
    expect(parseAgentLine('{"message": "m", "level": "warning"}').levelNo).toBe(20);
    expect(parseAgentLine('{"message": "m", "level": "critical"}').levelNo).toBe(20);
    expect(parseAgentLine('{"message": "m", "level": "FATAL"}').levelNo).toBe(50);
  });

  it('crashes where the agent crashes: non-string level or message, reserved keys, unhashable event_type', () => {
    expect(() => parseAgentLine('{"message": "m", "level": 20}')).toThrow(AgentCrash);
    expect(() => parseAgentLine('{"message": 5, "level": "info"}')).toThrow(/"message" is a number/);
    expect(() => parseAgentLine('{"message": "m", "level": "info", "name": "x"}')).toThrow(
      /Attempt to overwrite "name"/,
    );
    expect(() => parseAgentLine('{"message": "m", "level": "info", "taskName": "x"}')).toThrow(AgentCrash);
    expect(() => parseAgentLine('{"message": "m", "level": "info", "event_type": ["x"]}')).toThrow(
      /unhashable/,
    );
  });

  it('does not act on numeric event types (the python-json-logger >= 3.1 failure)', () => {
    const lines = parseAgentOutput(
      '{"message": "checkpoint", "level": "info", "event_type": 8, "subdir": "00000000"}',
    );
    expect(agentActions(lines, 'train')).toEqual([]);
  });

  it('dispatches CHECKPOINT for train and MODEL_APPLIED for inference, at any level', () => {
    const out = [
      '{"message": "checkpoint", "level": "debug", "event_type": "EventType.CHECKPOINT"}',
      '{"message": "model applied", "level": "info", "event_type": "EventType.MODEL_APPLIED"}',
    ].join('\n');
    const lines = parseAgentOutput(out);
    expect(agentActions(lines, 'train').map((l) => l.message)).toEqual(['checkpoint']);
    expect(agentActions(lines, 'inference').map((l) => l.message)).toEqual(['model applied']);
    expect(eventsOf(lines, 'CHECKPOINT')[0].shipped).toBe(false);
  });

  it('reads NaN and Infinity as Python json.loads does', () => {
    const loaded = pythonJsonLoads('{"a": NaN, "b": -Infinity, "c": "NaN"}');
    expect(loaded).toEqual({ ok: true, value: { a: Number.NaN, b: Number.NEGATIVE_INFINITY, c: 'NaN' } });
    expect(pythonJsonLoads('{bad')).toEqual({ ok: false });
  });

  it('demotes pip noise to DEBUG', () => {
    expect(parseAgentLine('Requirement already satisfied: numpy').levelNo).toBe(10);
  });

  it('the strict contract flags what the agent would tolerate but we never write', () => {
    expect(
      strictLineProblems(
        '{"message": "m", "level": "info", "timestamp": "2026-01-01T00:00:00.000Z", "v": NaN}',
      ),
    ).toContain('not strict JSON');
    expect(strictLineProblems('{"message": "m", "level": "warning", "timestamp": "x"}')).toEqual([
      'bad level',
      'bad timestamp',
    ]);
    const lowProgress =
      '{"message": "p", "level": "debug", "timestamp": "2026-01-01T00:00:00.000Z", "event_type": "EventType.PROGRESS", "subtask": "s", "current": 1, "total": 1}';
    expect(strictLineProblems(lowProgress)).toEqual([
      'event line below info',
      'PROGRESS message is not "progress"',
    ]);
    expect(() => readStrictOutput('plain text')).toThrow(/not strict JSON/);
  });
});
