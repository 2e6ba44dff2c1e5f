/**
 * `npm run bench:train-task`: the whole training task, as the agent runs it (node dist/src/train.js in a task
 * folder), on a generated project of JPEG photos-sized images: decoding, rasterising, resizing, shuffling
 * and the steps together. bench:train times the steps alone on ready tensors; this one says what a user gets.
 * Env: N (images, 120; a quarter go to validation), WIDTH/HEIGHT (640x480), SIZE (network input, 128),
 * BATCH (8), EPOCHS (3; the first is the warm-up), TRAIN_ENGINE, TFJS_BACKEND (passed through).
 * The last line is one JSON object: train images/s over the epochs after the first, the validation time, the
 * peak RSS of the task process, and the engine the task chose.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTaskProcess, type AgentLine } from '../src/example/run-task';
import { generateSyntheticProject } from '../src/example/synthetic-project';

const N = Number(process.env.N ?? 120);
const WIDTH = Number(process.env.WIDTH ?? 640);
const HEIGHT = Number(process.env.HEIGHT ?? 480);
const SIZE = Number(process.env.SIZE ?? 128);
const BATCH = Number(process.env.BATCH ?? 8);
const EPOCHS = Number(process.env.EPOCHS ?? 3);

async function runTask(root: string): Promise<{ lines: AgentLine[]; peakRssMB: number }> {
  // The child reports its own peak RSS on stderr at exit (bench/report-rss.ts), without GNU time.
  const r = await runTaskProcess({
    script: path.resolve(__dirname, '../src/train.js'),
    taskDir: root,
    nodeArgs: ['--require', path.resolve(__dirname, 'report-rss.js')],
    stderr: 'collect',
  });
  const m = /peak-rss-mb=(\d+(\.\d+)?)/.exec(r.stderr);
  if (r.code !== 0) throw new Error(`the training task exited with ${r.code}\n${r.stderr.slice(-2000)}`);
  return { lines: r.lines, peakRssMB: m ? Number(m[1]) : 0 };
}

async function main(): Promise<void> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-train-task-'));
  try {
    await generateSyntheticProject({
      dir: path.join(root, 'data'),
      projectName: 'shapes',
      datasets: [
        { name: 'ds1', count: Math.ceil(N / 2) },
        { name: 'ds2', count: Math.floor(N / 2) },
      ],
      width: WIDTH,
      height: HEIGHT,
      neutral: true,
      folds: { val: 0.25 },
      seed: 7,
      imageFormat: 'jpeg',
    });
    await fs.mkdir(path.join(root, 'model'));
    await fs.mkdir(path.join(root, 'results'));
    await fs.writeFile(
      path.join(root, 'task_config.json'),
      JSON.stringify({
        input_size: { width: SIZE, height: SIZE },
        batch_size: { train: BATCH, val: BATCH },
        epochs: EPOCHS,
        val_every: EPOCHS,
        export_onnx: false,
      }),
    );
    console.log(
      `training task: ${N} JPEGs ${WIDTH}x${HEIGHT}, input ${SIZE}, batch ${BATCH}, ${EPOCHS} epochs`,
    );
    const t0 = performance.now();
    const { lines, peakRssMB } = await runTask(root);
    const totalSec = (performance.now() - t0) / 1000;
    const epochs = lines.filter((l) => l.message === 'Epoch has finished');
    for (const e of epochs) {
      console.log(
        `epoch ${String(e.epoch)}: ${String(e.train_seconds)} s, ${String(e.train_images_per_sec)} img/s`,
      );
    }
    const timed = epochs.slice(1);
    const seconds = timed.reduce((a, e) => a + Number(e.train_seconds), 0);
    const images = timed.reduce((a, e) => a + Number(e.train_seconds) * Number(e.train_images_per_sec), 0);
    const engine = lines.find((l) => l.message === 'Training engine ready.');
    const valStart = lines.find((l) => l.message === 'Validation in progress');
    const valEnd = lines.find((l) => l.event_type === 'EventType.METRICS' && l.type === 'val');
    const valSec =
      typeof valStart?.timestamp === 'string' && typeof valEnd?.timestamp === 'string'
        ? (Date.parse(valEnd.timestamp) - Date.parse(valStart.timestamp)) / 1000
        : null;
    const result = {
      bench: 'train-task',
      engine: engine?.engine ?? null,
      reason: engine?.reason ?? null,
      images: N,
      size: SIZE,
      batch: BATCH,
      epochs: EPOCHS,
      trainImgPerSec: seconds > 0 ? Math.round((images / seconds) * 100) / 100 : null,
      validationSec: valSec,
      totalSec: Math.round(totalSec * 10) / 10,
      peakRssMB,
      loadAverage1m: Math.round(os.loadavg()[0] * 100) / 100,
    };
    console.log(JSON.stringify(result));
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
