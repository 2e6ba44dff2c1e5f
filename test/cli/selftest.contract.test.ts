/**
 * `sly-nn selftest` on a real checkpoint (written by the training task through the launcher): the golden batch
 * passes on tfjs and on the checkpoint's model.onnx, from the folder and from its tar; a damaged weights.bin
 * fails with the difference; a folder without a golden batch is an error naming golden.json.
 */
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { builtFile } from '../contract/built';
import { events, runLauncher } from '../helpers/launcher';
import { makeTask, removeTask, TINY_TRAIN_CONFIG } from '../training/e2e-helpers';

let root: string | undefined;
let checkpoint: string;

function cli(...args: string[]) {
  return spawnSync(process.execPath, [builtFile('src/cli/main.ts'), ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, TFJS_BACKEND: 'wasm' },
  });
}

beforeAll(async () => {
  root = await makeTask({
    project: {
      projectName: 'shapes',
      datasets: [{ name: 'ds', count: 12 }],
      width: 32,
      height: 32,
      folds: { val: 0.34 },
      seed: 9,
    },
    config: { ...TINY_TRAIN_CONFIG, export_onnx: true, save_model_tar: true },
  });
  const run = runLauncher(root);
  expect(run.status).toBe(0);
  checkpoint = path.join(root, 'results', String(events(run.lines, 'CHECKPOINT').at(-1)?.fields.subdir));
}, 120_000);
afterAll(() => removeTask(root));

it('passes on every engine, from the folder and from the tar', async () => {
  const r = cli('selftest', checkpoint);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/tfjs \w+: pass, largest difference \d\.\d\de[-+]\d+/);
  expect(r.stdout).toMatch(/onnxruntime \(model\.onnx\): pass/);
  expect(r.stdout.trim().split('\n').at(-1)).toBe('PASS');
  const tar = cli('selftest', `${checkpoint}.tar`);
  expect(tar.status).toBe(0);
  expect(tar.stdout.trim().split('\n').at(-1)).toBe('PASS');
});

it('fails, with the difference, when weights.bin was changed', async () => {
  const damaged = `${checkpoint}-damaged`;
  await fsp.cp(checkpoint, damaged, { recursive: true });
  const file = path.join(damaged, 'weights.bin');
  const bytes = await fsp.readFile(file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The first kernel's weights, scaled: still finite, but not what was recorded.
  for (let i = 0; i < 64; i += 4) view.setFloat32(i, view.getFloat32(i, true) * 5 + 0.5, true);
  await fsp.writeFile(file, bytes);
  const r = cli('selftest', damaged);
  expect(r.status).toBe(1);
  expect(r.stdout).toMatch(/tfjs \w+: FAIL, largest difference/);
  expect(r.stdout.trim().split('\n').at(-1)).toBe('FAIL');
});

it('says when a checkpoint has no golden batch', async () => {
  const old = `${checkpoint}-old`;
  await fsp.cp(checkpoint, old, { recursive: true });
  await fsp.rm(path.join(old, 'golden.json'));
  const r = cli('selftest', old);
  expect(r.status).toBe(4); // the model (checkpoint) lacks what selftest needs
  expect(r.stderr).toMatch(/golden\.json.*no golden batch/);
});
