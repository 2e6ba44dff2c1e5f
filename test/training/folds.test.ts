import { TaskError } from '../../src/errors';
import { ensureFoldUsable, imageTagNames, splitByTags, splitIntoFolds } from '../../src/training/folds';

interface Item {
  name: string;
  tagNames: string[];
  objectCount: number;
}
const item = (name: string, tagNames: string[], objectCount = 1): Item => ({ name, tagNames, objectCount });
const names = (items: Item[]) => items.map((i) => i.name);
const TAGS = { train: 'train', val: 'val' };

describe('train/val split by tags (spec E.5)', () => {
  const items = [
    item('a', ['train']),
    item('b', ['val']),
    item('c', []),
    item('d', ['val', 'train', 'other']),
    item('e', ['other']),
    item('f', ['train', 'train']),
  ];

  it('puts an image in every fold whose tag it has, keeping project order', () => {
    const split = splitByTags(items, TAGS);
    expect(names(split.train)).toEqual(['a', 'd', 'f']);
    expect(names(split.val)).toEqual(['b', 'd']);
  });

  it('counts images with neither tag (unused) and with both tags', () => {
    const split = splitByTags(items, TAGS);
    expect(split.neitherCount).toBe(2);
    expect(split.bothCount).toBe(1);
  });

  it('with the same tag for train and val, puts each tagged image twice in both folds', () => {
    const split = splitByTags(items, { train: 'train', val: 'train' });
    expect(names(split.train)).toEqual(['a', 'a', 'd', 'd', 'f', 'f']);
    expect(names(split.val)).toEqual(names(split.train));
    expect(split.bothCount).toBe(3);
    expect(split.neitherCount).toBe(3);
  });

  it('reads tag names from tag JSON and legacy bare strings, ignoring values', () => {
    expect(imageTagNames([{ name: 'train', value: 3 }, 'val'])).toEqual(['train', 'val']);
  });
});

describe('fold checks (spec E.5 ensure_samples_nonempty)', () => {
  function thrown(fn: () => unknown): TaskError {
    try {
      fn();
    } catch (e) {
      if (e instanceof TaskError) return e;
      throw e;
    }
    throw new Error('expected a TaskError');
  }

  it('an empty fold is a data error naming the tag and the field', () => {
    const e = thrown(() => splitIntoFolds([item('a', ['train'])], TAGS));
    expect(e.kind).toBe('data');
    expect(e.context.field).toBe('dataset_tags.val');
    expect(e.message).toMatch(
      /^field "dataset_tags\.val": There are no annotations with tag "val" \(the val fold\)\./,
    );
  });

  it('a fold without a single object is an error naming the tag', () => {
    const e = thrown(() =>
      ensureFoldUsable([item('a', ['val'], 0), item('b', ['val'], 0)], { purpose: 'val', tag: 'val' }),
    );
    expect(e.message).toMatch(
      /There are no objects in annotations with tag "val" \(the val fold, 2 images\)\./,
    );
  });

  it('checks train before val, and passes when both folds have objects', () => {
    expect(() => splitIntoFolds([item('a', ['val'])], TAGS)).toThrow(/tag "train"/);
    const split = splitIntoFolds(
      [item('a', ['train'], 0), item('b', ['train'], 2), item('c', ['val'], 1)],
      TAGS,
    );
    expect([split.train.length, split.val.length]).toEqual([2, 1]);
  });
});
