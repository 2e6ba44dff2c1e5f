/**
 * @jest-environment ./test/onnx/ort-environment.js
 *
 * Test-time adaptation: a tracker over a checkpoint that trains on each video's first frame before tracking it.
 * Each video starts again from the checkpoint's weights (the same first frame adapted twice tracks the same),
 * adaptation changes what is tracked, 0 steps is the plain tracker, one video at a time, tensors flat, and the
 * onnxruntime engine built from the adapted models tracks as tfjs does. The network is tiny and untrained: these
 * are the mechanics; what adaptation gains is measured on held-out clips (docs/benchmarks.md).
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { initBackend } from '../../../src/backend/select';
import { adaptingTrackerFactory, firstFrameImage } from '../../../src/tasks/video-tracking/adapt';
import type { Frame } from '../../../src/tasks/video-tracking/baselines';
import { renderClip } from '../../../src/tasks/video-tracking/generated-clips';
import { MatchTracker } from '../../../src/tasks/video-tracking/match-tracker';
import { loadTracker } from '../../../src/tasks/video-tracking/tracker-checkpoint';
import { writeTrackerCheckpoint } from '../../helpers/tiny-checkpoints';

const W = 64;
const H = 48;
const clip = [...renderClip({ width: W, height: H, frames: 4, objects: { min: 2, max: 2 } }, 21)];
const frames: Frame[] = clip.map((f) => ({ width: W, height: H, rgb: f.rgb }));
const firstMask = clip[0].ids;
let dir: string;

beforeAll(async () => {
  await initBackend({ force: 'wasm', env: {} }); // as the tasks and the CLI run it (the cpu backend is 20x slower)
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'adapt-'));
  await writeTrackerCheckpoint(dir);
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

async function track(
  make: (f: Frame, m: Uint8Array) => Promise<{ next: MatchTracker['next']; dispose?: () => Promise<void> }>,
): Promise<Uint8Array[]> {
  const tracker = await make(frames[0], firstMask);
  const out: Uint8Array[] = [];
  for (const f of frames.slice(1)) out.push(await tracker.next(f));
  await tracker.dispose?.();
  return out;
}

describe('test-time adaptation', () => {
  it('restarts each video from the checkpoint, changes the masks, keeps tensors flat, one video at a time', async () => {
    const adapting = await adaptingTrackerFactory(dir, {
      engine: 'tfjs',
      adapt: { steps: 3, learningRate: 0.01, clipShortSide: 32 },
    });
    const plain = await loadTracker(dir, { engine: 'tfjs' });
    const before = await track((f, m) => MatchTracker.create(plain.engine, f, m, plain.options));
    const first = await track(adapting.make);
    const tensors = tf.memory().numTensors;
    const second = await track(adapting.make);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(second).toEqual(first); // reset to the checkpoint, then the same seeded steps
    const changed = first.reduce((n, m, t) => n + m.filter((v, i) => v !== before[t][i]).length, 0);
    expect(changed).toBeGreaterThan(0);
    const open = await adapting.make(frames[0], firstMask);
    await expect(adapting.make(frames[0], firstMask)).rejects.toThrow(/one video at a time/);
    await open.dispose?.();
    await adapting.close();
    await plain.engine.dispose();
  }, 60_000);

  it('with 0 steps is the plain tracker, and on onnxruntime tracks as on tfjs', async () => {
    const plain = await loadTracker(dir, { engine: 'tfjs' });
    const expected = await track((f, m) => MatchTracker.create(plain.engine, f, m, plain.options));
    const none = await adaptingTrackerFactory(dir, { engine: 'tfjs', adapt: { steps: 0 } });
    expect(await track(none.make)).toEqual(expected);
    await none.close();
    const opts = { steps: 3, learningRate: 0.01, clipShortSide: 32 };
    const viaTfjs = await adaptingTrackerFactory(dir, { engine: 'tfjs', adapt: opts });
    const viaOrt = await adaptingTrackerFactory(dir, { engine: 'onnxruntime', ort, threads: 1, adapt: opts });
    const a = await track(viaTfjs.make);
    const b = await track(viaOrt.make);
    const differing = a.reduce((n, m, t) => n + m.filter((v, i) => v !== b[t][i]).length, 0);
    expect(differing).toBeLessThan(a.length * W * H * 0.002); // float rounding at ties only
    await viaTfjs.close();
    await viaOrt.close();
    await plain.engine.dispose();
  }, 60_000);

  it('makes pseudo-clip images at the short side asked, sides multiples of 8, the long side capped', async () => {
    const img = await firstFrameImage(frames[0], firstMask, 32);
    expect([img.width, img.height]).toEqual([40, 32]);
    expect(img.ids).toHaveLength(40 * 32);
    const wide = { width: 400, height: 40, rgb: new Uint8Array(400 * 40 * 3) };
    const capped = await firstFrameImage(wide, new Uint8Array(400 * 40), 32);
    expect([capped.width, capped.height]).toEqual([80, 32]);
  });
});
