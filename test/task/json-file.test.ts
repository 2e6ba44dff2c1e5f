import fc from 'fast-check';
import { TaskError } from '../../src/errors';
import { firstJsonErrorOffset, lineColumn, parseJsonText, syntaxErrorOffset } from '../../src/task/json-file';

function errorOf(text: string): TaskError {
  try {
    parseJsonText({ text, displayName: 'task_config.json' });
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('JSON syntax errors name the file, line and column', () => {
  it.each([
    ['{\n  "epochs": 10,\n}', 'line 3, column 1'],
    ['{\n  "lr": 0.1\n  "epochs": 2\n}', 'line 3, column 3'],
    ['{\n  "a": tru\n}', 'line 2, column 8'],
    ["{\n  'a': 1\n}", 'line 2, column 3'],
    ['{"a": 1', 'line 1, column 8'],
    ['', 'line 1, column 1'],
    ['{"a": 1} x', 'line 1, column 10'],
  ])('%j → %s', (text, where) => {
    const e = errorOf(text);
    expect(e.kind).toBe('config');
    expect(e.message).toContain('task_config.json: invalid JSON at ');
    expect(e.message).toContain(where);
  });

  it('does not echo the whole input back', () => {
    const e = errorOf(`{"a": tru, "secret": "${'x'.repeat(100)}"}`);
    expect(e.message).not.toContain('xxxxxxxxxx');
  });

  it('refuses a byte order mark with a hint', () => {
    expect(errorOf('\ufeff{}').message).toMatch(/byte order mark/);
  });

  it('lineColumn counts from 1', () => {
    expect(lineColumn('ab\ncd', 0)).toBe('line 1, column 1');
    expect(lineColumn('ab\ncd', 4)).toBe('line 2, column 2');
  });

  it('property: our scan accepts exactly what JSON.parse accepts and never points past the position V8 gives', () => {
    const texts = fc.oneof(
      fc.json(),
      fc
        .tuple(fc.json(), fc.nat(), fc.constantFrom('', ',', '}', ']', '"', ':', 'x', '\n'))
        .map(([t, i, c]) => {
          const at = i % (t.length + 1);
          return t.slice(0, at) + c + t.slice(at + 1);
        }),
    );
    fc.assert(
      fc.property(texts, (text) => {
        let v8: string | undefined;
        try {
          JSON.parse(text);
        } catch (e) {
          v8 = (e as Error).message;
        }
        const ours = firstJsonErrorOffset(text);
        expect(ours === undefined).toBe(v8 === undefined);
        const match = v8 === undefined ? null : /at position (\d+)/.exec(v8);
        // Ours may point earlier: at the start of a misspelt literal rather than at the character V8 stopped on.
        if (match !== null) expect(ours).toBeLessThanOrEqual(Number(match[1]));
        if (match !== null) expect(syntaxErrorOffset(v8 as string, text)).toBe(Number(match[1]));
      }),
      { numRuns: 500 },
    );
  });
});

describe('nesting depth is bounded where configs are read (the walks that follow recurse)', () => {
  const nested = (depth: number, open: string, close: string, inner = '1'): string =>
    open.repeat(depth) + inner + close.repeat(depth);

  it.each([
    ['objects', `{"custom_model_config": ${nested(100_000, '{"x": ', '}')}}`, 'custom_model_config.x.x.x.x'],
    ['lists', `{"a": ${nested(100_000, '[', ']')}}`, 'a[0][0][0][0]'],
  ])(
    '100 000 levels of %s: a config error naming the file and the field, not a stack overflow',
    (_what, text, field) => {
      const e = errorOf(text);
      expect(e.kind).toBe('config');
      expect(e.message).toMatch(
        /^task_config\.json: field ".*\.\.\.": nested more than 100 levels deep \(objects and lists within each other\)/,
      );
      expect(e.context.field?.startsWith(field)).toBe(true);
      expect(e.context.field?.length).toBeLessThanOrEqual(60);
    },
  );

  it('accepts 100 levels, refuses 101', () => {
    expect(parseJsonText({ text: nested(100, '[', ']'), displayName: 'c.json' })).toBeDefined();
    expect(errorOf(nested(101, '[', ']')).message).toContain('nested more than 100 levels deep');
  });

  it('the syntax scan stops at that depth too, instead of overflowing the stack', () => {
    expect(firstJsonErrorOffset(nested(100_000, '[', ']', '1,'))).toBe(100);
  });
});
