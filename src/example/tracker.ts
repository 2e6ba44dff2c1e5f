/**
 * The tracker in `npm run example -- --tracker`: train a mask tracker (`"network": "tracker"`) through the
 * training entry point on generated clips and pseudo-clips of a generated image project, then track held-out
 * generated clips (texture families and motions training never saw) with the checkpoint and with the two
 * baselines, score all three with the DAVIS measures, and write an overlay video (frame | prediction | ground
 * truth) of one clip. The checkpoint is ready for `sly-nn track --checkpoint` and for inference.py on a video
 * project.
 *
 * Environment: EXAMPLE_TRACKER_EPOCHS (x 100 steps of 4 clips; default 10), EXAMPLE_TRACKER_CLIPS (held-out
 * clips, default 8).
 */
import * as os from 'node:os';
import path from 'node:path';
import { initBackend } from '../backend/select';
import { loadOnnxRuntime } from '../onnx/runtime';
import { adaptingTrackerFactory } from '../tasks/video-tracking/adapt';
import { makeBaseline, type TrackerFactory } from '../tasks/video-tracking/baselines';
import { generateSyntheticClips } from '../tasks/video-tracking/generated-clips';
import { MatchTracker } from '../tasks/video-tracking/match-tracker';
import { heldOutClipStyle } from '../tasks/video-tracking/run-training';
import { loadTracker } from '../tasks/video-tracking/tracker-checkpoint';
import { scoreByCamouflage, scoreTracker, type TrackerScore } from '../tasks/video-tracking/track-davis';
import { trackVideo } from '../tasks/video-tracking/track-video';
import { writeTrainTaskFolder, type AgentLine } from './run-task';
import { generateSyntheticProject } from './synthetic-project';

/** Test-time adaptation steps for the adapted contender (adapt.ts; 20 measured best per second spent). */
const ADAPT_STEPS = 20;
const CLIP_SIZE = { width: 192, height: 112 };

