import fc from 'fast-check';
import { LOG_RECORD_RESERVED_KEYS, parseAgentLine, strictLineProblems } from '../helpers/agent';
import {
  MAX_LINE_BYTES,
  RESERVED_KEYS,
  TRUNCATED_KEY,
  formatLine,
  safeKey,
} from '../../src/protocol/line-format';
import { toJsonSafe } from '../../src/protocol/json-safe';

const time = new Date(Date.UTC(2026, 10, 22, 7, 41, 49, 432));

function parse(line: string): Record<string, unknown> {
  return JSON.parse(line) as Record<string, unknown>;
}

describe('log line format (spec D.3)', () => {
  it('writes message, extras, timestamp and level in the SDK order, with the SDK timestamp shape', () => {
    const line = formatLine({
      message: 'Input config',
      level: 'info',
      time,
      extras: { config: { lr: 0.1 } },
    });
    expect(line).toBe(
      '{"message":"Input config","config":{"lr":0.1},"timestamp":"2026-11-22T07:41:49.432Z","level":"info"}',
    );
  });

  it('puts stack last, as a list of strings', () => {
    const line = formatLine({
      message: 'x',
      level: 'fatal',
      time,
      extras: { stack: ['a', 'b'], exc_str: 'e' },
    });
    expect(Object.keys(parse(line))).toEqual(['message', 'exc_str', 'timestamp', 'level', 'stack']);
  });

  it('writes non-finite numbers as null, at any depth (spec H.5.12)', () => {
    const line = formatLine({
      message: 'metrics',
      level: 'info',
      time,
      extras: {
        epoch: Number.NaN,
        metrics: { loss: Number.POSITIVE_INFINITY, acc: 0.5, l: [Number.NEGATIVE_INFINITY] },
      },
    });
    expect(line).not.toMatch(/NaN|Infinity/);
    expect(parse(line)).toMatchObject({ epoch: null, metrics: { loss: null, acc: 0.5, l: [null] } });
  });

  it('stays one line even when values contain newlines', () => {
    const line = formatLine({ message: 'a\nb', level: 'info', time, extras: { text: 'c\r\nd' } });
    expect(line).not.toContain('\n');
    expect(parse(line).message).toBe('a\nb');
  });
});

