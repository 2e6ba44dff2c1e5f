/**
 * `check-runtime`: can this machine (an image being built, a host) run the tasks? Picks the tfjs backend as the
 * tasks pick it (src/backend/select.ts), computes with it, loads sharp and onnxruntime-node and runs one ONNX
 * graph, and prints the backend the tasks will use. The Dockerfile runs it in both stages: npm drops a native
 * tfjs package whose libtensorflow download failed without a word, so this is where that becomes visible.
 */
import type { BackendSelection } from '../../backend/select';
import { type CliCommand, parseOptions, UsageError } from '../command';

/** What `--backend` accepts: which backends pass the check. */
export const BACKEND_REQUIREMENTS = {
  /** tfjs-node or tfjs-node-gpu: the production images. */
  native: ['node-gpu', 'node'],
  /** The best backend present, native or else wasm (plain cpu means the wasm files are missing: a broken install). */
  best: ['node-gpu', 'node', 'wasm'],
} as const satisfies Record<string, readonly BackendSelection['name'][]>;

export type BackendRequirement = keyof typeof BACKEND_REQUIREMENTS;

export const checkRuntimeCommand: CliCommand = {
  name: 'check-runtime',
  summary: 'Check that the tfjs backend, sharp and onnxruntime-node load and compute; print the backend',
  usage: 'sly-nn check-runtime [--backend native|best]',
  help: [
    'Chooses the tfjs backend as the tasks do (tfjs-node-gpu, tfjs-node, wasm, cpu; TFJS_BACKEND forces one),',
    'adds two tensors on it, loads sharp and onnxruntime-node and runs a one-node ONNX graph. Prints',
    '"tfjs backend: <name>" with why each better one was not used. Exits 1 when anything fails to load or',
    'compute, or when the backend is not one --backend accepts:',
    '  native  tfjs-node or tfjs-node-gpu (the default; the GPU image requires it)',
    '  best    the best present, native or wasm (an image built where libtensorflow cannot be downloaded)',
    '',
    'Example: sly-nn check-runtime --backend best',
  ].join('\n'),
  async run(args, io) {
    const requirement = parseRequirement(args);
    const { initBackend } = await import('../../backend/select');
    const tf = await import('@tensorflow/tfjs');
    const selection = await initBackend();
    const sum = Array.from(tf.ones([2]).add(1).dataSync());
    if (sum.join() !== '2,2') throw new Error(`tfjs on ${selection.name} computed 1 + 1 = [${sum.join()}]`);
    const why = selection.reasons.length > 0 ? ` (${selection.reasons.join('; ')})` : '';
    io.out(`tfjs backend: ${selection.name}${why}`);
    await import('sharp');
    io.out('sharp: loaded');
    await checkOnnxRuntime();
    io.out('onnxruntime-node: loaded, ran a graph');
    const accepted: readonly string[] = BACKEND_REQUIREMENTS[requirement];
    if (!accepted.includes(selection.name)) {
      io.err(
        `check-runtime: the tfjs backend is ${selection.name}, but --backend ${requirement} accepts only ` +
          `${accepted.join(', ')}${why}`,
      );
      return 1;
    }
    return 0;
  },
};

function parseRequirement(args: readonly string[]): BackendRequirement {
  const requirement = parseOptions(args, { backend: { type: 'string' } }).values.backend ?? 'native';
  if (!Object.hasOwn(BACKEND_REQUIREMENTS, requirement)) {
    throw new UsageError(
      `--backend must be one of ${Object.keys(BACKEND_REQUIREMENTS).join(', ')}, got "${requirement}"`,
    );
  }
  return requirement as BackendRequirement;
}

/** Loads onnxruntime-node and runs a graph: its native binding and library load only when a session starts. */
async function checkOnnxRuntime(): Promise<void> {
  const { loadOnnxRuntime } = await import('../../onnx/runtime');
  const { GraphBuilder } = await import('../../onnx/graph-builder');
  const ort = await loadOnnxRuntime();
  const graph = new GraphBuilder();
  graph.node('Identity', [graph.reserve('x')], [graph.reserve('y')]);
  const model = graph.toModelProto({
    inputs: [{ name: 'x', dims: [1] }],
    outputs: [{ name: 'y', dims: [1] }],
    graphName: 'check-runtime',
  });
  const session = await ort.InferenceSession.create(model);
  try {
    const input = new ort.Tensor('float32', new Float32Array([3]), [1]);
    const output = (await session.run({ x: input })).y;
    if (output?.data[0] !== 3)
      throw new Error('onnxruntime-node: the identity graph did not return its input');
  } finally {
    await session.release();
  }
}
