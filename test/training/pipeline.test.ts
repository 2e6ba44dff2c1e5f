import { batchCount, batchPipeline, SampleLoadError } from '../../src/training/data/pipeline';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function collect<B>(it: AsyncGenerator<B>): Promise<B[]> {
  const out: B[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('batchPipeline (streaming loader)', () => {
  it('keeps the requested order even when loads finish out of order', async () => {
    const order = [5, 3, 0, 4, 1, 2, 6];
    const batches = await collect(
      batchPipeline({
        order,
        batchSize: 3,
        dropLast: false,
        lookahead: 4,
        // Later indices finish first.
        load: async (i) => {
          await sleep(10 - i);
          return i;
        },
        collate: (s) => s,
      }),
    );
    expect(batches).toEqual([[5, 3, 0], [4, 1, 2], [6]]);
    expect(batches.length).toBe(batchCount(order.length, 3, false));
  });

  it('drops the last incomplete batch when asked (training)', async () => {
    const batches = await collect(
      batchPipeline({
        order: [0, 1, 2, 3, 4],
        batchSize: 2,
        dropLast: true,
        lookahead: 1,
        load: async (i) => i,
        collate: (s) => s,
      }),
    );
    expect(batches).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect(batchCount(5, 2, true)).toBe(2);
  });

  it('never has more than batchSize + lookahead samples in flight (memory stays bounded)', async () => {
    let inFlight = 0;
    let peak = 0;
    const order = Array.from({ length: 40 }, (_, i) => i);
    await collect(
      batchPipeline({
        order,
        batchSize: 4,
        dropLast: true,
        lookahead: 2,
        load: async (i) => {
          inFlight += 1;
          peak = Math.max(peak, inFlight);
          await sleep(1);
          inFlight -= 1;
          return i;
        },
        collate: async (s) => {
          await sleep(2); // a slow consumer must not let the window grow
          return s;
        },
      }),
    );
    expect(peak).toBeGreaterThan(1); // loads really overlap
    expect(peak).toBeLessThanOrEqual(6);
  });

  it('skips failing samples while the corrupted budget lasts, naming each one', async () => {
    const skippedIdx: number[] = [];
    const batches = await collect(
      batchPipeline({
        order: [0, 1, 2, 3, 4, 5],
        batchSize: 2,
        dropLast: true,
        lookahead: 2,
        load: async (i) => {
          if (i === 1 || i === 4) throw new Error(`broken ${i}`);
          return i;
        },
        collate: (s) => s,
        corrupted: { allowed: 2, onSkip: (i) => skippedIdx.push(i) },
      }),
    );
    expect(skippedIdx).toEqual([1, 4]);
    expect(batches).toEqual([
      [0, 2],
      [3, 5],
    ]);
  });

  it('fails with the sample index once the budget is exhausted', async () => {
    const run = collect(
      batchPipeline({
        order: [0, 1, 2, 3],
        batchSize: 1,
        dropLast: false,
        lookahead: 1,
        load: async (i) => {
          if (i >= 1) throw new Error(`broken ${i}`);
          return i;
        },
        collate: (s) => s,
        corrupted: { allowed: 1, onSkip: () => undefined },
      }),
    );
    await expect(run).rejects.toBeInstanceOf(SampleLoadError);
    await expect(run).rejects.toMatchObject({ index: 2, message: 'broken 2' });
  });

  it('leaves no unhandled rejection when the consumer stops early', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => {
      unhandled.push(e);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const it = batchPipeline({
        order: [0, 1, 2, 3, 4, 5],
        batchSize: 1,
        dropLast: false,
        lookahead: 4,
        load: async (i) => {
          await sleep(1);
          if (i > 0) throw new Error('later failure');
          return i;
        },
        collate: (s) => s,
      });
      const first = await it.next();
      expect(first.value).toEqual([0]);
      await it.return(undefined);
      await sleep(20);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
