import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { network } from '../../plugin/unet';
import { TaskError } from '../../src/errors';
import type { ObjClassJson, ProjectMetaJson } from '../../src/format/types';
import { UsageError } from '../../src/cli/command';
import { initWeightsCommand } from '../../src/cli/commands/init-weights';
import { runCli } from '../../src/cli/run-cli';
import { listTarEntries } from '../../src/model-state/tar';
import { initWeights, type InitWeightsSettings } from '../../src/model-state/init-weights';
import { loadModelFromDir, saveModelToDir } from '../../src/network/io';
import { buildAndInitModel } from '../../src/network/transfer';
import { predictArray, weightValues } from '../network/tiny';

const FIXTURE_META = '/work/shared/fixtures/tutorial_project/meta.json';

let tmp: string;
let projectClasses: ObjClassJson[];
beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'init-weights-test-'));
  projectClasses = (JSON.parse(await fsp.readFile(FIXTURE_META, 'utf8')) as ProjectMetaJson).classes;
});
afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

const SETTINGS: InitWeightsSettings & Record<string, unknown> = {
  input_size: { width: 16, height: 16 },
  special_classes: { background: 'bg', neutral: 'neutral' },
  custom_model_config: { depth: 2, base_filters: 2, max_filters: 4 },
  lr: 0.001,
  weights_init_type: 'transfer_learning',
};

async function caught(p: Promise<unknown>): Promise<TaskError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TaskError);
  return e as TaskError;
}

