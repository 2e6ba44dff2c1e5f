/**
 * @jest-environment ./test/onnx/ort-environment.js
 *
 * The click task end to end, as users meet it: trained by the real launcher (`python3 -u src/train.py` with
 * `"network": "clicks"`), its stdout read as the agent reads it; the checkpoint applied by `sly-nn segment` on
 * onnxruntime and on tfjs, through the built CLI; bad input (a click outside the image, no positive click, an
 * image that cannot be decoded, a checkpoint of another network) each a clear error; and inference.py refusing
 * a click checkpoint before it reads an image. Needs the build (`npm test` builds).
 */
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../../../src/backend/select';
import { readSingleProject } from '../../../src/format/project-reader';
import { networkSignature } from '../../../src/plugins';
import { evaluateClicksOnProject } from '../../../src/tasks/click-segmentation/evaluate-project';
import { ClickSegmenter } from '../../../src/tasks/click-segmentation/segment';
import { builtFile } from '../../contract/built';
import { events, runLauncher, type LauncherRun } from '../../helpers/launcher';
import { makeTask, removeTask } from '../../training/e2e-helpers';

const CONFIG = {
  network: 'clicks',
  input_size: { width: 32, height: 32 },
  batch_size: { train: 8, val: 8 },
  epochs: 2,
  val_every: 1,
  lr: 0.01,
  custom_model_config: { depth: 2, base_filters: 4, max_filters: 8 },
  special_classes: { background: null, neutral: null },
};
const PROJECT = {
  projectName: 'shapes',
  datasets: [{ name: 'ds', count: 20 }],
  width: 48,
  height: 40,
  folds: { val: 0.25 },
  objectsPerImage: { min: 0, max: 2 },
  seed: 3,
};

let root: string;
let run: LauncherRun;
let checkpoint: string;
let image: string;

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [builtFile('src/cli/main.ts'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, TFJS_BACKEND: 'wasm' },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  root = await makeTask({ project: PROJECT, config: CONFIG });
  run = runLauncher(root);
  const last = events(run.lines, 'CHECKPOINT').at(-1);
  checkpoint = path.join(root, 'results', String(last?.fields.subdir));
  const imgDir = path.join(root, 'data', 'shapes', 'ds', 'img');
  image = path.join(imgDir, (await fsp.readdir(imgDir))[0]);
}, 300_000);

afterAll(() => removeTask(root));

