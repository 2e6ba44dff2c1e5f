/** @jest-environment ./test/onnx/ort-environment.js */
/**
 * Click inference feeds the network by its declared input name and reads its `scores` output by name, on both
 * engines (network-io.ts). The network here declares two outputs with `scores` second, and its first output is
 * the opposite mask: read by position, the mask would be wrong.
 */
import { mkdtempSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CLICKS_INPUTS } from '../../../plugin/clicks/signature';
import type { NetworkSignature } from '../../../src/network/types';
import { encodeClickInput } from '../../../src/tasks/click-segmentation/encode';
import { ClickSegmenter } from '../../../src/tasks/click-segmentation/segment';
import { clickCheckpointRecord } from '../../../src/tasks/click-segmentation/training';
import { writeModelCheckpoint } from '../../helpers/model-checkpoint';

const S = 32;
const PREPROCESSING = { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } as const;
const SIGNATURE: NetworkSignature = { inputs: CLICKS_INPUTS, outputs: ['aux', 'scores'] };
let dir: string;

/**
 * `scores`: the object where the positive-click channel (3) is set; `aux`: the object everywhere else. Each a
 * 1x1 conv (object logit 20·click - 10, or its opposite) and a softmax.
 */
function twoOutputClickNetwork(): tf.LayersModel {
  const input = tf.input({ name: 'packed', shape: [S, S, 6] });
  const head = (name: string, sign: number): tf.SymbolicTensor => {
    const conv = tf.layers.conv2d({ name: `${name}_conv`, filters: 2, kernelSize: 1 });
    const logits = conv.apply(input) as tf.SymbolicTensor;
    const kernel = tf.buffer([1, 1, 6, 2]);
    kernel.set(20 * sign, 0, 0, 3, 1);
    conv.setWeights([kernel.toTensor(), tf.tensor1d([0, -10 * sign])]);
    return tf.layers.activation({ name, activation: 'softmax' }).apply(logits) as tf.SymbolicTensor;
  };
  return tf.model({ name: 'two_outputs', inputs: input, outputs: [head('aux', -1), head('scores', 1)] });
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = mkdtempSync(path.join(os.tmpdir(), 'click-named-output-'));
  const model = twoOutputClickNetwork();
  await writeModelCheckpoint(dir, model, {
    size: S,
    classes: ['background', 'object'],
    extra: { network: 'two-outputs', preprocessing: PREPROCESSING, ...clickCheckpointRecord() },
  });
  model.dispose();
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const signatureOf = (network: string): NetworkSignature => {
  expect(network).toBe('two-outputs');
  return SIGNATURE;
};

describe('a click network whose scores are not its first output', () => {
  it.each(['onnxruntime', 'tfjs'] as const)('%s: the mask is read from "scores", by name', async (engine) => {
    const segmenter = await ClickSegmenter.load(dir, { signatureOf, engine, threads: 1 });
    try {
      expect(segmenter.engine.name).toBe(engine);
      const image = { data: new Uint8Array(S * S * 3).fill(128), width: S, height: S };
      const click = { x: 10, y: 12, positive: true };
      const { mask } = await segmenter.segmentFromClicks(image, [click]);
      // What `scores` says: the positive click's disk, as the task draws it.
      const x = encodeClickInput({
        rgb: image.data,
        grid: { height: S, width: S },
        preprocessing: PREPROCESSING,
        clicks: [click],
        previous: null,
        encoding: segmenter.checkpoint.encoding,
      });
      const disk = Uint8Array.from({ length: S * S }, (_, p) => (x[p * 6 + 3] > 0.5 ? 1 : 0));
      expect(disk.reduce((a, v) => a + v, 0)).toBeGreaterThan(50);
      expect(Array.from(mask)).toEqual(Array.from(disk));
    } finally {
      await segmenter.dispose();
    }
  });

  it('a network without a "scores" output is refused, naming its outputs', async () => {
    await expect(
      ClickSegmenter.load(dir, { signatureOf: () => ({ ...SIGNATURE, outputs: ['aux', 'mask'] }) }),
    ).rejects.toThrow(
      'the click task reads the output "scores"; the network "two-outputs" gives [aux, mask]',
    );
  });
});
