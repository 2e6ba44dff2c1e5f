import { TaskError } from '../../src/errors';
import { parseProjectMeta, projectMetaToJson } from '../../src/format/meta';

const file = 'proj/meta.json';
const parse = (json: unknown) => parseProjectMeta(json, { file });

function errorOf(fn: () => unknown): TaskError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a TaskError');
}

describe('meta.json (spec B.2)', () => {
  it('reads classes of every shape and tag metas of every value type', () => {
    const shapes = [
      'bitmap',
      'polygon',
      'rectangle',
      'point',
      'line',
      'graph',
      'cuboid',
      'any',
      'multichannelBitmap',
    ];
    const meta = parse({
      classes: shapes.map((shape, i) => ({ title: `c${i}`, shape, color: '#a0b1c2', id: i })),
      tags: [
        { name: 'train', value_type: 'none', color: '#A0F0A0' },
        { name: 'score', value_type: 'any_number', applicable_type: 'objectsOnly' },
        { name: 'note', value_type: 'any_string', classes: ['c0'] },
        { name: 'side', value_type: 'oneof_string', values: ['left', 'right'], hotkey: 's' },
      ],
      projectType: 'images',
      unknownKey: { multiView: false }, // ignored
    });
    expect(meta.classes.map((c) => c.shape)).toEqual(shapes);
    expect(meta.classes[0]).toEqual({
      title: 'c0',
      shape: 'bitmap',
      color: '#A0B1C2',
      geometryConfig: {},
      hotkey: '',
      id: 0,
    });
    expect(meta.tagMetas.map((t) => t.valueType)).toEqual([
      'none',
      'any_number',
      'any_string',
      'oneof_string',
    ]);
    expect(meta.tagMetaByName.get('side')!.values).toEqual(['left', 'right']);
    expect(meta.tagMetaByName.get('score')!.applicableType).toBe('objectsOnly');
    expect(meta.tagMetaByName.get('score')!.color).toMatch(/^#[0-9A-F]{6}$/); // given a colour when absent
    expect(meta.projectType).toBe('images');
  });

  it('accepts the legacy tags_images / tags_objects (merged) and bare-string tag metas', () => {
    const meta = parse({
      classes: [],
      tags_images: ['train', { name: 'val', value_type: 'none' }],
      tags_objects: ['train', { name: 'conf', value_type: 'any_number' }],
    });
    expect(meta.tagMetas.map((t) => [t.name, t.valueType])).toEqual([
      ['train', 'none'],
      ['val', 'none'],
      ['conf', 'any_number'],
    ]);
  });

  it('refuses mixing "tags" with the legacy form', () => {
    const e = errorOf(() => parse({ classes: [], tags: [], tags_images: ['a'] }));
    expect(e.message).toMatch(/^proj\/meta\.json: field "tags": both "tags" and the legacy/);
  });

  it.each([
    [
      { classes: [{ title: 'a', shape: 'polygon', color: '#12345' }] },
      /classes\[0\]: field "color": expected a colour/,
    ],
    [{ classes: [{ title: 'a', shape: 'polygon', color: 'red' }] }, /field "color"/],
    [{ classes: [{ title: 'a', shape: 'polygon' }] }, /classes\[0\]: field "color"/],
    [
      { classes: [{ title: 'a', shape: 'blob', color: '#000000' }] },
      /field "shape": unknown shape string "blob"/,
    ],
    [
      {
        classes: [
          { title: 'a', shape: 'polygon', color: '#000000' },
          { title: 'a', shape: 'bitmap', color: '#000000' },
        ],
      },
      /classes\[1\]: duplicate class title "a"/,
    ],
    [
      { classes: [], tags: [{ name: 't', value_type: 'oneof_string' }] },
      /tags\[0\]: field "values": expected an array/,
    ],
    [{ classes: [], tags: [{ name: 't', value_type: 'integer' }] }, /field "value_type": unknown value type/],
    [
      { classes: [], tags: [{ name: 't', value_type: 'none', target_type: 'objects' }] },
      /tags\[0\]: field "target_type": unknown target type/,
    ],
    [
      { classes: [], tags: [{ name: 't', value_type: 'none', color: '#GGGGGG' }] },
      /tags\[0\]: field "color"/,
    ],
  ])('rejects a bad meta with a message naming the place (%#)', (json, message) => {
    const e = errorOf(() => parse(json));
    expect(e.kind).toBe('data');
    expect(e.context.file).toBe(file);
    expect(e.message).toMatch(message);
  });

  it('writes the SDK form and reads it back unchanged', () => {
    const meta = parse({
      classes: [{ title: 'kiwi', shape: 'polygon', color: '#ff0000', hotkey: 'k' }],
      tags_images: ['train'],
    });
    const json = projectMetaToJson(meta);
    expect(json.classes[0]).toEqual({
      title: 'kiwi',
      shape: 'polygon',
      color: '#FF0000',
      geometry_config: {},
      hotkey: 'k',
    });
    expect(json.tags![0]).toMatchObject({
      name: 'train',
      value_type: 'none',
      applicable_type: 'all',
      classes: [],
    });
    expect(parse(JSON.parse(JSON.stringify(json)))).toEqual(meta);
  });

  it('keeps what video projects add (docs/supervisely-video-format.md V.2): target_type, description, projectSettings', () => {
    const json = {
      classes: [
        { title: 'car', description: '', shape: 'bitmap', color: '#FF0000', geometry_config: {}, hotkey: '' },
      ],
      tags: [
        {
          name: 'when',
          value_type: 'date',
          color: '#0AC80A',
          hotkey: '',
          applicable_type: 'all',
          classes: [],
          target_type: 'framesOnly',
        },
      ],
      projectType: 'videos',
      projectSettings: { multiView: { enabled: false, tagName: null, tagId: null, isSynced: false } },
    };
    const meta = parse(json);
    expect(meta.tagMetas[0].targetType).toBe('framesOnly');
    expect(projectMetaToJson(meta)).toEqual(json);
    // An image meta without them is written as before.
    expect(
      Object.keys(
        projectMetaToJson(parse({ classes: [], tags: [{ name: 't', value_type: 'none' }] })).tags![0],
      ),
    ).not.toContain('target_type');
  });
});
