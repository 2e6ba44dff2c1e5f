/** The shard of an inference task, from its command line and environment (src/task/shard.ts). */
import { TaskError } from '../../src/errors';
import { parseShardSpec, resolveShard } from '../../src/task/shard';

/** The error `fn` throws, which must be a config TaskError. */
function configErrorOf(fn: () => unknown): TaskError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TaskError);
    expect((e as TaskError).kind).toBe('config');
    return e as TaskError;
  }
  throw new Error('expected a config error');
}

const shardOf = (args: string[], env: Record<string, string>): [number, number] | undefined => {
  const s = resolveShard(args, env);
  return s === undefined ? undefined : [s.index, s.count];
};

describe('resolveShard: where the shard comes from', () => {
  it('nothing: the whole project', () => {
    expect(resolveShard([], {})).toBeUndefined();
    expect(resolveShard([], { SLY_SHARD: '  ', JOB_COMPLETION_INDEX: '' })).toBeUndefined();
  });

  it('--shard i/n, then SLY_SHARD, then a Kubernetes Indexed Job, then a SLURM array: the first found wins', () => {
    const k8s = { JOB_COMPLETION_INDEX: '2', SLY_SHARD_COUNT: '5' };
    const slurm = { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' };
    expect(shardOf(['--shard', '1/3'], { SLY_SHARD: '0/2', ...k8s, ...slurm })).toEqual([1, 3]);
    expect(shardOf(['--shard=0/1'], {})).toEqual([0, 1]);
    expect(shardOf([], { SLY_SHARD: ' 0 / 2 ', ...k8s, ...slurm })).toEqual([0, 2]);
    expect(shardOf([], { ...k8s, ...slurm })).toEqual([2, 5]);
    expect(shardOf([], slurm)).toEqual([3, 4]);
  });

  it('says where it came from, for the log', () => {
    expect(resolveShard(['--shard', '1/3'], {})?.source).toBe('--shard=1/3');
    expect(resolveShard([], { JOB_COMPLETION_INDEX: '2', SLY_SHARD_COUNT: '5' })?.source).toBe(
      'JOB_COMPLETION_INDEX=2, SLY_SHARD_COUNT=5',
    );
  });

  it('SLY_SHARD=none: no shard, whatever Kubernetes or SLURM say (an unrelated array job)', () => {
    expect(
      resolveShard([], { SLY_SHARD: 'none', SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' }),
    ).toBe(undefined);
    expect(shardOf(['--shard', '2/4'], { SLY_SHARD: 'None' })).toEqual([2, 4]);
  });

  it('SLURM arrays that start at 1, or step: counted from SLURM_ARRAY_TASK_MIN in SLURM_ARRAY_TASK_STEP', () => {
    const array = (id: number, extra: Record<string, string> = {}): [number, number] | undefined =>
      shardOf([], { SLURM_ARRAY_TASK_ID: String(id), SLURM_ARRAY_TASK_COUNT: '4', ...extra });
    // --array=1-4
    expect([1, 2, 3, 4].map((id) => array(id, { SLURM_ARRAY_TASK_MIN: '1' }))).toEqual([
      [0, 4],
      [1, 4],
      [2, 4],
      [3, 4],
    ]);
    // --array=10-16:2
    const stepped = { SLURM_ARRAY_TASK_MIN: '10', SLURM_ARRAY_TASK_STEP: '2' };
    expect([10, 12, 14, 16].map((id) => array(id, stepped)?.[0])).toEqual([0, 1, 2, 3]);
  });
});

describe('resolveShard: refusals name the variable or argument', () => {
  const cases: [string, string[], Record<string, string>, string, RegExp][] = [
    ['not i/n', [], { SLY_SHARD: '1-3' }, 'SLY_SHARD', /expected "i\/n".*got "1-3"/],
    [
      'i = n',
      [],
      { SLY_SHARD: '3/3' },
      'SLY_SHARD',
      /SLY_SHARD=3\/3: expected shard i of n with 0 <= i < n, got shard 3 of 3/,
    ],
    ['n = 0', ['--shard', '0/0'], {}, '--shard', /got shard 0 of 0/],
    ['a fraction', ['--shard', '0.5/2'], {}, '--shard', /expected "i\/n"/],
    ['a negative index', [], { SLY_SHARD: '-1/2' }, 'SLY_SHARD', /expected "i\/n"/],
    [
      'an Indexed Job without the count',
      [],
      { JOB_COMPLETION_INDEX: '1' },
      'SLY_SHARD_COUNT',
      /Kubernetes does not export the Job's completions/,
    ],
    [
      'an index past the count',
      [],
      { JOB_COMPLETION_INDEX: '4', SLY_SHARD_COUNT: '4' },
      'JOB_COMPLETION_INDEX',
      /JOB_COMPLETION_INDEX=4, SLY_SHARD_COUNT=4/,
    ],
    [
      'a count that is not a number',
      [],
      { JOB_COMPLETION_INDEX: '1', SLY_SHARD_COUNT: 'four' },
      'SLY_SHARD_COUNT',
      /whole number >= 0, got "four"/,
    ],
    [
      'a SLURM array without its count',
      [],
      { SLURM_ARRAY_TASK_ID: '1' },
      'SLURM_ARRAY_TASK_COUNT',
      /SLURM sets both/,
    ],
    [
      'a SLURM id below the array minimum',
      [],
      { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '2', SLURM_ARRAY_TASK_MIN: '1' },
      'SLURM_ARRAY_TASK_ID',
      /--array=0-1 \(or 1-2\)/,
    ],
    [
      'a SLURM array of listed ids (--array=0,5,9)',
      [],
      { SLURM_ARRAY_TASK_ID: '9', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '0' },
      'SLURM_ARRAY_TASK_ID',
      /shard 9 of 3/,
    ],
    ['an unknown argument', ['--shards', '1/2'], {}, 'command line', /only --shard i\/n/],
    ['a stray argument', ['1/2'], {}, 'command line', /only --shard i\/n/],
  ];
  it.each(cases)('%s', (_what, args, env, field, message) => {
    const e = configErrorOf(() => resolveShard(args, env));
    expect(e.context.field).toBe(field);
    expect(e.message).toMatch(message);
  });

  it('parseShardSpec: whole numbers within 0 <= i < n', () => {
    expect(parseShardSpec('7/8', 'x')).toMatchObject({ index: 7, count: 8 });
    expect(configErrorOf(() => parseShardSpec('1/99999999999999999999', 'x')).context.field).toBe('x');
  });
});
