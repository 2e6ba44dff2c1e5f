import {
  MicroBatcher,
  type BatchTensors,
  type MicroBatcherOptions,
  type RunBatch,
} from '../../src/inference/batcher';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A runner of one input and one output, as a segmenter's: plain buffers, reuse of one of each. */
type OneRun = (
  x: Float32Array,
  n: number,
  reuse?: { out?: Float32Array; giveBack?: (x: Float32Array) => void },
) => Promise<Float32Array>;

/** A batcher of one input `x` and one output `y` over a runner of plain buffers. */
function single(
  opts: Omit<MicroBatcherOptions, 'run' | 'inputs' | 'outputs'> & {
    run: OneRun;
    inputLength: number;
    outputLength: number;
  },
): MicroBatcher {
  const { run, inputLength, outputLength, ...rest } = opts;
  const named: RunBatch = async (xs, n, reuse) => ({
    y: await run(xs.x, n, {
      ...(reuse?.out?.y !== undefined ? { out: reuse.out.y } : {}),
      giveBack: (b) => reuse?.giveBack?.('x', b),
    }),
  });
  return new MicroBatcher({ ...rest, run: named, inputs: { x: inputLength }, outputs: { y: outputLength } });
}

/** A fake engine: output sample i is its input doubled, so results can be matched to requests. */
function fakeEngine(calls: number[], delayMs = 5) {
  return async (x: Float32Array, n: number): Promise<Float32Array> => {
    calls.push(n);
    await sleep(delayMs);
    return x.map((v) => 2 * v);
  };
}

