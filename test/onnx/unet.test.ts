/** @jest-environment ./test/onnx/ort-environment.js */
/**
 * Whole networks (spec G: the U-Net plugin): the exported ONNX graph's softmax scores match tfjs's within 1e-4,
 * for the plugin's own U-Net and for a hand-built U-Net variant using the other supported layers, also after a
 * save/load round trip through model.json.
 */
import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import { network, parseUnetSettings } from '../../plugin/unet';
import { exportToOnnx } from '../../src/onnx';
import { compareWithOnnx, randomizeStatistics } from './onnx-helpers';

type Sym = tf.SymbolicTensor;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * A depth-2 U-Net unlike the plugin's: convs with bias and BN, LeakyReLU, dropout, a strided conv down,
 * bilinear upsampling + conv up, a transposed conv on the other level, a Softmax layer head.
 */
function variantUnet(numClasses: number): tf.LayersModel {
  const input = tf.input({ shape: [24, 32, 3], name: 'image' });
  const block = (x: Sym, name: string, filters: number): Sym => {
    let y = tf.layers
      .conv2d({ name: `${name}_conv`, filters, kernelSize: 3, padding: 'same' })
      .apply(x) as Sym;
    y = tf.layers.batchNormalization({ name: `${name}_bn` }).apply(y) as Sym;
    return tf.layers.leakyReLU({ name: `${name}_act`, alpha: 0.2 }).apply(y) as Sym;
  };
  const e0 = block(input, 'e0', 6);
  const d0 = tf.layers.maxPooling2d({ name: 'down0', poolSize: 2 }).apply(e0) as Sym;
  const e1 = block(d0, 'e1', 8);
  const d1 = tf.layers
    .conv2d({ name: 'down1', filters: 8, kernelSize: 3, strides: 2, padding: 'same' })
    .apply(e1) as Sym;
  let m = block(d1, 'mid', 12);
  m = tf.layers.dropout({ name: 'mid_drop', rate: 0.3 }).apply(m) as Sym;
  let u1 = tf.layers.upSampling2d({ name: 'up1', size: [2, 2], interpolation: 'bilinear' }).apply(m) as Sym;
  u1 = tf.layers.concatenate({ name: 'cat1' }).apply([u1, e1]) as Sym;
  u1 = block(u1, 'dec1', 8);
  let u0 = tf.layers
    .conv2dTranspose({ name: 'up0', filters: 6, kernelSize: 3, strides: 2, padding: 'same' })
    .apply(u1) as Sym;
  u0 = tf.layers.batchNormalization({ name: 'up0_bn' }).apply(u0) as Sym;
  u0 = tf.layers.concatenate({ name: 'cat0' }).apply([u0, e0]) as Sym;
  u0 = block(u0, 'dec0', 6);
  const logits = tf.layers.conv2d({ name: 'head', filters: numClasses, kernelSize: 1 }).apply(u0) as Sym;
  const scores = tf.layers.softmax({ name: 'head_softmax', axis: -1 }).apply(logits) as Sym;
  return tf.model({ name: 'variant_unet', inputs: input, outputs: scores });
}

async function roundTrip(model: tf.LayersModel): Promise<tf.LayersModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return tf.loadLayersModel(tf.io.fromMemory(saved as tf.io.ModelArtifacts));
}

function opTypes(bytes: Uint8Array): string[] {
  return (onnx.ModelProto.decode(bytes).graph?.node ?? []).map((n) => n.opType ?? '');
}

describe('U-Net export (spec G)', () => {
  it("the plugin's U-Net (depth 3, BN, transposed convs, concatenation, softmax head) matches within 1e-4", async () => {
    const settings = parseUnetSettings({ depth: 3, base_filters: 8, max_filters: 32 });
    const model = network.build({ inputSize: { height: 32, width: 48 }, numClasses: 4, settings });
    randomizeStatistics(model, 1);
    const before = tf.memory().numTensors;
    const r = await compareWithOnnx(model, { batch: 2, seed: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.onnxShape).toEqual([2, 32, 48, 4]);
    expect(r.maxAbsDiff).toBeLessThan(1e-4);
    // Every BN follows a bias-free linear conv that only it reads: all 2 x (3 + 1 + 3) of them fold.
    expect(r.foldedBatchNorms).toHaveLength(14);
    const ops = opTypes(exportToOnnx(model).bytes);
    expect(ops).not.toContain('BatchNormalization');
    expect(ops.filter((o) => o === 'ConvTranspose')).toHaveLength(3);
    model.dispose();
  });

  it('a U-Net variant (LeakyReLU, dropout, strided conv, bilinear upsampling, Softmax layer) matches within 1e-4', async () => {
    const model = variantUnet(5);
    randomizeStatistics(model, 3);
    const r = await compareWithOnnx(model, { batch: 3, seed: 4 });
    expect(r.onnxShape).toEqual([3, 24, 32, 5]);
    expect(r.maxAbsDiff).toBeLessThan(1e-4);
    // up0_bn follows a linear transposed conv; the block BNs follow linear convs.
    expect(r.foldedBatchNorms).toContain('up0_bn');
    model.dispose();
  });

  it('a model reloaded from model.json exports to the same graph and the same scores', async () => {
    const settings = parseUnetSettings({ depth: 2, base_filters: 4, max_filters: 16 });
    const model = network.build({ inputSize: { height: 16, width: 16 }, numClasses: 3, settings });
    randomizeStatistics(model, 5);
    const reloaded = await roundTrip(model);
    expect(Buffer.from(exportToOnnx(reloaded).bytes).equals(Buffer.from(exportToOnnx(model).bytes))).toBe(
      true,
    );
    const r = await compareWithOnnx(reloaded, { batch: 1, seed: 6 });
    expect(r.maxAbsDiff).toBeLessThan(1e-4);
    model.dispose();
    reloaded.dispose();
  });
});