describe('click segmentation trained through train.py', () => {
  it('exits 0, uses only images with objects, and reports the NoC metrics at each validation', () => {
    if (run.status !== 0) throw new Error(`exit ${run.status}\n${run.stdout.slice(-3000)}\n${run.stderr}`);
    expect(events(run.lines, 'TASK_CRASHED')).toEqual([]);
    const unused = run.lines.find((l) => l.message.includes('are not used: they have no object to click on'));
    expect(unused).toBeDefined();
    // The default class_weights belongs to semantic segmentation: no warning for a config that never chose it.
    expect(run.lines.filter((l) => l.fields.field === 'class_weights')).toEqual([]);
    const val = run.lines.filter(
      (l) => l.fields.event_type === 'EventType.METRICS' && l.fields.type === 'val',
    );
    expect(val).toHaveLength(2);
    for (const line of val) {
      const m = line.fields.metrics as Record<string, number>;
      expect(Object.keys(m).sort()).toEqual(
        ['iou_at_1', 'iou_at_3', 'iou_at_5', 'loss', 'noc85', 'noc85_failed', 'noc90', 'noc90_failed'].sort(),
      );
      expect(m.noc85).toBeGreaterThanOrEqual(1);
      expect(m.noc85).toBeLessThanOrEqual(20);
      expect(m.noc90).toBeGreaterThanOrEqual(m.noc85);
      expect(m.iou_at_1).toBeGreaterThanOrEqual(0);
      expect(m.iou_at_1).toBeLessThanOrEqual(1);
    }
  });

  it('records the network, the task and the click encoding in the checkpoint, beside an ONNX export', async () => {
    const config = JSON.parse(await fsp.readFile(path.join(checkpoint, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      network: 'clicks',
      task: 'click_segmentation',
      click_encoding: { radius: 5 },
      input_channels: 6,
      class_title_to_idx: { background: 0, object: 1 },
    });
    await expect(fsp.stat(path.join(checkpoint, 'model.onnx'))).resolves.toBeDefined();
  });
});

describe('sly-nn segment', () => {
  it.each(['onnxruntime', 'tfjs'])(
    'writes a grey mask of the image size and an overlay, on %s',
    async (engine) => {
      const out = path.join(root, `mask-${engine}.png`);
      const overlay = path.join(root, `overlay-${engine}.png`);
      const r = cli([
        'segment',
        '--checkpoint',
        checkpoint,
        '--image',
        image,
        '--point',
        '20,20',
        '--point',
        '2,2,-',
        '--out',
        out,
        '--overlay',
        overlay,
        '--engine',
        engine,
      ]);
      if (r.status !== 0) throw new Error(r.stderr);
      expect(r.stdout).toContain(engine === 'onnxruntime' ? 'onnxruntime-node' : 'tfjs');
      const meta = await sharp(out).metadata();
      expect([meta.width, meta.height, meta.channels, meta.format]).toEqual([48, 40, 1, 'png']);
      const values = new Set(await sharp(out).extractChannel(0).raw().toBuffer());
      expect([...values].every((v) => v === 0 || v === 255)).toBe(true);
      const pic = await sharp(overlay).metadata();
      expect([pic.width, pic.height]).toEqual([48, 40]);
      // Nothing is left under a temporary name.
      expect((await fsp.readdir(root)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    },
  );

  it('the two engines agree on the mask', async () => {
    const read = (name: string): Promise<Buffer> =>
      sharp(path.join(root, name)).extractChannel(0).raw().toBuffer();
    const a = await read('mask-onnxruntime.png');
    const b = await read('mask-tfjs.png');
    expect(a.length).toBe(48 * 40);
    let differ = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) differ++;
    expect(differ / a.length).toBeLessThan(0.01);
  });

  it('refuses bad input with a message naming what is wrong, and writes nothing', async () => {
    const out = path.join(root, 'bad.png');
    const base = ['segment', '--checkpoint', checkpoint, '--image', image, '--out', out];
    // Wrong input data: exit 3, as the entry points say it.
    const outside = cli([...base, '--point', '48,10']);
    expect(outside.status).toBe(3);
    expect(outside.stderr).toContain('click 1 at (48, 10) is outside the image, which is 48x40');
    const negative = cli([...base, '--point', '10,10,-']);
    expect(negative.status).toBe(3);
    expect(negative.stderr).toContain('no positive click');
    const junk = path.join(root, 'junk.jpg');
    await fsp.writeFile(junk, 'not an image');
    const unreadable = cli([
      'segment',
      '--checkpoint',
      checkpoint,
      '--image',
      junk,
      '--out',
      out,
      '--point',
      '1,1',
    ]);
    expect(unreadable.status).toBe(3);
    expect(unreadable.stderr).toContain(junk);
    const syntax = cli([...base, '--point', '10;10']);
    expect(syntax.status).toBe(2);
    expect(syntax.stderr).toContain('expected x,y');
    await expect(fsp.stat(out)).rejects.toThrow();
  });

  it('refuses a checkpoint of another network, naming both', async () => {
    const unet = path.join(root, 'unet-checkpoint');
    await fsp.cp(checkpoint, unet, { recursive: true });
    const configFile = path.join(unet, 'config.json');
    const config = JSON.parse(await fsp.readFile(configFile, 'utf8'));
    await fsp.writeFile(
      configFile,
      JSON.stringify({ ...config, network: 'unet', task: 'semantic_segmentation' }),
    );
    const r = cli([
      'segment',
      '--checkpoint',
      unet,
      '--image',
      image,
      '--out',
      path.join(root, 'x.png'),
      '--point',
      '5,5',
    ]);
    expect(r.status).toBe(4); // the model does not fit
    expect(r.stderr).toContain('"unet" network for semantic_segmentation');
    expect(r.stderr).toContain('click_segmentation');
  });
});

describe('evaluateClicksOnProject', () => {
  it('runs the protocol on every object of the project through segmentFromClicks', async () => {
    await initBackend({ force: 'wasm' });
    const segmenter = await ClickSegmenter.load(checkpoint, { signatureOf: networkSignature });
    try {
      const project = await readSingleProject(path.join(root, 'data'));
      const score = await evaluateClicksOnProject({ segmenter, project, maxClicks: 6 });
      // The generator's own record of the objects, not the code under test, says how many there are.
      const generated = JSON.parse(
        await fsp.readFile(path.join(root, 'data', 'shapes', 'meta.json'), 'utf8'),
      );
      expect(generated.classes.length).toBeGreaterThan(0);
      let objects = 0;
      for (const name of await fsp.readdir(path.join(root, 'data', 'shapes', 'ds', 'ann'))) {
        const ann = JSON.parse(
          await fsp.readFile(path.join(root, 'data', 'shapes', 'ds', 'ann', name), 'utf8'),
        );
        objects += ann.objects.length;
      }
      expect(score.objects).toBe(objects);
      for (const s of score.series) {
        expect(s.ious.length).toBeGreaterThanOrEqual(1);
        expect(s.ious.length).toBeLessThanOrEqual(6);
        for (const iou of s.ious) expect(iou).toBeGreaterThanOrEqual(0);
      }
      expect(score.noc['85']).toBeGreaterThanOrEqual(1);
      expect(score.noc['85']).toBeLessThanOrEqual(6);
    } finally {
      await segmenter.dispose();
    }
  });
});

describe('inference.py with a click checkpoint', () => {
  it('fails before reading any image, naming the network and what inference applies', async () => {
    const task = await makeTask({
      project: { ...PROJECT, datasets: [{ name: 'ds', count: 2 }] },
      config: {},
    });
    try {
      await fsp.cp(checkpoint, path.join(task, 'model'), { recursive: true });
      await fsp.writeFile(
        path.join(task, 'task_config.json'),
        JSON.stringify({ mode: { name: 'full_image' } }),
      );
      const r = runLauncher(task, {}, 120_000, 'inference');
      expect(r.status).toBe(4);
      const crash = events(r.lines, 'TASK_CRASHED');
      expect(crash).toHaveLength(1);
      const all = String(crash[0].fields.exc_str);
      expect(all).toContain('the model is a "clicks" network (task click_segmentation)');
      expect(all).toContain('model/config.json');
      expect(r.lines.some((l) => l.message.includes('Model applying'))).toBe(false);
    } finally {
      await removeTask(task);
    }
  });
});

describe('train.py with a click network and native resolution', () => {
  it('refuses it before reading any image, naming resolution.mode', async () => {
    const task = await makeTask({
      project: { ...PROJECT, datasets: [{ name: 'ds', count: 2 }] },
      config: { ...CONFIG, resolution: { mode: 'native', scale: 1 } },
    });
    try {
      const r = runLauncher(task);
      expect(r.status).toBe(2);
      const crash = events(r.lines, 'TASK_CRASHED');
      expect(crash).toHaveLength(1);
      expect(String(crash[0].fields.exc_str)).toMatch(
        /resolution\.mode.*click network trains on whole images/,
      );
      expect(r.lines.some((l) => l.message === 'Data digest')).toBe(false);
      expect(events(r.lines, 'CHECKPOINT')).toEqual([]);
    } finally {
      await removeTask(task);
    }
  });
});
