import fs from 'fs';
import os from 'os';
import path from 'path';
import { TaskError } from '../../src/errors';
import { parseModelConfig, readModelConfig, writeModelConfig } from '../../src/model-state/config';
import type { ObjClassJson } from '../../src/format/types';

const classes: ObjClassJson[] = [
  { title: 'bg', shape: 'bitmap', color: '#222222', geometry_config: {}, hotkey: '' },
  { title: 'kiwi', shape: 'bitmap', color: '#FF0000', geometry_config: {}, hotkey: '' },
];

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-config-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function errorOf(run: () => unknown): TaskError {
  try {
    run();
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

describe('checkpoint config.json (spec C.2)', () => {
  it('writes settings, out_classes and class_title_to_idx, and reads them back', async () => {
    const settings = { input_size: { width: 128, height: 128 }, lr: 0.001 };
    await writeModelConfig(dir, { settings, outClasses: classes, classTitleToIdx: { bg: 0, kiwi: 1 } });
    const raw = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(raw).sort()).toEqual(['class_title_to_idx', 'out_classes', 'settings']);
    const back = await readModelConfig(dir);
    expect(back).toEqual({
      settings,
      out_classes: classes,
      class_title_to_idx: { bg: 0, kiwi: 1 },
      extra: {},
    });
    expect(fs.readdirSync(dir)).toEqual(['config.json']);
  });

  it('keeps extra top-level keys a plugin adds', async () => {
    await writeModelConfig(dir, {
      settings: {},
      outClasses: classes,
      classTitleToIdx: { bg: 0 },
      extra: { tags_to_idx: { a: 0 } },
    });
    expect((await readModelConfig(dir)).extra).toEqual({ tags_to_idx: { a: 0 } });
  });

  it('reads the SDK base classes\' "classes" key when "out_classes" is absent', () => {
    const parsed = parseModelConfig(
      { settings: {}, classes, class_title_to_idx: { bg: 0, kiwi: 1, unused: 2 } },
      'config.json',
    );
    expect(parsed.out_classes).toEqual(classes);
    expect(parsed.class_title_to_idx.unused).toBe(2);
  });

  it('refuses to write what it could not read back', async () => {
    await expect(
      writeModelConfig(dir, { settings: {}, outClasses: classes, classTitleToIdx: { bg: -1 } }),
    ).rejects.toThrow(/class_title_to_idx\.bg/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a missing file says the model tar needs config.json', async () => {
    await expect(readModelConfig(dir, { displayName: 'model/config.json' })).rejects.toThrow(
      /^model\/config\.json: the model has no config\.json from training/,
    );
  });

  it('JSON nested 100 000 levels deep is a model error naming the file, not a stack overflow later', async () => {
    const deep = `{"settings": ${'{"x": '.repeat(100_000)}1${'}'.repeat(100_000)}}`;
    fs.writeFileSync(path.join(dir, 'config.json'), deep);
    const e = await readModelConfig(dir, { displayName: 'model/config.json' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TaskError);
    expect((e as TaskError).kind).toBe('model');
    expect((e as TaskError).message).toMatch(
      /^model\/config\.json: field "settings\.x\.x\..*": nested more than 100 levels deep/,
    );
  });

  it('malformed JSON names the file', async () => {
    fs.writeFileSync(path.join(dir, 'config.json'), '{"settings": ');
    const e = await readModelConfig(dir, { displayName: 'model/config.json' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TaskError);
    expect((e as TaskError).kind).toBe('model');
    expect((e as TaskError).message).toMatch(/^model\/config\.json: invalid JSON/);
  });

  it.each([
    [[], undefined, 'expected a JSON object'],
    [
      { out_classes: classes, class_title_to_idx: {} },
      'settings',
      'expected an object (the training config), found nothing',
    ],
    [{ settings: {}, class_title_to_idx: {} }, 'out_classes', 'missing'],
    [
      { settings: {}, out_classes: {}, class_title_to_idx: {} },
      'out_classes',
      'expected a list of classes, found an object',
    ],
    [
      { settings: {}, out_classes: [{ title: 'a', shape: 'bitmap' }], class_title_to_idx: {} },
      'out_classes[0].color',
      'expected a non-empty string',
    ],
    [
      { settings: {}, out_classes: [classes[0], classes[0]], class_title_to_idx: {} },
      'out_classes[1].title',
      'listed twice',
    ],
    [{ settings: {}, out_classes: classes }, 'class_title_to_idx', 'expected an object'],
    [
      { settings: {}, out_classes: classes, class_title_to_idx: { bg: 1.5 } },
      'class_title_to_idx.bg',
      'non-negative integer index, found 1.5',
    ],
  ])('%j → field %s', (value, field, text) => {
    const e = errorOf(() => parseModelConfig(value, 'model/config.json'));
    expect(e.kind).toBe('model');
    expect(e.context).toEqual(
      field === undefined ? { file: 'model/config.json' } : { file: 'model/config.json', field },
    );
    expect(e.message).toContain(text);
  });
});
