/** What the exported file says about itself, and how the exporter refuses what it cannot export (spec H.3). */
import * as tf from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';
import { TaskError } from '../../src/errors';
import { checkExportable, EXPORTER_VERSION, exportToOnnx, readLayerGraph } from '../../src/onnx';

type Sym = tf.SymbolicTensor;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function model(shape: (number | null)[], ...layers: tf.layers.Layer[]): tf.LayersModel {
  const input = tf.input({ shape, name: 'img' });
  let x: Sym = input;
  for (const l of layers) x = l.apply(x) as Sym;
  return tf.model({ inputs: input, outputs: x });
}

function thrown(f: () => unknown): TaskError {
  try {
    f();
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a TaskError');
}

describe('exported model proto', () => {
  const m = model(
    [8, 12, 3],
    tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'softmax', name: 'head' }),
  );

  it('has opset 13, NHWC input "input" and output "scores" with a symbolic batch, and metadata', () => {
    const exported = exportToOnnx(m, { metadata: { classes: '["bg","kiwi"]' } });
    const proto = onnx.ModelProto.decode(exported.bytes);
    expect(proto.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 13]]);
    expect(Number(proto.irVersion)).toBe(7);
    const dims = (v: onnx.IValueInfoProto): (string | number)[] =>
      (v.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam || Number(d.dimValue));
    expect(proto.graph?.input?.map((i) => i.name)).toEqual(['input']);
    expect(dims(proto.graph?.input?.[0] ?? {})).toEqual(['N', 8, 12, 3]);
    expect(proto.graph?.output?.map((o) => o.name)).toEqual(['scores']);
    expect(dims(proto.graph?.output?.[0] ?? {})).toEqual(['N', 8, 12, 4]);
    const meta = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
    expect(meta).toEqual({
      layout: 'NHWC',
      classes: '["bg","kiwi"]',
      weights_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      exporter_version: String(EXPORTER_VERSION),
    });
  });

  /** [op, axis attribute] of each node, in graph order. */
  const ops = (mm: tf.LayersModel): [string, number | null][] =>
    (onnx.ModelProto.decode(exportToOnnx(mm).bytes).graph?.node ?? []).map((n) => {
      const axis = n.attribute?.find((a) => a.name === 'axis');
      return [n.opType ?? '', axis ? Number(axis.i) : null];
    });

  it('runs an output softmax after the NHWC transpose, on the last axis (onnxruntime runs that faster)', () => {
    expect(ops(m)).toEqual([
      ['Transpose', null],
      ['Conv', null],
      ['Transpose', null],
      ['Softmax', -1],
    ]);
    const layer = model(
      [8, 12, 3],
      tf.layers.conv2d({ filters: 4, kernelSize: 1 }),
      tf.layers.softmax({ axis: -1 }),
    );
    expect(ops(layer).slice(-2)).toEqual([
      ['Transpose', null],
      ['Softmax', -1],
    ]);
  });

  it('keeps a softmax that something else reads on the channel axis, before the output transpose', () => {
    const inside = model([8, 12, 3], tf.layers.softmax({ axis: -1 }), tf.layers.reLU());
    expect(ops(inside)).toEqual([
      ['Transpose', null],
      ['Softmax', 1],
      ['Relu', null],
      ['Transpose', null],
    ]);
    // Both the softmax and what follows it are outputs: the softmax is read, so it stays.
    const input = tf.input({ shape: [8, 12, 3] });
    const sm = tf.layers.softmax({ axis: -1 }).apply(input) as Sym;
    const twoOutputs = tf.model({ inputs: input, outputs: [sm, tf.layers.reLU().apply(sm) as Sym] });
    expect(ops(twoOutputs).filter(([op]) => op === 'Softmax')).toEqual([['Softmax', 1]]);
  });

  it('takes other names, and refuses a wrong count of them', () => {
    const proto = onnx.ModelProto.decode(exportToOnnx(m, { inputNames: ['x'], outputNames: ['y'] }).bytes);
    expect(proto.graph?.input?.[0].name).toBe('x');
    expect(proto.graph?.output?.[0].name).toBe('y');
    expect(thrown(() => exportToOnnx(m, { outputNames: ['a', 'b'] })).context.field).toBe('outputNames');
  });

  it('stores weights as float32 initialisers with the ONNX layouts', () => {
    const conv = model([5, 5, 2], tf.layers.conv2d({ filters: 3, kernelSize: [2, 4], name: 'c' }));
    const proto = onnx.ModelProto.decode(exportToOnnx(conv).bytes);
    const init = Object.fromEntries(
      (proto.graph?.initializer ?? []).map((t) => [t.name, (t.dims ?? []).map(Number)]),
    );
    expect(init).toEqual({ 'c/weight': [3, 2, 2, 4], 'c/bias': [3] });
  });
});

describe('unsupported models fail with a model error naming the layer', () => {
  it('an unknown layer class names the layer and its class', () => {
    const m = model(
      [8, 8, 3],
      tf.layers.conv2d({ filters: 2, kernelSize: 3 }),
      tf.layers.zeroPadding2d({ name: 'pad_a' }),
    );
    const e = thrown(() => exportToOnnx(m));
    expect(e.kind).toBe('model');
    expect(e.context.item).toBe('pad_a');
    expect(e.message).toMatch(/"pad_a" has class ZeroPadding2D/);
    expect(e.message).toMatch(/supported: .*Conv2DTranspose/);
    expect(() => checkExportable(readLayerGraph(m))).toThrow(/ZeroPadding2D/);
  });

  it('an unknown layer class is reported even when it comes after the supported ones', () => {
    const m = model(
      [8, 8, 3],
      tf.layers.conv2d({ filters: 2, kernelSize: 3 }),
      tf.layers.globalAveragePooling2d({ name: 'gap' }),
    );
    expect(thrown(() => exportToOnnx(m)).message).toMatch(/"gap" has class GlobalAveragePooling2D/);
  });

  it('an unsupported activation names the layer and the field', () => {
    const m = model(
      [4, 4, 3],
      tf.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'gelu', name: 'c_gelu' }),
    );
    const e = thrown(() => exportToOnnx(m));
    expect(e.context).toEqual({ item: 'c_gelu', field: 'activation' });
    expect(e.message).toMatch(/activation "gelu"/);
  });

  it('channels-first layers and non-channel softmax axes are refused', () => {
    const cf = model(
      [3, 8, 8],
      tf.layers.conv2d({ filters: 2, kernelSize: 1, dataFormat: 'channelsFirst', name: 'cf' }),
    );
    expect(thrown(() => exportToOnnx(cf)).context).toEqual({ item: 'cf', field: 'dataFormat' });
    const sm = model([4, 4, 3], tf.layers.softmax({ name: 'sm' }));
    expect(thrown(() => exportToOnnx(sm)).context).toEqual({ item: 'sm', field: 'axis' });
  });

  it('a model that is not rank-4 images is refused', () => {
    const input = tf.input({ shape: [6] });
    const out = tf.layers.activation({ activation: 'relu', name: 'flat_relu' }).apply(input) as Sym;
    const e = thrown(() => exportToOnnx(tf.model({ inputs: input, outputs: out })));
    expect(e.message).toMatch(/rank-2 tensor/);
  });
});
