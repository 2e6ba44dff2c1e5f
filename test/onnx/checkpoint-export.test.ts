/** @jest-environment ./test/onnx/ort-environment.js */
/** `export-onnx <checkpoint dir> <out.onnx>` (spec C: a checkpoint folder with config.json and the tfjs model). */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { network, parseUnetSettings } from '../../plugin/unet';
import { UsageError } from '../../src/cli/command';
import { exportOnnxCommand } from '../../src/cli/commands/export-onnx';
import { TaskError } from '../../src/errors';
import { saveModelToDir } from '../../src/network/io';
import { onnxMetadataFromClassMap } from '../../src/onnx';
import { randomArray, randomizeStatistics } from './onnx-helpers';

let tmp: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'export-onnx-'));
});

afterAll(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

async function checkpoint(dirName: string, model: tf.LayersModel, config?: unknown): Promise<string> {
  const dir = path.join(tmp, dirName);
  await fsp.mkdir(dir, { recursive: true });
  await saveModelToDir(model, dir);
  if (config !== undefined) await fsp.writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

async function taskError(p: Promise<unknown>): Promise<TaskError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a TaskError');
}

const classMap = { bg: 0, kiwi: 1, lemon: 2 };

/** Runs the command in-process, collecting what it prints. */
async function run(args: string[], out: string[] = []): Promise<number> {
  return exportOnnxCommand.run(args, { out: (t) => out.push(t), err: (t) => out.push(t) });
}

describe('export-onnx command (spec C)', () => {
  it('writes an ONNX file whose scores match the checkpoint model, with the class map as metadata', async () => {
    const settings = parseUnetSettings({ depth: 2, base_filters: 4, max_filters: 8 });
    const model = network.build({ inputSize: { height: 16, width: 24 }, numClasses: 3, settings });
    randomizeStatistics(model, 21);
    const dir = await checkpoint('ok', model, {
      settings: {},
      class_title_to_idx: classMap,
      out_classes: [],
    });
    const outFile = path.join(tmp, 'ok.onnx');
    const lines: string[] = [];
    expect(await run([dir, outFile], lines)).toBe(0);
    expect(lines.join('\n')).toMatch(/input {2}input \[N, 16, 24, 3\]/);
    expect(lines.join('\n')).toMatch(/output scores \[N, 16, 24, 3\]/);
    expect(lines.join('\n')).toMatch(/classes \(output channel order\): \["bg","kiwi","lemon"\]/);

    const proto = onnx.ModelProto.decode(await fsp.readFile(outFile));
    const meta = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta['class_title_to_idx'] ?? '')).toEqual(classMap);
    expect(JSON.parse(meta['classes'] ?? '')).toEqual(['bg', 'kiwi', 'lemon']);

    const x = randomArray(2 * 16 * 24 * 3, 22);
    const want = tf.tidy(() => (model.predict(tf.tensor(x, [2, 16, 24, 3])) as tf.Tensor).dataSync());
    const session = await ort.InferenceSession.create(outFile);
    const got = (await session.run({ input: new ort.Tensor('float32', x, [2, 16, 24, 3]) }))['scores'].data;
    await session.release();
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs((got[i] as number) - want[i]));
    expect(maxDiff).toBeLessThan(1e-4);
    expect((await fsp.readdir(tmp)).filter((f) => f.includes('.tmp-'))).toEqual([]);
    model.dispose();
  });

  it('names the layer and model.json when a layer does not export', async () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const out = tf.layers.gaussianNoise({ stddev: 0.1, name: 'noise' }).apply(input) as tf.SymbolicTensor;
    const dir = await checkpoint('bad-layer', tf.model({ inputs: input, outputs: out }));
    const e = await taskError(run([dir, path.join(tmp, 'bad.onnx')]));
    expect(e.context).toEqual({ file: path.join(dir, 'model.json'), item: 'noise' });
    expect(e.message).toMatch(/GaussianNoise/);
    await expect(fsp.access(path.join(tmp, 'bad.onnx'))).rejects.toThrow();
  });

  it('refuses a malformed class map in config.json, naming the field', async () => {
    const input = tf.input({ shape: [4, 4, 3] });
    const out = tf.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
    const dir = await checkpoint('bad-config', tf.model({ inputs: input, outputs: out }), {
      class_title_to_idx: { bg: 'zero' },
    });
    const e = await taskError(run([dir, path.join(tmp, 'c.onnx')]));
    expect(e.context.field).toBe('class_title_to_idx');
  });

  it('says what is missing for an empty folder, and how to call it with wrong arguments', async () => {
    const empty = path.join(tmp, 'empty');
    await fsp.mkdir(empty);
    const e = await taskError(run([empty, path.join(tmp, 'e.onnx')]));
    expect(e.context.file).toBe(path.join(empty, 'model.json'));
    await expect(run([empty])).rejects.toThrow(UsageError);
    await expect(run([empty])).rejects.toThrow(/expected 2 argument\(s\) <checkpoint dir> <out.onnx>, got 1/);
  });
});

describe('class map metadata', () => {
  it('lists titles in channel order and leaves unused indices null', () => {
    const meta = onnxMetadataFromClassMap({ lemon: 3, bg: 0, kiwi: 1 });
    expect(JSON.parse(meta['classes'])).toEqual(['bg', 'kiwi', null, 'lemon']);
  });
});
