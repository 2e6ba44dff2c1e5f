import { TaskError } from '../../src/errors';
import { updateRecursively } from '../../src/task/update-recursively';

describe('updateRecursively (spec E.2, SDK nn/config.py)', () => {
  it('merges mappings recursively, replaces everything else, adds new keys', () => {
    const defaults = { a: { x: 1, y: 2 }, list: [1, 2, 3], s: 'keep', n: 5 };
    const task = { a: { y: 20, z: 30 }, list: [9], n: null, extra: { k: true } };
    expect(updateRecursively(defaults, task)).toEqual({
      a: { x: 1, y: 20, z: 30 },
      list: [9],
      s: 'keep',
      n: null,
      extra: { k: true },
    });
  });

  it('modifies neither input, and the result shares nothing with them', () => {
    const defaults = { a: { x: [1] } };
    const task = { a: { y: { z: 1 } } };
    const out = updateRecursively(defaults, task);
    (out.a as { x: number[] }).x.push(2);
    (out.a as { y: { z: number } }).y.z = 5;
    expect(defaults).toEqual({ a: { x: [1] } });
    expect(task).toEqual({ a: { y: { z: 1 } } });
  });

  it('an empty object over a non-object default leaves the default (as the SDK)', () => {
    expect(updateRecursively({ lr: 0.1, tags: ['a'] }, { lr: {}, tags: {} })).toEqual({
      lr: 0.1,
      tags: ['a'],
    });
  });

  it('a non-empty object over a non-object default is a config error naming the field (the SDK crashes)', () => {
    const run = () =>
      updateRecursively(
        { input_size: { width: 128 } },
        { input_size: { width: { px: 256 } } },
        { file: 'task_config.json' },
      );
    expect(run).toThrow(TaskError);
    expect(run).toThrow(
      'task_config.json: field "input_size.width": expected a number (the default is 128), found an object',
    );
    expect(() => updateRecursively({ mode: 'x' }, { mode: { a: 1 } }, { path: 'm' })).toThrow(
      /field "m\.mode": expected a string/,
    );
  });

  it('keeps "__proto__" as a plain key', () => {
    const task = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    const out = updateRecursively({}, task);
    expect(Object.keys(out)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