describe('init-weights: an initial model folder (issue 6; spec C.1, C.2, E.3)', () => {
  test('random initialisation for the tutorial project: config.json + model.json + weights.bin', async () => {
    const before = tf.memory().numTensors;
    const outDir = path.join(tmp, 'random');
    const result = await initWeights({ network, settings: SETTINGS, projectClasses, outDir });
    expect(result.init).toBe('random');
    expect((await fsp.readdir(outDir)).sort()).toEqual(['config.json', 'model.json', 'weights.bin']);
    expect((await fsp.readdir(tmp)).filter((n) => n.includes('.tmp'))).toEqual([]);

    const config = JSON.parse(await fsp.readFile(path.join(outDir, 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    // The SDK's keys (spec C.2), then the network record inference reads its normalisation from.
    expect(Object.keys(config)).toEqual([
      'settings',
      'out_classes',
      'class_title_to_idx',
      'network',
      'preprocessing',
    ]);
    expect(config.network).toBe('unet');
    expect(config.preprocessing).toEqual({ mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    expect(config.settings).toEqual(SETTINGS);
    // Spec E.3: background at 0, the others in code-point order; every out class a bitmap, bg added last.
    expect(config.class_title_to_idx).toEqual({ bg: 0, bike: 1, car: 2, dog: 3, person: 4 });
    const outClasses = config.out_classes as ObjClassJson[];
    expect(outClasses.map((c) => [c.title, c.shape, c.color])).toEqual([
      ['bike', 'bitmap', '#F6FF00'],
      ['car', 'bitmap', '#BE55CE'],
      ['dog', 'bitmap', '#FD0000'],
      ['person', 'bitmap', '#00FF12'],
      ['bg', 'bitmap', '#222222'],
    ]);
    expect(result.numClasses).toBe(5);

    const sizes = await Promise.all(
      ['config.json', 'model.json', 'weights.bin'].map((f) => fsp.stat(path.join(outDir, f))),
    );
    expect(result.sizeb).toBe(sizes.reduce((s, st) => s + st.size, 0));

    // The folder is what training's continue_training loads: same predictions as the saved model.
    const saved = await loadModelFromDir(outDir);
    expect(saved.outputs[0].shape).toEqual([null, 16, 16, 5]);
    const resumed = await buildAndInitModel({
      network,
      settings: network.parseSettings(SETTINGS.custom_model_config),
      inputSize: SETTINGS.input_size,
      numClasses: 5,
      weightsInitType: 'continue_training',
      modelDir: outDir,
    });
    const x = tf.randomUniform([1, 16, 16, 3]);
    expect(predictArray(resumed.model, x)).toEqual(predictArray(saved, x));
    tf.dispose([x]);
    saved.dispose();
    resumed.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('from a checkpoint with other classes: the backbone is kept, the head is new', async () => {
    const source = network.build({
      inputSize: { height: 8, width: 8 },
      numClasses: 2,
      settings: network.parseSettings(SETTINGS.custom_model_config),
    });
    const sourceDir = path.join(tmp, 'source');
    await saveModelToDir(source, sourceDir);
    const outDir = path.join(tmp, 'transferred');
    const result = await initWeights({
      network,
      settings: SETTINGS,
      projectClasses,
      outDir,
      from: sourceDir,
    });
    expect(result.init).toBe('transfer_learning');
    expect(result.report.freshLayers).toEqual(['head_conv']);
    const made = await loadModelFromDir(outDir);
    const a = weightValues(source);
    const b = weightValues(made);
    for (const [name, values] of b) {
      if (name.startsWith('head_conv/')) continue;
      expect(values).toEqual(a.get(name));
    }
    expect(made.getLayer('head_conv').getWeights()[0].shape).toEqual([1, 1, 2, 5]);
    // The input size is the settings' (16x16), not the source checkpoint's (8x8).
    expect(made.outputs[0].shape).toEqual([null, 16, 16, 5]);
    source.dispose();
    made.dispose();
  });

  test('refuses a non-empty output folder and an empty source; a failed transfer leaves nothing behind', async () => {
    const busy = path.join(tmp, 'busy');
    await fsp.mkdir(busy);
    await fsp.writeFile(path.join(busy, 'x.txt'), 'x');
    const notEmpty = await caught(initWeights({ network, settings: SETTINGS, projectClasses, outDir: busy }));
    expect(notEmpty.message).toBe(`${busy}: is not empty (x.txt); choose a new output folder`);

    const emptySource = path.join(tmp, 'empty-source');
    await fsp.mkdir(emptySource);
    const noSource = await caught(
      initWeights({
        network,
        settings: SETTINGS,
        projectClasses,
        outDir: path.join(tmp, 'o1'),
        from: emptySource,
      }),
    );
    expect(noSource.message).toBe(`${emptySource}: is empty or absent: there is no model to transfer from`);

    const deeper = { ...SETTINGS, custom_model_config: { depth: 3, base_filters: 2, max_filters: 4 } };
    const outDir = path.join(tmp, 'o2');
    const mismatch = await caught(
      initWeights({ network, settings: deeper, projectClasses, outDir, from: path.join(tmp, 'source') }),
    );
    expect(mismatch.message).toMatch(/layer "enc2_conv1" missing from the checkpoint/);
    expect((await fsp.readdir(tmp)).filter((n) => n.startsWith('o2'))).toEqual([]);
  });

  test('a project without classes is an error naming meta.json', async () => {
    const err = await caught(
      initWeights({
        network,
        settings: { ...SETTINGS, special_classes: {} },
        projectClasses: [],
        outDir: path.join(tmp, 'o3'),
      }),
    );
    expect(err.context.file).toBe('meta.json');
  });
});

describe('sly-nn init-weights (issue 6)', () => {
  const FIXTURE_PROJECT = path.dirname(FIXTURE_META);
  afterEach(async () => {
    // The command picks the best backend (wasm here); the other tests here run on cpu.
    await tf.setBackend('cpu');
  });

  async function runCommand(args: string[]): Promise<{ code: number; lines: string[] }> {
    const lines: string[] = [];
    const code = await initWeightsCommand.run(args, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
    return { code, lines };
  }

  test('writes a model folder whose settings are the full merged, validated config', async () => {
    const configFile = path.join(tmp, 'train_config.json');
    await fsp.writeFile(
      configFile,
      JSON.stringify({
        input_size: { width: 32, height: 32 },
        custom_model_config: { depth: 2, base_filters: 2 },
      }),
    );
    const outDir = path.join(tmp, 'cli-out');
    const { code, lines } = await runCommand([
      '--project',
      FIXTURE_PROJECT,
      '--out',
      outDir,
      '--config',
      configFile,
    ]);
    expect(code).toBe(0);
    expect(lines[0]).toMatch(
      new RegExp(`^Wrote ${outDir} \\(\\d+ bytes\\): config.json, model.json, weights.bin$`),
    );
    expect(lines.join('\n')).toContain('class_title_to_idx {"bg":0,"bike":1,"car":2,"dog":3,"person":4}');
    const config = JSON.parse(await fsp.readFile(path.join(outDir, 'config.json'), 'utf8')) as {
      settings: Record<string, unknown>;
    };
    // The defaults of the training schema and of the plugin's schema are filled in.
    expect(config.settings).toMatchObject({
      input_size: { width: 32, height: 32 },
      weights_init_type: 'transfer_learning',
      special_classes: { background: 'bg', neutral: 'neutral' },
      custom_model_config: { depth: 2, base_filters: 2, max_filters: 128, bn_momentum: 0.9 },
    });
    expect(config.settings.epochs).toEqual(expect.any(Number));
    const model = await loadModelFromDir(outDir);
    expect(model.outputs[0].shape).toEqual([null, 32, 32, 5]);
    model.dispose();
  });

  test('a config the plugin rejects is a config error naming the file and field', async () => {
    const configFile = path.join(tmp, 'bad_config.json');
    await fsp.writeFile(configFile, JSON.stringify({ custom_model_config: { depth: 9 } }));
    const err = await caught(
      runCommand(['--project', FIXTURE_META, '--out', path.join(tmp, 'cli-bad'), '--config', configFile]),
    );
    expect(err.kind).toBe('config');
    expect(err.message).toContain(configFile);
    expect(err.message).toContain('custom_model_config.depth');
    await expect(fsp.readdir(path.join(tmp, 'cli-bad'))).rejects.toThrow(/ENOENT/);
  });

  test('--tar also packs the folder into a model tar with config.json and the weights at the top level', async () => {
    const outDir = path.join(tmp, 'cli-tar');
    const tarFile = path.join(tmp, 'cli-tar.tar');
    const { code, lines } = await runCommand(['--project', FIXTURE_META, '--out', outDir, '--tar', tarFile]);
    expect(code).toBe(0);
    expect(lines[lines.length - 1]).toMatch(/^Packed \d+ entries \(\d+ bytes\) into .*cli-tar\.tar$/);
    const names = (await listTarEntries(tarFile)).map((e) => e.path.replace(/^\.\//, ''));
    expect(names.filter((n) => n !== '' && n !== '.').sort()).toEqual([
      'config.json',
      'model.json',
      'weights.bin',
    ]);
  });

  test("through the sly-nn dispatcher: exit 2 with the usage for bad arguments, the error kind's code naming the file on errors", async () => {
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    expect(await runCli(['init-weights', '--out', 'x'], io, [initWeightsCommand])).toBe(2);
    expect(out.join('\n')).toContain('Usage: sly-nn init-weights --project');
    out.length = 0;
    const missing = path.join(tmp, 'no-project');
    expect(
      await runCli(['init-weights', '--project', missing, '--out', path.join(tmp, 'o4')], io, [
        initWeightsCommand,
      ]),
    ).toBe(2); // the project named on the command line is not there: the arguments (the CLI's config) are wrong
    expect(out.join('\n')).toContain(`${missing}/meta.json: file not found`);
  });

  test('bad arguments are usage errors', async () => {
    await expect(runCommand(['--project', FIXTURE_PROJECT])).rejects.toThrow(UsageError);
    await expect(runCommand(['--project', FIXTURE_PROJECT])).rejects.toThrow(
      /--project and --out are required/,
    );
    await expect(runCommand(['--bogus'])).rejects.toThrow(/bogus/);
    await expect(runCommand(['--project', 'p', '--out', 'o', 'extra'])).rejects.toThrow(
      /unexpected argument "extra"/,
    );
  });
});