export async function trackerExample(opts: {
  root: string;
  seed: number;
  runTask: (entry: string, taskDir: string) => Promise<AgentLine[]>;
}): Promise<void> {
  const epochs = Number(process.env.EXAMPLE_TRACKER_EPOCHS ?? '10');
  const heldOut = Number(process.env.EXAMPLE_TRACKER_CLIPS ?? '8');
  const started = Date.now();
  const taskDir = path.join(opts.root, 'tracker-train-task');
  console.log(
    `Mask tracking: generating an image project for pseudo-clips in ${path.join(taskDir, 'data')} ...`,
  );
  await generateSyntheticProject({
    dir: path.join(taskDir, 'data'),
    projectName: 'tracker shapes',
    datasets: [{ name: 'ds1', count: 64 }],
    folds: { val: 0.1 },
    seed: 7,
    width: 128,
    height: 96,
    objectsPerImage: { min: 1, max: 3 },
  });
  await writeTrainTaskFolder(taskDir, {
    network: 'tracker',
    input_size: { width: 96, height: 96 },
    batch_size: { train: 4, val: 4 },
    epochs,
    val_every: epochs / 5,
    lr: 0.002,
    seed: opts.seed,
    tracking: {
      steps_per_epoch: 100,
      sources: { generated: 3, project: 1 },
      val_clips: 6,
      val_frames: 16,
      // A quarter of the default: about 8 s before each of the 5 validations instead of 30.
      precise_bn_batches: 50,
    },
  });
  console.log(
    `Training a tracker for ${epochs * 100} steps (node dist/src/train.js, "network": "tracker"; about a minute a ` +
      'hundred steps on 2 cores) ...',
  );
  const lines = await opts.runTask('train.js', taskDir);
  // The best checkpoint by val J&F: the last one announced with best_now.
  const checkpoints = lines.filter((l) => l.event_type === 'EventType.CHECKPOINT');
  const best = checkpoints.filter((l) => l.best_now === true).at(-1) ?? checkpoints.at(-1);
  if (best === undefined) throw new Error('tracker training produced no checkpoint');
  const checkpointDir = path.join(taskDir, 'results', String(best.subdir));

  // Held-out clips: other texture families, faster, more camouflage than training.
  const davis = path.join(opts.root, 'tracker-held-out');
  const style = heldOutClipStyle(CLIP_SIZE, 24);
  const heldOutClips = await generateSyntheticClips({ dir: davis, clips: heldOut, seed: 1234, ...style });
  const ort = await loadOnnxRuntime();
  const loaded = await loadTracker(checkpointDir, { engine: 'onnxruntime', ort, threads: os.cpus().length });
  const trained: TrackerFactory = (f, m) => MatchTracker.create(loaded.engine, f, m, loaded.options);
  const scores: Record<string, TrackerScore> = {};
  // The same checkpoint adapted to each clip's first frame (adapt.ts; trains on tfjs, tracks on onnxruntime).
  await initBackend();
  const adapting = await adaptingTrackerFactory(checkpointDir, {
    engine: 'onnxruntime',
    ort,
    threads: os.cpus().length,
    adapt: { steps: ADAPT_STEPS },
  });
  const contenders: [string, TrackerFactory][] = [
    ['tracker', trained],
    [`tracker, adapted (${ADAPT_STEPS} steps)`, adapting.make],
    ['copy', async (f, m) => makeBaseline('copy', f, m)],
    ['colour-nn', async (f, m) => makeBaseline('colour-nn', f, m)],
  ];
  console.log(`Tracking ${heldOut} held-out clips of 24 frames (${CLIP_SIZE.width}x${CLIP_SIZE.height}) ...`);
  for (const [name, make] of contenders) {
    const outDir = path.join(
      opts.root,
      'tracker-results',
      name.startsWith('tracker,') ? 'tracker-adapted' : name,
    );
    scores[name] = await scoreTracker({ davisRoot: davis, outDir, makeTracker: make });
  }

  // An overlay video of the first clip: frame | prediction | ground truth.
  let video: string | undefined;
  try {
    video = path.join(opts.root, 'tracker-results', 'clip000-side-by-side.mp4');
    const frames = path.join(davis, 'JPEGImages', '480p', 'clip000');
    const truth = path.join(davis, 'Annotations', '480p', 'clip000');
    await trackVideo({
      input: frames,
      firstMaskFile: path.join(truth, '00000.png'),
      outDir: path.join(opts.root, 'tracker-results', 'clip000-masks'),
      videoOut: video,
      sideBySideDir: truth,
      makeTracker: trained,
    });
  } catch (e) {
    console.log(`  (no overlay video: ${e instanceof Error ? e.message : String(e)})`);
    video = undefined;
  } finally {
    await adapting.close();
    await loaded.engine.dispose();
  }

  const f3 = (v: number): string => v.toFixed(3);
  console.log('');
  console.log(`Mask tracking done in ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  console.log(`  checkpoint:  ${checkpointDir} (the best of ${checkpoints.length} by val J&F)`);
  const curve = lines
    .filter((l) => l.event_type === 'EventType.METRICS' && l.type === 'val')
    .map((l) => `${String(l.epoch)}: ${((l.metrics as Record<string, number>)['J&F'] ?? 0).toFixed(3)}`);
  console.log(`  val J&F by epoch: ${curve.join(', ')}`);
  console.log('  held-out clips (DAVIS measures, semi-supervised):');
  for (const [name, s] of Object.entries(scores)) {
    console.log(
      `    ${name.padEnd(29)} J&F ${f3(s.jf)}  J ${f3(s.j)}  F ${f3(s.f)}  (${s.fps.toFixed(1)} frames/s at ${CLIP_SIZE.width}x${CLIP_SIZE.height})`,
    );
  }
  // Objects in the background's colours: colour cannot tell them apart, only texture; where the figures part.
  const shown = (v: number): string => (Number.isNaN(v) ? '-' : f3(v));
  const byKind = Object.entries(scores).map(
    ([name, s]) => [name, scoreByCamouflage(s, heldOutClips)] as const,
  );
  console.log(
    `  by object (${byKind[0][1].camouflagedObjects} of ${scores.tracker.objects.length} in the background's ` +
      'colours): ' +
      byKind
        .map(([name, k]) => `${name} ${shown(k.camouflaged)} camouflaged / ${shown(k.plain)} plain`)
        .join(', '),
  );
  const better = Math.max(scores.copy.jf, scores['colour-nn'].jf);
  const adaptedName = `tracker, adapted (${ADAPT_STEPS} steps)`;
  for (const name of ['tracker', adaptedName]) {
    const margin = scores[name].jf - better;
    console.log(`  ${name} minus the better baseline: ${margin >= 0 ? '+' : ''}${f3(margin)} J&F`);
  }
  if (video !== undefined) console.log(`  overlay video: ${video}`);
  console.log(
    `  try it: sly-nn track VIDEO.mp4 --mask FIRST.png --out masks --checkpoint ${checkpointDir} --adapt-steps ${ADAPT_STEPS}`,
  );
}
