/**
 * An onnxruntime session in a worker thread (its options: runtime.test.ts): a run whose outputs come back as plain arrays, a bad
 * run that fails alone, a model that does not load, and closing.
 */
import { onnx } from 'onnx-proto';
import { SessionThread, sessionWorkerScript } from '../../src/onnx/session-thread';
import { builtFile } from '../contract/built';

/** y = relu(x), x of shape [2, 3]. */
function reluModel(): Uint8Array {
  const info = (name: string) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }, { dimValue: 3 }] } } },
  });
  return onnx.ModelProto.encode({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'relu',
      node: [{ opType: 'Relu', input: ['x'], output: ['y'] }],
      input: [info('x')],
      output: [info('y')],
    },
  }).finish();
}

function script(): string {
  builtFile('src/onnx/session-thread-worker.ts'); // fails with the build instruction when stale
  const s = sessionWorkerScript();
  if (s === null) throw new Error('the session worker is not built');
  return s;
}

describe('session thread', () => {
  it('runs a model; a bad run fails alone and the next one works; close ends the thread', async () => {
    const thread = await SessionThread.create(
      { model: reluModel(), settings: { intraOpNumThreads: 1, allowSpinning: false } },
      script(),
    );
    const x = Float32Array.of(-1, 2, -3, 4, 0, -0.5);
    const out = await thread.run({ x: { data: x, dims: [2, 3] } });
    expect(Array.from(out.y)).toEqual([0, 2, 0, 4, 0, 0]);
    expect(x.length).toBe(0); // transferred to the thread

    await expect(thread.run({ x: { data: new Float32Array(4), dims: [2, 2] } })).rejects.toThrow(
      /^the onnxruntime thread: .*(dimension|shape|Got)/i,
    );
    const again = await thread.run({ x: { data: Float32Array.of(1, -1, 1, -1, 1, -1), dims: [2, 3] } });
    expect(Array.from(again.y)).toEqual([1, 0, 1, 0, 1, 0]);
    await thread.close();
    await expect(thread.run({ x: { data: new Float32Array(6), dims: [2, 3] } })).rejects.toThrow(/exited/);
    await thread.close(); // twice is fine
  });

  it('rejects, naming the thread, when the model does not load, and leaves no thread behind', async () => {
    await expect(
      SessionThread.create({ model: Uint8Array.of(1, 2, 3), settings: { intraOpNumThreads: 1 } }, script()),
    ).rejects.toThrow(/^the onnxruntime thread: /);
  });
});
