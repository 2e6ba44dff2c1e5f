/**
 * `npm run bench:track-quality`: J&F of a tracker checkpoint on a held-out set of generated clips (texture
 * families and speeds training never used: heldOutClipStyle), beside the two baselines, overall and for
 * camouflaged and plain objects: the figures of the README's tracker table, from one command.
 * - The set: CLIPS clips (default 96) of FRAMES frames (default 24) at 192x112 from SEED (default 20261209, the
 *   test set of docs/benchmarks.md since session 11; 20261208 was session 10's; 20261207 with 48 clips, 4242 with
 *   96, 777 with 32 and 1234 with 8 give the sets the settings and checkpoints were chosen on), written once
 *   under OUT (default a folder in the system's temp dir) and reused.
 * - The contenders: copy, colour-nn, the checkpoint (onnxruntime), and the checkpoint adapted ADAPT_STEPS steps
 *   (default 20; 0 leaves it out) to each clip's first frame.
 * Environment: CKPT (a tracker checkpoint folder; default models/tracker, the bundled one), CLIPS, FRAMES, SEED,
 * ADAPT_STEPS, OUT, THREADS; BASELINES=0 leaves the two baselines out (a checkpoint scored alone on a set whose
 * baselines are known: colour-nn takes minutes, the tracker under one).
 * The last line is one JSON object.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadOnnxRuntime } from '../src/onnx/runtime';
import { openCheckpointTracker } from '../src/tasks/video-tracking/adapt';
import { makeBaseline, type TrackerFactory } from '../src/tasks/video-tracking/baselines';
import { generateSyntheticClips, type SyntheticClip } from '../src/tasks/video-tracking/generated-clips';
import { heldOutClipStyle } from '../src/tasks/video-tracking/run-training';
import { scoreByCamouflage, scoreTracker } from '../src/tasks/video-tracking/track-davis';

const SIZE = { width: 192, height: 112 };

async function heldOutSet(
  dir: string,
  clips: number,
  frames: number,
  seed: number,
): Promise<SyntheticClip[]> {
  const listing = path.join(dir, 'clips.json');
  try {
    return JSON.parse(await fs.readFile(listing, 'utf8')) as SyntheticClip[];
  } catch {
    // Written to a fresh folder, then renamed: an interrupted run leaves no half set to reuse.
    const partial = `${dir}.partial`;
    await fs.rm(partial, { recursive: true, force: true });
    const written = await generateSyntheticClips({
      dir: partial,
      clips,
      seed,
      ...heldOutClipStyle(SIZE, frames),
    });
    await fs.writeFile(path.join(partial, 'clips.json'), JSON.stringify(written));
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rename(partial, dir);
    return written;
  }
}

async function main(): Promise<void> {
  const checkpoint = process.env.CKPT ?? path.join(__dirname, '..', '..', 'models', 'tracker');
  const clips = Number(process.env.CLIPS ?? 96);
  const frames = Number(process.env.FRAMES ?? 24);
  const seed = Number(process.env.SEED ?? 20261209);
  const adaptSteps = Number(process.env.ADAPT_STEPS ?? 20);
  const threads = Number(process.env.THREADS ?? os.cpus().length);
  const out = process.env.OUT ?? path.join(os.tmpdir(), 'sly-track-quality');
  const baselines = process.env.BASELINES !== '0';
  const davis = path.join(out, `held-out-${clips}-${frames}-${seed}`);
  const set = await heldOutSet(davis, clips, frames, seed);

  const ort = await loadOnnxRuntime();
  const plain = await openCheckpointTracker(checkpoint, { engine: 'onnxruntime', ort, threads });
  const adapted =
    adaptSteps > 0
      ? await openCheckpointTracker(checkpoint, {
          engine: 'onnxruntime',
          ort,
          threads,
          adapt: { steps: adaptSteps },
        })
      : null;
  const trackers: [string, TrackerFactory][] = [
    ['tracker', plain.make],
    ...(adapted === null ? [] : [[`adapted-${adaptSteps}`, adapted.make] as [string, TrackerFactory]]),
  ];
  const contenders: [string, TrackerFactory][] = [
    ...(baselines
      ? ([
          ['copy', async (f, m) => makeBaseline('copy', f, m)],
          ['colour-nn', async (f, m) => makeBaseline('colour-nn', f, m)],
        ] as [string, TrackerFactory][])
      : []),
    ...trackers,
  ];
  const scores: Record<string, { jf: number; camouflaged: number; plain: number; s: number }> = {};
  let camouflagedObjects = 0;
  // Each run's masks in a folder of its own (two runs sharing OUT, e.g. two seeds at once, wrote over each other's
  // results-<name>), removed at the end: the figures are the output.
  const masks = await fs.mkdtemp(path.join(out, 'masks-'));
  try {
    for (const [name, make] of contenders) {
      const started = Date.now();
      const score = await scoreTracker({
        davisRoot: davis,
        outDir: path.join(masks, name),
        makeTracker: make,
      });
      const byKind = scoreByCamouflage(score, set);
      camouflagedObjects = byKind.camouflagedObjects;
      scores[name] = {
        jf: round(score.jf),
        camouflaged: round(byKind.camouflaged),
        plain: round(byKind.plain),
        s: Math.round((Date.now() - started) / 1000),
      };
      console.log(
        `${name.padEnd(12)} J&F ${scores[name].jf.toFixed(3)}  camouflaged ${scores[name].camouflaged.toFixed(3)} / ` +
          `plain ${scores[name].plain.toFixed(3)}  (${scores[name].s} s)`,
      );
    }
  } finally {
    await plain.close();
    await adapted?.close();
    await fs.rm(masks, { recursive: true, force: true });
  }
  const better = baselines ? Math.max(scores.copy.jf, scores['colour-nn'].jf) : null;
  const margins =
    better === null
      ? null
      : Object.fromEntries(trackers.map(([name]) => [name, round(scores[name].jf - better)]));
  const objects = set.reduce((n, c) => n + c.objects, 0);
  console.log(
    JSON.stringify({
      bench: 'track-quality',
      checkpoint,
      clips,
      frames,
      seed,
      objects,
      camouflaged_objects: camouflagedObjects,
      scores,
      margin_over_better_baseline: margins,
    }),
  );
}

const round = (v: number): number => Math.round(v * 10000) / 10000;

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
