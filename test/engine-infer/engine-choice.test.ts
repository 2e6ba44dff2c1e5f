/** @jest-environment ./test/onnx/ort-environment.js */
/** Choosing the inference engine: onnxruntime when it can run, tfjs otherwise, INFERENCE_ENGINE to force one (spec H.4). */
import * as tf from '@tensorflow/tfjs';
import { network, parseUnetSettings } from '../../plugin/unet';
import { TaskError } from '../../src/errors';
import { chooseEngine, engineFromEnvironment, parseEngineChoice } from '../../src/inference/engine';

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
    expect(parseEngineChoice('ONNXRUNTIME')).toBe('onnxruntime');
    expect(parseEngineChoice('tfjs')).toBe('tfjs');
  });

  it('still takes the old name onnx, as onnxruntime, and says it is deprecated', () => {
    const calls: [string, string][] = [];
    const onDeprecated = (given: string, use: string): void => void calls.push([given, use]);
    expect(parseEngineChoice(' ONNX ', { onDeprecated })).toBe('onnxruntime');
    expect(parseEngineChoice('onnxruntime', { onDeprecated })).toBe('onnxruntime');
    expect(parseEngineChoice('tfjs', { onDeprecated })).toBe('tfjs');
    expect(calls).toEqual([['onnx', 'onnxruntime']]);
    // Without a listener it is accepted all the same.
    expect(parseEngineChoice('onnx')).toBe('onnxruntime');
  });

  it('the inference task warns once, naming the variable and the new value, for the old name', () => {
    const warnings: { message: string; extras?: Record<string, unknown> }[] = [];
    const logger = {
      warn: (message: string, extras?: Record<string, unknown>) => warnings.push({ message, extras }),
    };
    expect(engineFromEnvironment({ INFERENCE_ENGINE: 'onnx' }, logger)).toBe('onnxruntime');
    expect(warnings).toEqual([
      {
        message: 'INFERENCE_ENGINE=onnx is deprecated; use INFERENCE_ENGINE=onnxruntime',
        extras: { field: 'INFERENCE_ENGINE', value: 'onnx', use: 'onnxruntime' },
      },
    ]);
    expect(engineFromEnvironment({ INFERENCE_ENGINE: 'onnxruntime' }, logger)).toBe('onnxruntime');
    expect(engineFromEnvironment({ INFERENCE_ENGINE: 'tfjs' }, logger)).toBe('tfjs');
    expect(engineFromEnvironment({}, logger)).toBeUndefined();
    expect(warnings).toHaveLength(1);
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
    expect((err as TaskError).message).toMatch(/"gpu".*use one of: onnxruntime, tfjs \(/);
  });
});

describe('engine choice', () => {
  it('runs onnxruntime when onnxruntime-node loads and the model exports', async () => {
    const model = unet();
    const choice = await chooseEngine({ model, cuda: 'never' });
    expect(choice.engine.name).toBe('onnxruntime');
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
    expect(choice.notChosen.name).toBe('onnxruntime');
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

  it('INFERENCE_ENGINE=tfjs runs tfjs although onnxruntime could run', async () => {
    const model = unet();
    const choice = await chooseEngine({ model, force: 'tfjs' });
    expect(choice.engine.name).toBe('tfjs');
    expect(choice.reason).toBe('INFERENCE_ENGINE=tfjs');
    expect(choice.notChosen.reason).toMatch(/not tried/);
    model.dispose();
  });

  it('INFERENCE_ENGINE=onnxruntime is an error, with the reason, when onnxruntime cannot run', async () => {
    const model = unexportable();
    const e = await rejection(chooseEngine({ model, force: 'onnxruntime' }));
    expect(e.kind).toBe('model');
    expect(e.context.field).toBe('INFERENCE_ENGINE');
    expect(e.message).toMatch(/INFERENCE_ENGINE=onnxruntime, but the model does not export.*GaussianNoise/);
    const e2 = await rejection(chooseEngine({ model: unet(), force: 'onnxruntime', loadOrt: failingLoader }));
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
