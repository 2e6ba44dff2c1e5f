/**
 * @jest-environment ./test/onnx/ort-environment.js
 *
 * The trained tracker's parts: the matching in tfjs and as an ONNX graph agree; the two engines give the same
 * logits and masks; a tracker keeps the first mask's ids (non-consecutive), follows objects added later, frees
 * its tensors, and a checkpoint written and read back tracks the same. The network is untrained here: these are
 * the mechanics; what training achieves is measured by the example and reported in the note.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { network } from '../../../plugin/tracker';
import { packClips } from '../../../src/tasks/video-tracking/clip-batch';
import { generatedClip } from '../../../src/tasks/video-tracking/clip-sources';
import { renderClip } from '../../../src/tasks/video-tracking/generated-clips';
import { buildMatchGraph } from '../../../src/tasks/video-tracking/match-graph';
import {
  cellShares,
  MatchTracker,
  refineBoundary,
  workingSize,
} from '../../../src/tasks/video-tracking/match-tracker';
import {
  distanceMatrix,
  FAR,
  labelMinima,
  matchMaps,
  windowPenalty,
} from '../../../src/tasks/video-tracking/matching';
import { loadTracker, writeTrackerFiles } from '../../../src/tasks/video-tracking/tracker-checkpoint';
import {
  normaliseRows,
  OrtTrackerEngine,
  TfjsTrackerEngine,
} from '../../../src/tasks/video-tracking/tracker-engines';
import {
  TRACKER_SCHEDULE,
  clipRandom,
  learningRateAt,
  trackerPreciseBn,
  trainTracker,
} from '../../../src/tasks/video-tracking/train-tracker';
import { trackerSchedule } from '../../../src/tasks/video-tracking/run-training';
import { resolveTrainConfig } from '../../../src/task/train-config';
import { withSeededRandom } from '../../../src/network/seeded-build';
import { mulberry32 } from '../../../src/util/random';

const settings = network.parseSettings({ encoder_filters: [8, 8, 16], key_channels: 8, decoder_filters: 16 });
const build = (s = settings) =>
  withSeededRandom(7, () => ({
    encoder: network.buildEncoder(s),
    decoder: network.buildDecoder(s),
  }));

const clip = [...renderClip({ width: 64, height: 48, frames: 5, objects: { min: 2, max: 2 } }, 11)];
const first = { width: 64, height: 48, rgb: clip[0].rgb };
// Non-consecutive ids: 1 → 4, 2 → 200.
const firstMask = clip[0].ids.map((v) => (v === 1 ? 4 : v === 2 ? 200 : 0));
const opts = { shortSide: 240, localRadius: 2, preprocessing: network.preprocessing };

function randomUnit(n: number, c: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return normaliseRows(
    Float32Array.from({ length: n * c }, () => r() - 0.5),
    c,
  );
}

describe('matching', () => {
  it('the ONNX graph computes what the tfjs ops compute, window and labels included', async () => {
    const [p, r, c, k, h, w] = [12, 12, 5, 2, 3, 4];
    const q = randomUnit(p, c, 1);
    const g = randomUnit(r, c, 2);
    const l = randomUnit(p, c, 3);
    const rand = mulberry32(4);
    const gl = Float32Array.from({ length: k * r }, () => (rand() < 0.4 ? 1 : 0));
    const ll = Float32Array.from({ length: k * p }, () => (rand() < 0.4 ? 1 : 0));
    const win = windowPenalty(h, w, 1);
    const session = await ort.InferenceSession.create(buildMatchGraph());
    const T = ort.Tensor;
    const out = await session.run({
      query: new T('float32', q, [p, c]),
      global_keys: new T('float32', g, [r, c]),
      global_labels: new T('float32', gl, [k, r]),
      local_keys: new T('float32', l, [p, c]),
      local_labels: new T('float32', ll, [k, p]),
      window: new T('float32', win, [p, p]),
    });
    const expected = tf.tidy(() => {
      const qt = tf.tensor3d(q, [1, p, c]);
      const a = matchMaps(distanceMatrix(qt, tf.tensor3d(g, [1, r, c])), tf.tensor2d(gl, [k, r]));
      const b = matchMaps(
        distanceMatrix(qt, tf.tensor3d(l, [1, p, c])),
        tf.tensor2d(ll, [k, p]),
        tf.tensor2d(win, [p, p]),
      );
      return tf.concat([a, b], 2).dataSync();
    });
    expect(out.match.dims).toEqual([k, p, 6]);
    const got = out.match.data as Float32Array;
    for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(expected[i], 5);
    await session.release();
  });

  it('a label with no reference pixel gives the far value; the window keeps distant cells out', () => {
    const win = windowPenalty(3, 3, 1);
    expect(win[0 * 9 + 8]).toBe(FAR); // corner to corner
    expect(win[4 * 9 + 0]).toBe(0); // centre to corner
    const got = tf.tidy(() =>
      labelMinima(
        distanceMatrix(tf.tensor3d([1, 0], [1, 1, 2]), tf.tensor3d([1, 0, 0, 1], [1, 2, 2])),
        tf.tensor2d([0, 0], [1, 2]),
      ).dataSync(),
    );
    expect(got[0]).toBeCloseTo(1, 5); // no object pixel: as far as can be
    expect(got[1]).toBeCloseTo(0, 5); // the identical vector is "other"
  });
});

describe('working size and cell shares', () => {
  it('scales the short side down to the target, multiples of 8, never up', () => {
    expect(workingSize(854, 480, 240)).toEqual({ width: 424, height: 240 });
    expect(workingSize(96, 64, 240)).toEqual({ width: 96, height: 64 });
  });
  it('gives per object the share of each cell', () => {
    const mask = new Uint8Array(16); // 4x4, 2x2 cells
    mask[0] = 9;
    mask[1] = 9;
    mask[15] = 3;
    const s = cellShares(mask, 4, 4, 2, 2, [3, 9]);
    expect([...s]).toEqual([0, 0, 0, 0.25, 0.5, 0, 0, 0]);
  });
});

describe('boundary refinement', () => {
  it('moves an uncertain band onto the colour edge', () => {
    // 20x4: red on the left of x = 9, blue from x = 9; the coarse labels put the edge at x = 12, with an
    // uncertain band from x = 8 to 13.
    const W = 20;
    const H = 4;
    const rgb = new Uint8Array(W * H * 3);
    for (let i = 0; i < W * H; i++) rgb.set(i % W < 9 ? [200, 30, 30] : [30, 30, 200], i * 3);
    const slot = new Uint8Array(W * H).map((_, i) => (i % W < 12 ? 1 : 0));
    const confidence = new Float32Array(W * H).map((_, i) => (Math.abs((i % W) - 10.5) < 3 ? 0.6 : 1));
    refineBoundary({ width: W, height: H, rgb }, slot, confidence, 1);
    for (let y = 0; y < H; y++) {
      expect([...slot.subarray(y * W, (y + 1) * W)]).toEqual(
        Array.from({ length: W }, (_, x) => (x < 9 ? 1 : 0)),
      );
    }
  });
});

describe('boundary refinement of confident labels near their edge', () => {
  const W = 24;
  const H = 16;
  // The network is sure everywhere (0.99) but puts the object's edge at x = 12.
  const confidence = new Float32Array(W * H).fill(0.99);
  const slots = () => new Uint8Array(W * H).map((_, i) => (i % W < 12 ? 1 : 0));

  it('moves them onto a colour edge up to EDGE_BAND pixels away when colour is clear', () => {
    // Red object up to x = 10, blue background from x = 10: the labels are 2 pixels too wide.
    const rgb = new Uint8Array(W * H * 3);
    for (let i = 0; i < W * H; i++) rgb.set(i % W < 10 ? [200, 30, 30] : [30, 30, 200], i * 3);
    const slot = slots();
    refineBoundary({ width: W, height: H, rgb }, slot, confidence, 1);
    for (let y = 0; y < H; y++) {
      expect([...slot.subarray(y * W, (y + 1) * W)]).toEqual(
        Array.from({ length: W }, (_, x) => (x < 10 ? 1 : 0)),
      );
    }
  });

  it('leaves them where colour does not tell object from background (camouflage)', () => {
    // The same two colours at random on both sides: every colour has voters of both labels, in uneven numbers.
    const rand = mulberry32(3);
    const rgb = new Uint8Array(W * H * 3);
    for (let i = 0; i < W * H; i++) rgb.set(rand() < 0.5 ? [200, 30, 30] : [30, 30, 200], i * 3);
    const slot = slots();
    refineBoundary({ width: W, height: H, rgb }, slot, confidence, 1);
    const before = slots();
    const changed = slot.filter((v, i) => v !== before[i]).length;
    // Without the DECISIVE share 9 of the 384 pixels change here; a chance majority may still move one or two.
    expect(changed).toBeLessThanOrEqual(2);
  });
});

describe('boundary refinement across time', () => {
  it('labels an uncertain pixel by the previous frame where its own frame has no confident pixel of its colour', () => {
    // A green patch (x 10-11) inside an uncertain band, red and blue confident around it: in its own frame
    // nothing green votes, so the network's label (background) stays; the previous frame had the patch on
    // object 1, and with it the patch becomes object 1.
    const W = 20;
    const H = 4;
    const rgb = new Uint8Array(W * H * 3);
    for (let i = 0; i < W * H; i++) {
      const x = i % W;
      rgb.set(x === 10 || x === 11 ? [30, 200, 30] : x < 9 ? [200, 30, 30] : [30, 30, 200], i * 3);
    }
    const confidence = new Float32Array(W * H).map((_, i) => (Math.abs((i % W) - 10.5) < 3 ? 0.6 : 1));
    const slotsBefore = new Uint8Array(W * H).map((_, i) => (i % W < 9 ? 1 : 0));
    const alone = Uint8Array.from(slotsBefore);
    refineBoundary({ width: W, height: H, rgb }, alone, confidence, 1);
    expect(alone[10]).toBe(0);
    const previousSlots = new Uint8Array(W * H).map((_, i) => (i % W < 12 ? 1 : 0));
    const withPrevious = Uint8Array.from(slotsBefore);
    refineBoundary({ width: W, height: H, rgb }, withPrevious, confidence, 1, undefined, {
      frame: { width: W, height: H, rgb },
      slots: previousSlots,
    });
    for (let y = 0; y < H; y++) {
      expect(withPrevious[y * W + 10]).toBe(1);
      expect(withPrevious[y * W + 11]).toBe(1);
      expect(withPrevious[y * W + 12]).toBe(0); // blue: the previous frame's blue was background
    }
  });
});

describe('the tracker on both engines', () => {
  it.each([
    ['plain', {}],
    ['batch norm and colour key', { batch_norm: true, colour_key: true }],
  ])(
    '%s: tfjs and onnxruntime give the same masks with the first mask ids, and tfjs frees its tensors',
    async (_, extra) => {
      const { encoder, decoder } = build(network.parseSettings({ ...settings, ...extra }));
      const tfjs = new TfjsTrackerEngine(encoder, decoder);
      const onnx = await OrtTrackerEngine.create(ort, { encoderModel: encoder, decoderModel: decoder }, 1);
      const a = await MatchTracker.create(tfjs, first, firstMask, opts);
      const b = await MatchTracker.create(onnx, first, firstMask, opts);
      const before = tf.memory().numTensors;
      let differing = 0;
      for (let t = 1; t < clip.length; t++) {
        const frame = { width: 64, height: 48, rgb: clip[t].rgb };
        const ma = await a.next(frame);
        const mb = await b.next(frame);
        for (const v of ma) expect([0, 4, 200]).toContain(v);
        for (let i = 0; i < ma.length; i++) if (ma[i] !== mb[i]) differing++;
        expect(tf.memory().numTensors).toBe(before);
      }
      expect(differing).toBeLessThan(clip.length * 64 * 48 * 0.001); // float rounding at ties only
      await a.dispose();
      await b.dispose();
      await onnx.dispose();
      encoder.dispose();
      decoder.dispose();
    },
  );

  it('keeps the given frames and at most memoryKeep predicted ones as references, however long the video', async () => {
    const { encoder, decoder } = build();
    const engine = new TfjsTrackerEngine(encoder, decoder);
    const counts: number[] = [];
    const counting = Object.assign(Object.create(engine) as TfjsTrackerEngine, {
      match: (...args: Parameters<TfjsTrackerEngine['match']>) => {
        counts.push(args[1].count);
        return engine.match(...args);
      },
    });
    const tracker = await MatchTracker.create(counting, first, firstMask, {
      ...opts,
      memoryEvery: 2,
      memoryKeep: 2,
    });
    for (let t = 0; t < 12; t++) await tracker.next({ width: 64, height: 48, rgb: clip[1 + (t % 4)].rgb });
    const cells = (64 / 8) * (48 / 8);
    // Frames 1-2: the first frame alone; frame 2 joins (3-4: two), frame 4 joins (5-...: three, the bound).
    expect(counts.slice(0, 6)).toEqual([1, 1, 2, 2, 3, 3].map((r) => r * cells));
    expect(Math.max(...counts)).toBe(3 * cells);
    expect(counts[counts.length - 1]).toBe(3 * cells);
    await tracker.dispose();
    encoder.dispose();
    decoder.dispose();
  });

  it('follows an object added on a later frame with its own id', async () => {
    const { encoder, decoder } = build();
    const tracker = await MatchTracker.create(
      new TfjsTrackerEngine(encoder, decoder),
      first,
      firstMask,
      opts,
    );
    await tracker.next({ width: 64, height: 48, rgb: clip[1].rgb });
    const added = new Uint8Array(64 * 48);
    for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) added[y * 64 + x] = 77;
    const m2 = await tracker.next({ width: 64, height: 48, rgb: clip[2].rgb }, added);
    expect(m2[0]).toBe(77);
    const m3 = await tracker.next({ width: 64, height: 48, rgb: clip[3].rgb });
    for (const v of m3) expect([0, 4, 77, 200]).toContain(v);
    await expect(tracker.next({ width: 32, height: 48, rgb: new Uint8Array(32 * 48 * 3) })).rejects.toThrow(
      /32x48.*64x48/,
    );
    await tracker.dispose();
  });
});

describe('training and checkpoints', () => {
  it('a few steps change the weights, keep tensors flat; the checkpoint reloads on both engines with the same masks', async () => {
    const { encoder, decoder } = build();
    const before = encoder.getWeights()[0].dataSync().slice();
    const counts: number[] = [];
    const pre = network.preprocessing;
    await trainTracker({
      models: { encoder, decoder },
      preprocessing: pre,
      steps: 3,
      batchSize: 1,
      clipSize: { width: 24, height: 24 },
      learningRate: 1e-3,
      localRadius: 2,
      seed: 3,
      nextClip: (rand, size) => generatedClip(size, Math.floor(rand() * 1e9), rand),
      onStep: (s) => {
        expect(Number.isFinite(s.loss)).toBe(true);
        counts.push(tf.memory().numTensors);
      },
    });
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(encoder.getWeights()[0].dataSync()).not.toEqual(before);
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tracker-ckpt-'));
    try {
      await writeTrackerFiles(dir, {
        encoder,
        decoder,
        config: {
          network: 'tracker',
          settings,
          preprocessing: pre,
          tracker: { local_radius: 2, short_side: 240, clip_size: 24, steps: 3 },
        },
        trainConfig: {},
      });
      const masks: Uint8Array[] = [];
      for (const engine of ['tfjs', 'onnxruntime'] as const) {
        const loaded = await loadTracker(dir, engine === 'tfjs' ? { engine } : { engine, ort, threads: 1 });
        const t = await MatchTracker.create(loaded.engine, first, firstMask, loaded.options);
        masks.push(await t.next({ width: 64, height: 48, rgb: clip[1].rgb }));
        await t.dispose();
        await loaded.engine.dispose();
      }
      let differing = 0;
      for (let i = 0; i < masks[0].length; i++) if (masks[0][i] !== masks[1][i]) differing++;
      expect(differing).toBeLessThan(10);
      await fsp.writeFile(path.join(dir, 'config.json'), JSON.stringify({ task: 'semantic_segmentation' }));
      await expect(loadTracker(dir, { engine: 'tfjs' })).rejects.toThrow(
        /config\.json.*task|task.*config\.json/s,
      );
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('steps at the rates of the schedule it is given, and the tracker default unless lr_schedule is set', async () => {
    const { encoder, decoder } = build();
    const polyGiven = { network: 'tracker', lr_schedule: { name: 'poly', power: 2 } };
    const poly = resolveTrainConfig(polyGiven).lr_schedule;
    expect(trackerSchedule(poly, polyGiven)).toEqual({ schedule: poly, from: 'lr_schedule' });
    const plainGiven = { network: 'tracker' };
    const plain = resolveTrainConfig(plainGiven).lr_schedule;
    expect(trackerSchedule(plain, plainGiven)).toEqual({
      schedule: TRACKER_SCHEDULE,
      from: 'the tracker default',
    });
    // Set to the schema's default on purpose (constant): that is what it trains with.
    const constantGiven = { network: 'tracker', lr_schedule: { name: 'constant' } };
    const constant = resolveTrainConfig(constantGiven).lr_schedule;
    expect(constant).toEqual(plain);
    expect(trackerSchedule(constant, constantGiven)).toEqual({ schedule: constant, from: 'lr_schedule' });
    for (const schedule of [poly, undefined]) {
      const rates: number[] = [];
      await trainTracker({
        models: { encoder, decoder },
        preprocessing: network.preprocessing,
        steps: 3,
        batchSize: 1,
        clipSize: { width: 24, height: 24 },
        learningRate: 1e-3,
        ...(schedule === undefined ? {} : { schedule }),
        localRadius: 2,
        seed: 3,
        nextClip: (rand, size) => generatedClip(size, Math.floor(rand() * 1e9), rand),
        onStep: (s) => void rates.push(s.learningRate),
      });
      // poly with power 2 goes to 0; the tracker's cosine only to a tenth.
      expect(rates).toEqual(
        [0, 1, 2].map((step) => learningRateAt(1e-3, step, 3, schedule ?? TRACKER_SCHEDULE)),
      );
      expect(rates[2]).toBeCloseTo(schedule === undefined ? 1e-3 * 0.325 : 1e-3 / 9, 9);
    }
  });

  it('precise BN sets the batch norms from training clips of its own stream, the same on every run', async () => {
    const bnStats = (m: { encoder: tf.LayersModel; decoder: tf.LayersModel }): number[] =>
      [m.encoder, m.decoder].flatMap((model) =>
        model.layers
          .filter((l) => l.getClassName() === 'BatchNormalization')
          .flatMap((l) =>
            l
              .getWeights()
              .slice(2)
              .flatMap((w) => Array.from(w.dataSync())),
          ),
      );
    const drawn: number[] = [];
    const run = async (step: number) => {
      const models = build();
      const before = bnStats(models);
      const result = await trackerPreciseBn({
        models,
        preprocessing: network.preprocessing,
        batches: 3,
        batchSize: 2,
        clipSize: { width: 24, height: 24 },
        localRadius: 2,
        seed: 5,
        step,
        nextClip: (rand, size) => {
          const seed = Math.floor(rand() * 1e9);
          drawn.push(seed);
          return generatedClip(size, seed, rand);
        },
      });
      const after = bnStats(models);
      models.encoder.dispose();
      models.decoder.dispose();
      return { result, before, after };
    };
    const tensors = tf.memory().numTensors;
    const a = await run(10);
    const b = await run(10);
    const c = await run(20);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(a.result.layers).toBeGreaterThan(0);
    expect(a.result.batches).toBe(3);
    expect(a.after).not.toEqual(a.before);
    expect(b.after).toEqual(a.after);
    expect(c.after).not.toEqual(a.after);
    // Its clips are not the training stream's (clipRandom) at that step.
    const training = clipRandom(5, 10, 0);
    expect(drawn.slice(0, 2)).not.toEqual([Math.floor(training() * 1e9), Math.floor(training() * 1e9)]);
  });

  it('packs clips with one object each and skips clips without one', () => {
    const rand = mulberry32(1);
    const c = generatedClip({ width: 16, height: 16 }, 5, rand);
    const empty = { ...c, ids: [new Uint8Array(256), c.ids[1], c.ids[2]] as typeof c.ids };
    const batch = packClips([c, empty], network.preprocessing, rand);
    expect(batch?.n).toBe(1);
    expect(packClips([empty], network.preprocessing, rand)).toBeNull();
  });
});