describe('MicroBatcher (inference batching across images)', () => {
  it('gives each request its own scores, in any arrival order', async () => {
    const calls: number[] = [];
    const b = single({ run: fakeEngine(calls), batchSize: 3, inputLength: 2, outputLength: 2 });
    const results = await Promise.all([1, 2, 3, 4, 5].map((v) => b.score(new Float32Array([v, -v]))));
    expect(results.map((r) => Array.from(r))).toEqual([1, 2, 3, 4, 5].map((v) => [2 * v, -2 * v]));
    expect(b.stats.samples).toBe(5);
  });

  it('fills batches up to batchSize while the engine is busy', async () => {
    const calls: number[] = [];
    const b = single({ run: fakeEngine(calls, 20), batchSize: 4, inputLength: 1, outputLength: 1 });
    const first = b.score(new Float32Array([0]));
    await sleep(1); // the first (lone) request starts the engine
    const rest = Array.from({ length: 8 }, (_, i) => b.score(new Float32Array([i])));
    await Promise.all([first, ...rest]);
    expect(calls).toEqual([1, 4, 4]);
    expect(b.stats.batches).toBe(3);
  });

  it('runs up to `concurrency` full batches at once, and a partial batch only when none runs', async () => {
    let running = 0;
    let most = 0;
    const calls: number[] = [];
    const b = single({
      run: async (x, n) => {
        calls.push(n);
        most = Math.max(most, ++running);
        await sleep(10);
        running--;
        return x;
      },
      batchSize: 2,
      inputLength: 1,
      outputLength: 1,
      concurrency: 2,
    });
    const results = await Promise.all([1, 2, 3, 4, 5].map((v) => b.score(new Float32Array([v]))));
    expect(results.map((r) => r[0])).toEqual([1, 2, 3, 4, 5]);
    expect(most).toBe(2);
    expect(calls).toEqual([2, 2, 1]);
    expect(b.stats).toMatchObject({ batches: 3, samples: 5 });
  });

  it('tells onBatch the size of each batch the engine ran, once its requests are settled', async () => {
    const seen: { n: number; settled: number }[] = [];
    let settled = 0;
    const b = single({
      run: fakeEngine([], 10),
      batchSize: 3,
      inputLength: 1,
      outputLength: 1,
      onBatch: (n) => seen.push({ n, settled }),
    });
    const first = b.score(new Float32Array([0])).then(() => settled++);
    await sleep(1); // the lone first request starts the engine; the next four queue behind it
    const rest = [1, 2, 3, 4].map((v) => b.score(new Float32Array([v])).then(() => settled++));
    await Promise.all([first, ...rest]);
    expect(seen.map((s) => s.n)).toEqual([1, 3, 1]);
    expect(seen.map((s) => s.n).reduce((a, c) => a + c, 0)).toBe(b.stats.samples);
  });

  it('a throwing onBatch fails no request', async () => {
    const b = single({
      run: async (x) => x,
      batchSize: 2,
      inputLength: 1,
      outputLength: 1,
      onBatch: () => {
        throw new Error('metrics broke');
      },
    });
    await expect(Promise.all([b.score(Float32Array.of(1)), b.score(Float32Array.of(2))])).resolves.toEqual([
      Float32Array.of(1),
      Float32Array.of(2),
    ]);
  });

  it('does not call onBatch for a batch the engine failed', async () => {
    const seen: number[] = [];
    const b = single({
      run: async () => {
        throw new Error('engine broke');
      },
      batchSize: 2,
      inputLength: 1,
      outputLength: 1,
      onBatch: (n) => seen.push(n),
    });
    await expect(b.score(Float32Array.of(1))).rejects.toThrow('engine broke');
    expect(seen).toEqual([]);
  });

  it('rejects every request of a failed batch, and keeps serving later ones', async () => {
    let fail = true;
    const b = single({
      run: async (x) => {
        if (fail) throw new Error('engine broke');
        return x;
      },
      batchSize: 2,
      inputLength: 1,
      outputLength: 1,
    });
    const failed = [b.score(new Float32Array([1])), b.score(new Float32Array([2]))];
    await expect(Promise.all(failed)).rejects.toThrow('engine broke');
    await Promise.allSettled(failed);
    fail = false;
    await expect(b.score(new Float32Array([3]))).resolves.toEqual(new Float32Array([3]));
  });

  it('writes each input into the batch buffer when the batch is made, at its place', async () => {
    const batches: number[][] = [];
    const b = single({
      run: async (x) => {
        batches.push(Array.from(x));
        return x.map((v) => 2 * v);
      },
      batchSize: 2,
      inputLength: 2,
      outputLength: 2,
    });
    const source = [new Uint8Array([1, 2]), new Uint8Array([3, 4])];
    const write = (s: Uint8Array) => (x: Float32Array, offset: number) => {
      for (let i = 0; i < s.length; i++) x[offset + i] = s[i] + 0.5;
    };
    const results = await Promise.all([b.score(write(source[0])), b.score(write(source[1]))]);
    expect(batches).toEqual([[1.5, 2.5, 3.5, 4.5]]);
    expect(results.map((r) => Array.from(r))).toEqual([
      [3, 5],
      [7, 9],
    ]);
  });

  it('a writer that fails rejects its own request; the others run in a batch of their own', async () => {
    const calls: { n: number; x: number[] }[] = [];
    const b = single({
      run: async (x, n) => {
        calls.push({ n, x: Array.from(x) });
        return x;
      },
      batchSize: 3,
      inputLength: 1,
      outputLength: 1,
    });
    const settled = await Promise.allSettled([
      b.score((x, o) => (x[o] = 1)),
      b.score(() => {
        throw new Error('no pixels');
      }),
      b.score(new Float32Array([3])),
    ]);
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'no pixels' });
    expect(calls).toEqual([{ n: 2, x: [1, 3] }]);
  });

  it('refuses an input of the wrong size', async () => {
    const b = single({ run: async (x) => x, batchSize: 2, inputLength: 3, outputLength: 3 });
    await expect(b.score(new Float32Array(2))).rejects.toThrow(/needs 3 values, got 2/);
  });

  describe('buffer reuse', () => {
    type Offered = { x: Float32Array; out?: Float32Array; y: Float32Array };

    /**
     * A batcher of pairs of one-value samples, whose runner records what it is offered, writes 10 * input into
     * `out` when given, and gives `x` back.
     */
    function recordingBatcher(log: Offered[]): MicroBatcher {
      const run: OneRun = async (x, _n, reuse) => {
        await sleep(1);
        const y = reuse?.out ?? new Float32Array(x.length);
        for (let i = 0; i < x.length; i++) y[i] = 10 * x[i];
        log.push({ x, ...(reuse?.out ? { out: reuse.out } : {}), y });
        reuse?.giveBack?.(x);
        return y;
      };
      return single({ run, batchSize: 2, inputLength: 1, outputLength: 1 });
    }

    it('reuses the input and output buffers of a batch whose scores were used up, with the right scores', async () => {
      const log: Offered[] = [];
      const b = recordingBatcher(log);
      const sums: number[] = [];
      for (const pair of [
        [1, 2],
        [3, 4],
        [5, 6],
      ]) {
        const got = await Promise.all(pair.map((v) => b.score(Float32Array.of(v), (s) => s[0])));
        sums.push(...got);
      }
      expect(sums).toEqual([10, 20, 30, 40, 50, 60]);
      expect(log[0].out).toBeUndefined();
      expect(log[1].x).toBe(log[0].x); // the input buffer given back
      expect(log[1].out).toBe(log[0].y); // the output buffer of the used-up batch
      expect(log[2].out).toBe(log[1].y);
    });

    it('never reuses an output that a request kept as a view, which so stays intact', async () => {
      const log: Offered[] = [];
      const b = recordingBatcher(log);
      const kept = await Promise.all([b.score(Float32Array.of(1)), b.score(Float32Array.of(2), (s) => s[0])]);
      await Promise.all([b.score(Float32Array.of(3), (s) => s[0]), b.score(Float32Array.of(4), (s) => s[0])]);
      expect(log[1].out).toBeUndefined();
      expect(Array.from(kept[0] as Float32Array)).toEqual([10]);
    });

    it('a `use` that throws rejects its own request only', async () => {
      const b = recordingBatcher([]);
      const settled = await Promise.allSettled([
        b.score(Float32Array.of(1), () => {
          throw new Error('bad scores');
        }),
        b.score(Float32Array.of(2), (s) => s[0]),
      ]);
      expect(settled[0]).toMatchObject({ status: 'rejected', reason: { message: 'bad scores' } });
      expect(settled[1]).toEqual({ status: 'fulfilled', value: 20 });
    });

    it('keeps no partial-batch buffer, and no buffer the runner left detached', async () => {
      const offered: (Float32Array | undefined)[] = [];
      const b = single({
        run: async (x, _n, reuse) => {
          offered.push(reuse?.out);
          const y = x.map((v) => v + 1);
          reuse?.giveBack?.(new Float32Array(0)); // as a transferred-away buffer looks
          return y;
        },
        batchSize: 2,
        inputLength: 1,
        outputLength: 1,
      });
      expect(await b.score(Float32Array.of(1), (s) => s[0])).toBe(2); // a partial batch of 1
      await Promise.all([b.score(Float32Array.of(1), (s) => s[0]), b.score(Float32Array.of(2), (s) => s[0])]);
      await Promise.all([b.score(Float32Array.of(3), (s) => s[0]), b.score(Float32Array.of(4), (s) => s[0])]);
      expect(offered[0]).toBeUndefined();
      expect(offered[1]).toBeUndefined(); // the partial batch's output was not kept
      expect(offered[2]).toHaveLength(2); // the full batch's was
    });
  });
});

