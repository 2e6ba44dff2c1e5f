/** @jest-environment ./test/onnx/ort-environment.js */
/** Choosing the inference engine: onnx when it can run, tfjs otherwise, INFERENCE_ENGINE to force one (spec H.4). */
import * as tf from '@tensorflow/tfjs';
import { network, parseUnetSettings } from '../../plugin/unet';
import { TaskError } from '../../src/errors';
import { chooseEngine, parseEngineChoice } from '../../src/inference/engine';

type Sym = tf.SymbolicTensor;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function unet(): tf.LayersModel {
  const settings = parseUnetSettings({ depth: 2, base_filters: 4, max_filters: 8 });
  return network.build({ inputSize: { height: 16, width: 16 }, numClasses: 3, settings });
}

/** A network with a layer the exporter does not know (GaussianNoise: the identity at inference). */
function unexportable(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  const noisy = tf.layers.gaussianNoise({ stddev: 0.1, name: 'noise' }).apply(input) as Sym;
  const out = tf.layers
    .conv2d({ filters: 2, kernelSize: 1, activation: 'softmax', name: 'head' })
    .apply(noisy) as Sym;
  return tf.model({ inputs: input, outputs: out });
}

const failingLoader = async (): Promise<never> => {
  throw new Error('Cannot find module onnxruntime_binding.node');
};

async function rejection(p: Promise<unknown>): Promise<TaskError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a TaskError');
}

describe('INFERENCE_ENGINE (spec H.4)', () => {
  it('is optional and case-insensitive', () => {
    expect(parseEngineChoice(undefined)).toBeUndefined();
    expect(parseEngineChoice(' ')).toBeUndefined();
    expect(parseEngineChoice('ONNX')).toBe('onnx');
    expect(parseEngineChoice('tfjs')).toBe('tfjs');
  });

  it('names the variable and the valid values when wrong', () => {
    let err: unknown;
    try {
      parseEngineChoice('gpu');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TaskError);
    expect((err as TaskError).context.field).toBe('INFERENCE_ENGINE');
    expect((err as TaskError).message).toMatch(/"gpu".*onnx, tfjs/);
  });
});

describe('engine choice', () => {
  it('runs onnx when onnxruntime-node loads and the model exports', async () => {
    const model = unet();
    const choice = await chooseEngine({ model, cuda: 'never' });
    expect(choice.engine.name).toBe('onnx');
    expect(choice.notChosen.name).toBe('tfjs');
    expect(choice.needsTfjsModel).toBe(false);
    expect(choice.engine.inputShape).toEqual([16, 16, 3]);
    expect(choice.engine.outputChannels).toBe(3);
    await choice.engine.dispose();
    model.dispose();
  });

  it('falls back to tfjs when a layer does not export, naming the layer and its class', async () => {
    const model = unexportable();
    const choice = await chooseEngine({ model });
    expect(choice.engine.name).toBe('tfjs');
    expect(choice.needsTfjsModel).toBe(true);
    expect(choice.notChosen.name).toBe('onnx');
    expect(choice.notChosen.reason).toMatch(/does not export to ONNX.*"noise" has class GaussianNoise/);
    const out = await choice.engine.run(new Float32Array(8 * 8 * 3), 1);
    expect(out).toHaveLength(8 * 8 * 2);
    await choice.engine.dispose();
    model.dispose();
  });

  it('falls back to tfjs when onnxruntime-node does not load', async () => {
    const model = unet();
    const choice = await chooseEngine({ model, loadOrt: failingLoader });
    expect(choice.engine.name).toBe('tfjs');
    expect(choice.notChosen.reason).toMatch(/onnxruntime-node did not load: Cannot find module/);
    model.dispose();
  });

  it('INFERENCE_ENGINE=tfjs runs tfjs although onnx could run', async () => {
    const model = unet();
    const choice = await chooseEngine({ model, force: 'tfjs' });
    expect(choice.engine.name).toBe('tfjs');
    expect(choice.reason).toBe('INFERENCE_ENGINE=tfjs');
    expect(choice.notChosen.reason).toMatch(/not tried/);
    model.dispose();
  });

  it('INFERENCE_ENGINE=onnx is an error, with the reason, when onnx cannot run', async () => {
    const model = unexportable();
    const e = await rejection(chooseEngine({ model, force: 'onnx' }));
    expect(e.kind).toBe('model');
    expect(e.context.field).toBe('INFERENCE_ENGINE');
    expect(e.message).toMatch(/INFERENCE_ENGINE=onnx, but the model does not export.*GaussianNoise/);
    const e2 = await rejection(chooseEngine({ model: unet(), force: 'onnx', loadOrt: failingLoader }));
    expect(e2.message).toMatch(/did not load/);
    model.dispose();
  });

  it('refuses a network without a fixed input size, whichever engine', async () => {
    const input = tf.input({ shape: [null, null, 3] });
    const out = tf.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(input) as Sym;
    const model = tf.model({ inputs: input, outputs: out });
    for (const force of [undefined, 'tfjs' as const]) {
      const e = await rejection(chooseEngine({ model, force }));
      expect(e.kind).toBe('model');
      expect(e.message).toMatch(/fixed size/);
    }
  });
});
