/**
 * The click task in `npm run example`: train a click network through the training entry point on a generated
 * project, score it with the NoC protocol on every object of fresh images (clicks placed by the simulated user at
 * the image's resolution, each step through `segmentFromClicks`), and write a mask and an overlay for one click.
 */
import path from 'node:path';
import { initBackend } from '../backend/select';
import { projectItems, readItemAnnotation, readSingleProject } from '../format/project-reader';
import { decodeImage } from '../image/decode';
import { networkSignature } from '../plugins';
import { nextClick } from '../tasks/click-segmentation/clicks';
import { evaluateClicksOnProject } from '../tasks/click-segmentation/evaluate-project';
import { writeMaskPng, writeOverlayPng } from '../tasks/click-segmentation/render';
import { ClickSegmenter } from '../tasks/click-segmentation/segment';
import { objectMasks } from '../tasks/click-segmentation/training';
import { writeTrainTaskFolder, type AgentLine } from './run-task';
import { generateSyntheticProject } from './synthetic-project';

const SHAPES = { width: 128, height: 96, objectsPerImage: { min: 1, max: 3 } };

export async function clickExample(opts: {
  root: string;
  seed: number;
  runTask: (entry: string, taskDir: string) => Promise<AgentLine[]>;
}): Promise<string> {
  const epochs = Number(process.env.EXAMPLE_CLICK_EPOCHS ?? '24');
  const started = Date.now();
  const taskDir = path.join(opts.root, 'click-train-task');
  console.log(`Click segmentation: generating a training project in ${path.join(taskDir, 'data')} ...`);
  await generateSyntheticProject({
    dir: path.join(taskDir, 'data'),
    projectName: 'click shapes',
    datasets: [{ name: 'ds1', count: 160 }],
    folds: { val: 0.2 },
    seed: 5,
    ...SHAPES,
  });
  await writeTrainTaskFolder(taskDir, {
    network: 'clicks',
    input_size: { width: 96, height: 96 },
    batch_size: { train: 8, val: 8 },
    epochs,
    val_every: epochs / 4,
    lr: 0.003,
    seed: opts.seed,
    // Every object is an instance: no background or neutral class plays a part.
    special_classes: { background: null, neutral: null },
  });
  console.log(
    `Training a click network for ${epochs} epochs (node dist/src/train.js, "network": "clicks") ...`,
  );
  const lines = await opts.runTask('train.js', taskDir);
  const last = lines.filter((l) => l.event_type === 'EventType.CHECKPOINT').at(-1);
  if (last === undefined) throw new Error('click training produced no checkpoint');
  const checkpointDir = path.join(taskDir, 'results', String(last.subdir));

  const testDir = path.join(opts.root, 'click-test');
  const test = await generateSyntheticProject({
    dir: testDir,
    projectName: 'new click shapes',
    datasets: [{ name: 'test', count: 24 }],
    seed: 98,
    ...SHAPES,
  });
  await initBackend();
  const segmenter = await ClickSegmenter.load(checkpointDir, { signatureOf: networkSignature });
  try {
    console.log(
      `Clicking on every object of ${test.items.length} new images (${segmenter.engine.description}) ...`,
    );
    const project = await readSingleProject(testDir);
    const score = await evaluateClicksOnProject({ segmenter, project });
    // One click on the first object of the first image, as `sly-nn segment` would make it.
    const item = [...projectItems(project)][0];
    const image = await decodeImage(item.imagePath);
    const gt = objectMasks(await readItemAnnotation(project, item), image)[0];
    const click = nextClick(gt, new Uint8Array(gt.length), image);
    if (click === null) throw new Error('the first test object is empty');
    const result = await segmenter.segmentFromClicks(image, [click]);
    const maskFile = path.join(testDir, 'mask.png');
    const overlayFile = path.join(testDir, 'overlay.png');
    await writeMaskPng(maskFile, result);
    await writeOverlayPng(overlayFile, image, result, [click]);
    const f = (v: number | undefined): string => (v === undefined ? 'n/a' : v.toFixed(3));
    console.log('');
    console.log(`Click segmentation done in ${((Date.now() - started) / 1000).toFixed(0)} s.`);
    console.log(`  click checkpoint: ${checkpointDir}`);
    console.log(
      `  on ${score.objects} objects of new images: NoC@85 ${f(score.noc['85'])}, NoC@90 ${f(score.noc['90'])} ` +
        `(never reached in 20 clicks: ${f(score.failed['85'])} / ${f(score.failed['90'])}), ` +
        `IoU after 1 click ${f(score.iouAt['1'])}, after 3 ${f(score.iouAt['3'])}`,
    );
    console.log(`  one click at (${click.x}, ${click.y}) on ${item.name}: ${maskFile}, ${overlayFile}`);
    console.log(
      `  try it: node dist/src/cli/main.js segment --checkpoint '${checkpointDir}' --image '${item.imagePath}' ` +
        `--point ${click.x},${click.y} --out mask.png --overlay overlay.png`,
    );
  } finally {
    await segmenter.dispose();
  }
  return checkpointDir;
}