describe('reserved LogRecord keys (spec D.2, H.5.2)', () => {
  it.each(LOG_RECORD_RESERVED_KEYS.filter((k) => k !== 'message'))(
    'renames a top-level "%s" extra',
    (key) => {
      const line = formatLine({ message: 'm', level: 'info', time, extras: { [key]: 'value' } });
      const obj = parse(line);
      expect(obj).not.toHaveProperty(key);
      expect(obj[`${key}_`]).toBe('value');
      expect(() => parseAgentLine(line)).not.toThrow();
    },
  );

  it('covers every key the agent-side reader refuses', () => {
    for (const key of LOG_RECORD_RESERVED_KEYS) expect(RESERVED_KEYS.has(key)).toBe(true);
  });

  it('never lets an extra overwrite message, level or timestamp', () => {
    const line = formatLine({
      message: 'real',
      level: 'info',
      time,
      extras: { message: 'fake', level: 42, timestamp: 'yesterday' },
    });
    expect(parse(line)).toMatchObject({
      message: 'real',
      level: 'info',
      timestamp: '2026-11-22T07:41:49.432Z',
      message_: 'fake',
      level_: 42,
      timestamp_: 'yesterday',
    });
  });

  it('does not let a renamed key clobber an ordinary key of the same name', () => {
    const line = formatLine({ message: 'm', level: 'info', time, extras: { name: 'a', name_: 'b' } });
    const obj = parse(line);
    expect(obj.name_).toBe('b');
    expect(obj.name__).toBe('a');
  });

  it('renames an event_type that is not an "EventType.<NAME>" string, so the agent never dispatches on it', () => {
    for (const bad of [7, 'PROGRESS', 'EventType.NOPE', ['EventType.CHECKPOINT']]) {
      const obj = parse(formatLine({ message: 'm', level: 'info', time, extras: { event_type: bad } }));
      expect(obj).not.toHaveProperty('event_type');
      expect(obj.event_type_).toEqual(bad);
    }
    const good = parse(
      formatLine({ message: 'm', level: 'info', time, extras: { event_type: 'EventType.METRICS' } }),
    );
    expect(good.event_type).toBe('EventType.METRICS');
  });

  it('safeKey appends underscores until the key is free', () => {
    expect(safeKey('module', new Set(['module_']))).toBe('module__');
    expect(safeKey('config', new Set())).toBe('config');
  });

  it('property: any extras give a line the agent reads without crashing, with the message intact', () => {
    fc.assert(
      fc.property(fc.string(), fc.dictionary(fc.string(), fc.jsonValue()), (message, extras) => {
        const line = formatLine({ message, level: 'debug', time, extras });
        const read = parseAgentLine(line);
        expect(read.structured).toBe(true);
        expect(read.message).toBe(message);
        expect(strictLineProblems(line).filter((p) => !p.startsWith('bad event_type'))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('line length limit (spec D.1)', () => {
  it('shrinks the largest extra, keeps the small ones and says what was shrunk', () => {
    const big = { items: Array.from({ length: 5000 }, (_, i) => ({ index: i, title: `class ${i}` })) };
    const line = formatLine({
      message: 'Full config',
      level: 'info',
      time,
      extras: { config: big, event_type: 'EventType.LOGJ', small: 'keep me' },
    });
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_LINE_BYTES);
    const obj = parse(line);
    expect(obj.small).toBe('keep me');
    expect(obj.event_type).toBe('EventType.LOGJ');
    expect(typeof obj.config).toBe('string');
    expect(String(obj.config).startsWith('{"items":[{"index":0')).toBe(true);
    const note = obj[TRUNCATED_KEY] as Record<string, number>;
    expect(note.config).toBe(Buffer.byteLength(JSON.stringify(big)));
  });

  it('shrinks a huge message when extras are not the problem, multi-byte text included', () => {
    const message = 'é☃'.repeat(20000);
    const line = formatLine({ message, level: 'error', time, maxBytes: 4000 });
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(4000);
    const obj = parse(line);
    expect(message.startsWith(String(obj.message).slice(0, -1))).toBe(true);
    expect(obj[TRUNCATED_KEY]).toEqual({ message: Buffer.byteLength(message) });
  });

  it('handles values full of characters that JSON escapes', () => {
    const line = formatLine({
      message: 'm',
      level: 'info',
      time,
      maxBytes: 2000,
      extras: { q: '"\u0001'.repeat(5000) },
    });
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(2000);
    expect(strictLineProblems(line)).toEqual([]);
  });

  it('property: every line fits, whatever the extras', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 20 }), fc.oneof(fc.string({ maxLength: 3000 }), fc.jsonValue())),
        fc.string({ maxLength: 3000 }),
        (extras, message) => {
          const line = formatLine({ message, level: 'info', time, maxBytes: 1500, extras });
          expect(Buffer.byteLength(line)).toBeLessThanOrEqual(1500);
          expect(() => JSON.parse(line)).not.toThrow();
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('toJsonSafe', () => {
  it('converts what JSON cannot hold and never throws', () => {
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    expect(
      toJsonSafe({
        big: 10n,
        huge: 2n ** 80n,
        f: () => 1,
        u: undefined,
        d: new Date(Date.UTC(2020, 0, 1)),
        e: new RangeError('bad'),
        t: new Float32Array([1, Number.NaN]),
        m: new Map([['k', 1]]),
        s: new Set([2]),
        circular,
      }),
    ).toEqual({
      big: 10,
      huge: (2n ** 80n).toString(),
      d: '2020-01-01T00:00:00.000Z',
      e: 'RangeError: bad',
      t: [1, null],
      m: { k: 1 },
      s: [2],
      circular: { a: 1, self: '[Circular]' },
    });
  });

  it('keeps a "__proto__" key as an ordinary key', () => {
    const value = JSON.parse('{"__proto__": {"x": 1}}') as unknown;
    expect(JSON.stringify(toJsonSafe(value))).toBe('{"__proto__":{"x":1}}');
  });
});
