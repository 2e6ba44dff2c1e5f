/**
 * `npm run bench:track`: the trained tracker's speed on a 480x854 video processed at a short side of 240, on
 * onnxruntime (the path `sly-nn track --checkpoint` and inference.py take), for 1 and 3 objects, and its memory
 * on a long video.
 * - A/B, alternating block by block in the same run: the tracker following 1 object and 3 objects on the same
 *   frames, timed per frame end to end (resize to 240, encode, match, decode, merge, upsample to 480x854, arg-max);
 *   the difference is the cost of the extra objects. A third arm follows 1 object without the spatial gate, the
 *   memory frames, the colour votes across time, the edge band and the motion prior: their cost.
 * - Long run: LONG frames (default 2000) with 1 object; RSS at frame 500 and at the end.
 * - Test-time adaptation: the time from the first frame to a tracker adapted to it (ADAPT_STEPS steps, default
 *   20, on tfjs), and the adapted tracker's ms per frame.
 * - Decode included: trackVideo on an mp4 of the same frames (ffmpeg decoding and scaling to 240 in the pipe,
 *   index PNGs written), frames per second end to end.
 * Weights: CKPT (a tracker checkpoint folder), else the default settings seeded (speed does not depend on what
 * the weights learnt). Frames: a generated clip rendered once (FRAMES, default 48) and played back and forth.
 * Environment: CKPT, FRAMES, BLOCK (frames per A/B block, default 25), BLOCKS (per arm, default 6), LONG, THREADS,
 * ADAPT_STEPS.
 * The last line is one JSON object.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { network } from '../plugin/tracker';
import { withSeededRandom } from '../src/network/seeded-build';
import { initBackend } from '../src/backend/select';
import { loadOnnxRuntime } from '../src/onnx/runtime';
import { adaptingTrackerFactory } from '../src/tasks/video-tracking/adapt';
import { encodeIndexPng } from '../src/format/png-chunks';
import { vocPalette } from '../src/format/palette';
import type { Frame } from '../src/tasks/video-tracking/baselines';
import { renderClip } from '../src/tasks/video-tracking/generated-clips';
import { MatchTracker } from '../src/tasks/video-tracking/match-tracker';
import { loadTracker, writeTrackerFiles } from '../src/tasks/video-tracking/tracker-checkpoint';
import { trackVideo } from '../src/tasks/video-tracking/track-video';
import { openVideoWriter } from '../src/video/writer';

const W = 854;
const H = 480;
const SHORT_SIDE = 240;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
const round = (v: number, d = 2): number => Math.round(v * 10 ** d) / 10 ** d;

async function main(): Promise<void> {
  const env = process.env;
  const threads = Number(env.THREADS ?? os.cpus().length);
  const frameCount = Number(env.FRAMES ?? 48);
  const block = Number(env.BLOCK ?? 25);
  const blocks = Number(env.BLOCKS ?? 6);
  const long = Number(env.LONG ?? 2000);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-track-'));
  try {
    let ckpt = env.CKPT;
    if (ckpt === undefined) {
      ckpt = path.join(work, 'ckpt');
      await fs.mkdir(ckpt);
      const settings = network.parseSettings(undefined);
      const models = withSeededRandom(1, () => ({
        encoder: network.buildEncoder(settings),
        decoder: network.buildDecoder(settings),
      }));
      await writeTrackerFiles(ckpt, {
        ...models,
        config: {
          network: 'tracker',
          settings,
          preprocessing: network.preprocessing,
          tracker: { local_radius: 4, short_side: SHORT_SIDE, clip_size: 96, steps: 0 },
        },
        trainConfig: {},
      });
    }
    const ort = await loadOnnxRuntime();
    const loaded = await loadTracker(ckpt, { engine: 'onnxruntime', ort, threads, shortSide: SHORT_SIDE });
    const rendered = [
      ...renderClip({ width: W, height: H, frames: frameCount, objects: { min: 3, max: 3 } }, 5),
    ];
    const frames: Frame[] = rendered.map((f) => ({ width: W, height: H, rgb: f.rgb }));
    // Played forwards then backwards: motion stays continuous however long the run.
    const frameAt = (t: number): Frame => {
      const period = 2 * (frameCount - 1);
      const k = t % period;
      return frames[k < frameCount ? k : period - k];
    };
    const firstMask = (objects: number): Uint8Array => rendered[0].ids.map((v) => (v <= objects ? v : 0));
    const make = (objects: number, plain = false): Promise<MatchTracker> =>
      MatchTracker.create(loaded.engine, frames[0], firstMask(objects), {
        ...loaded.options,
        ...(plain
          ? {
              gate: false,
              memoryEvery: 0,
              refineAcrossTime: false,
              refineNearEdges: false,
              motionPrior: false,
            }
          : {}),
      });

    // A/B blocks: 1 object, 3 objects, 1 object plain, alternating, each continuing its own video.
    const armNames = ['one', 'three', 'plain'] as const;
    const arms = { one: await make(1), three: await make(3), plain: await make(1, true) };
    const times: Record<(typeof armNames)[number], number[]> = { one: [], three: [], plain: [] };
    const position = { one: 1, three: 1, plain: 1 };
    for (let w = 0; w < 3; w++) {
      for (const arm of armNames) await arms[arm].next(frameAt(position[arm]++));
    }
    for (let b = 0; b < blocks; b++) {
      for (const arm of armNames) {
        for (let i = 0; i < block; i++) {
          const t0 = performance.now();
          await arms[arm].next(frameAt(position[arm]++));
          times[arm].push(performance.now() - t0);
        }
      }
    }
    const ms1 = median(times.one);
    const ms3 = median(times.three);
    const msPlain = median(times.plain);
    console.log(
      `1 object: ${round(ms1)} ms/frame (${round(1000 / ms1, 1)} fps); 3 objects: ${round(ms3)} ms/frame; ` +
        `1 object without gate, memory, votes across time and edge band: ${round(msPlain)} ms/frame`,
    );

    // Long run, 1 object: RSS at frame 500 and at the end.
    const tracker = await make(1);
    let rss500 = 0;
    const longStart = performance.now();
    for (let t = 1; t <= long; t++) {
      await tracker.next(frameAt(t));
      if (t === Math.min(500, long)) rss500 = process.memoryUsage().rss;
      if (t % 500 === 0)
        console.log(`long run: frame ${t}, rss ${round(process.memoryUsage().rss / 2 ** 20, 1)} MiB`);
    }
    const longFps = long / ((performance.now() - longStart) / 1000);
    const rssEnd = process.memoryUsage().rss;

    // Test-time adaptation: its cost once per video, then the adapted tracker's speed.
    const adaptSteps = Number(env.ADAPT_STEPS ?? 20);
    await initBackend();
    const adapting = await adaptingTrackerFactory(ckpt, {
      engine: 'onnxruntime',
      ort,
      threads,
      shortSide: SHORT_SIDE,
      adapt: { steps: adaptSteps },
    });
    const adaptStart = performance.now();
    const adapted = await adapting.make(frames[0], firstMask(1));
    const adaptMs = performance.now() - adaptStart;
    const adaptedTimes: number[] = [];
    for (let t = 1; t <= block * 2; t++) {
      const t0 = performance.now();
      await adapted.next(frameAt(t));
      adaptedTimes.push(performance.now() - t0);
    }
    await adapted.dispose?.();
    await adapting.close();
    console.log(
      `adaptation: ${adaptSteps} steps in ${round(adaptMs / 1000, 1)} s, then ${round(median(adaptedTimes))} ms/frame`,
    );

    // With decoding: an mp4 of the frames through trackVideo (ffmpeg scales to 240 in its pipe).
    const video = path.join(work, 'clip.mp4');
    const writer = openVideoWriter(video, { width: W, height: H, fps: 25 });
    const videoFrames = Math.min(300, long);
    for (let t = 0; t < videoFrames; t++) await writer.write(frameAt(t).rgb);
    await writer.close();
    const maskFile = path.join(work, 'first.png');
    await fs.writeFile(maskFile, encodeIndexPng({ width: W, height: H, data: firstMask(1) }, vocPalette()));
    const videoStart = performance.now();
    await trackVideo({
      input: video,
      firstMaskFile: maskFile,
      outDir: path.join(work, 'masks'),
      shortSide: SHORT_SIDE,
      makeTracker: (f, m) => MatchTracker.create(loaded.engine, f, m, loaded.options),
    });
    const videoFps = videoFrames / ((performance.now() - videoStart) / 1000);
    await loaded.engine.dispose();

    console.log(
      JSON.stringify({
        bench: 'track',
        video: `${W}x${H}`,
        short_side: SHORT_SIDE,
        engine: 'onnxruntime',
        threads,
        weights: env.CKPT === undefined ? 'seeded' : env.CKPT,
        one_object_ms_p50: round(ms1),
        one_object_fps: round(1000 / ms1, 1),
        three_objects_ms_p50: round(ms3),
        ms_per_extra_object: round((ms3 - ms1) / 2),
        one_object_plain_ms_p50: round(msPlain),
        adapt_steps: adaptSteps,
        adapt_s: round(adaptMs / 1000, 2),
        adapted_ms_p50: round(median(adaptedTimes)),
        long_frames: long,
        long_fps: round(longFps, 1),
        rss_mib_at_500: round(rss500 / 2 ** 20, 1),
        rss_mib_at_end: round(rssEnd / 2 ** 20, 1),
        rss_growth: round(rssEnd / rss500 - 1, 3),
        with_decode_fps: round(videoFps, 1),
        with_decode_frames: videoFrames,
      }),
    );
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