describe('partialOnFreeThread (the model server)', () => {
  /** One request alone, then three while its batch runs: do the three wait for it, or start on the free thread? */
  async function overlap(partialOnFreeThread: boolean): Promise<{ calls: number[]; most: number }> {
    let running = 0;
    let most = 0;
    const calls: number[] = [];
    const b = single({
      run: async (x, n) => {
        calls.push(n);
        running += 1;
        most = Math.max(most, running);
        await sleep(30);
        running -= 1;
        return x;
      },
      batchSize: 8,
      concurrency: 2,
      inputLength: 1,
      outputLength: 1,
      partialOnFreeThread,
    });
    const first = b.score(new Float32Array([0]));
    await sleep(5);
    const rest = [1, 2, 3].map((v) => b.score(new Float32Array([v])));
    await Promise.all([first, ...rest]);
    return { calls, most };
  }

  it('starts a partial batch of at least two on a free thread beside a running one', async () => {
    expect(await overlap(true)).toEqual({ calls: [1, 3], most: 2 });
  });

  it('without it, a partial batch waits until none runs (the inference task)', async () => {
    expect(await overlap(false)).toEqual({ calls: [1, 3], most: 1 });
  });
});

describe('named inputs and outputs', () => {
  /**
   * A network of two inputs (`a`: 2 values a sample, `b`: 1) and two outputs (`sum`: a0 + a1 + b, 1 value;
   * `pair`: [a0 * b, a1 * b], 2 values), writing into the offered buffers and giving the inputs back.
   */
  function twoByTwo(log: { x: BatchTensors; out?: BatchTensors; y: BatchTensors; back: string[] }[]) {
    const run: RunBatch = async (x, n, reuse) => {
      await sleep(1);
      const sum = reuse?.out?.sum ?? new Float32Array(n);
      const pair = reuse?.out?.pair ?? new Float32Array(2 * n);
      for (let i = 0; i < n; i++) {
        const [a0, a1, b] = [x.a[2 * i], x.a[2 * i + 1], x.b[i]];
        sum[i] = a0 + a1 + b;
        pair[2 * i] = a0 * b;
        pair[2 * i + 1] = a1 * b;
      }
      const y = { sum, pair };
      const back: string[] = [];
      for (const [name, buffer] of Object.entries(x)) {
        back.push(name);
        reuse?.giveBack?.(name, buffer);
      }
      log.push({ x, ...(reuse?.out !== undefined ? { out: reuse.out } : {}), y, back });
      return y;
    };
    return new MicroBatcher({ run, batchSize: 2, inputs: { a: 2, b: 1 }, outputs: { sum: 1, pair: 2 } });
  }

  it('gives each sample its own slice of every output, from its own inputs (values or writers)', async () => {
    const b = twoByTwo([]);
    const got = await Promise.all([
      b.scoreNamed({ a: Float32Array.of(1, 2), b: Float32Array.of(10) }),
      b.scoreNamed({ a: (x, o) => x.set([3, 4], o), b: Float32Array.of(100) }),
      b.scoreNamed({ a: Float32Array.of(5, 6), b: (x, o) => (x[o] = -1) }),
    ]);
    expect(got.map((o) => ({ sum: Array.from(o.sum), pair: Array.from(o.pair) }))).toEqual([
      { sum: [13], pair: [10, 20] },
      { sum: [107], pair: [300, 400] },
      { sum: [10], pair: [-5, -6] },
    ]);
    expect(b.stats).toMatchObject({ batches: 2, samples: 3 });
  });

  it("reuses each name's buffers for that name only", async () => {
    const log: Parameters<typeof twoByTwo>[0] = [];
    const b = twoByTwo(log);
    for (const v of [1, 2]) {
      await Promise.all(
        [v, v + 10].map((k) =>
          b.scoreNamed({ a: Float32Array.of(k, k), b: Float32Array.of(1) }, (o) => o.sum[0]),
        ),
      );
    }
    expect(log[0].back).toEqual(['a', 'b']);
    expect(log[1].x.a).toBe(log[0].x.a);
    expect(log[1].x.b).toBe(log[0].x.b);
    expect(log[1].out?.sum).toBe(log[0].y.sum);
    expect(log[1].out?.pair).toBe(log[0].y.pair);
    expect(log[1].y.sum[1]).toBe(25); // 12 + 12 + 1, written into the reused buffer
  });

  it('refuses a missing or unknown input, naming it; `score` needs a network of one input', async () => {
    const b = twoByTwo([]);
    await expect(b.scoreNamed({ a: Float32Array.of(1, 2) })).rejects.toThrow(
      `the network's input "b" is missing`,
    );
    await expect(
      b.scoreNamed({ a: Float32Array.of(1, 2), b: Float32Array.of(1), c: Float32Array.of(1) }),
    ).rejects.toThrow('the network has no input "c"; its inputs are [a, b]');
    await expect(b.scoreNamed({ a: Float32Array.of(1), b: Float32Array.of(1) })).rejects.toThrow(
      `the network's input "a" needs 2 values, got 1`,
    );
    await expect(b.score(Float32Array.of(1, 2))).rejects.toThrow('the network takes the inputs [a, b]');
  });
});
