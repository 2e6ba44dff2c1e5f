/**
 * `selftest`: does this checkpoint compute here what it computed when it was written? Unpacks a tar safely (or
 * takes a folder), runs the golden input recorded in `golden.json` through every engine present (tfjs on
 * model.json + weights.bin; onnxruntime on the checkpoint's model.onnx), and says pass or fail with the largest
 * difference per engine.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { modelError } from '../../errors';
import type { Tensor as TfTensor } from '@tensorflow/tfjs';
import type { Golden } from '../../model-state/golden';
import { type CliCommand, parseCommandArgs } from '../command';

/** Float32 engines differ in summation order; a damaged or foreign checkpoint differs by far more. */
const TOLERANCE = 1e-3;

interface EngineResult {
  readonly engine: string;
  readonly maxDifference: number | null;
  readonly ms: number;
  /** Why the engine did not run, when it did not. */
  readonly skipped?: string;
}

export const selftestCommand: CliCommand = {
  name: 'selftest',
  summary: "Run a checkpoint's golden batch through every engine present and compare with what it recorded",
  usage: 'sly-nn selftest <checkpoint dir or model.tar>',
  help: [
    'Every training checkpoint records a golden batch (golden.json): a seeded input and what the network gave',
    'for it. This runs it again with tfjs and, when the checkpoint has model.onnx, with onnxruntime, and prints',
    `PASS when every engine is within ${TOLERANCE} of the record (FAIL and exit 1 otherwise). A tar is unpacked`,
    'safely into a temporary folder first.',
    '',
    'Example: sly-nn selftest results/00000005',
  ].join('\n'),
  async run(args, io) {
    const { positionals } = parseCommandArgs(args, { positionals: ['checkpoint'] });
    const given = positionals[0] as string;
    let dir = given;
    let temp: string | undefined;
    if ((await fsp.stat(given).catch(() => undefined))?.isFile() === true) {
      const { unpackModelTar } = await import('../../model-state/tar');
      temp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sly-selftest-'));
      dir = path.join(temp, 'model');
      await unpackModelTar({ file: given, dir });
    }
    try {
      const { GOLDEN_FILE } = await import('../../model-state/golden');
      const goldenFile = path.join(dir, GOLDEN_FILE);
      let golden: Golden;
      try {
        golden = JSON.parse(await fsp.readFile(goldenFile, 'utf8')) as Golden;
      } catch (e) {
        throw modelError(
          `no golden batch (${(e as Error).message.split('\n')[0]}): checkpoints written before it have none`,
          { file: path.join(given, GOLDEN_FILE) },
        );
      }
      io.out(`${given}: golden batch ${golden.inputShape.join('x')}, recorded on ${golden.engine}`);
      const results = [await runTfjs(dir, golden), await runOnnx(dir, golden)];
      let pass = true;
      for (const r of results) {
        if (r.skipped !== undefined) {
          io.out(`  ${r.engine}: not run (${r.skipped})`);
          continue;
        }
        const ok = r.maxDifference !== null && r.maxDifference <= TOLERANCE;
        pass &&= ok;
        io.out(
          `  ${r.engine}: ${ok ? 'pass' : 'FAIL'}, largest difference ${r.maxDifference?.toExponential(2)} ` +
            `(${r.ms.toFixed(0)} ms)`,
        );
      }
      if (results.every((r) => r.skipped !== undefined)) pass = false;
      io.out(pass ? 'PASS' : 'FAIL');
      return pass ? 0 : 1;
    } finally {
      if (temp !== undefined) await fsp.rm(temp, { recursive: true, force: true });
    }
  },
};

async function runTfjs(dir: string, golden: Golden): Promise<EngineResult> {
  const { initBackend } = await import('../../backend/select');
  const { loadModelFromDir } = await import('../../network/io');
  const { goldenDifference, goldenInput } = await import('../../model-state/golden');
  const tf = await import('@tensorflow/tfjs');
  const backend = await initBackend();
  const started = performance.now();
  const model = await loadModelFromDir(dir);
  try {
    const x = goldenInput(golden.inputShape, golden.seed);
    const out = tf.tidy(
      () => (model.predict(tf.tensor(x, [...golden.inputShape])) as TfTensor).dataSync() as Float32Array,
    );
    return {
      engine: `tfjs ${backend.name}`,
      maxDifference: goldenDifference(golden, out),
      ms: performance.now() - started,
    };
  } finally {
    model.dispose();
  }
}

async function runOnnx(dir: string, golden: Golden): Promise<EngineResult> {
  const file = path.join(dir, 'model.onnx');
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch {
    return { engine: 'onnxruntime', maxDifference: null, ms: 0, skipped: 'the checkpoint has no model.onnx' };
  }
  const { loadOnnxRuntime } = await import('../../onnx/runtime');
  const { goldenDifference, goldenInput } = await import('../../model-state/golden');
  let ort;
  try {
    ort = await loadOnnxRuntime();
  } catch (e) {
    return { engine: 'onnxruntime', maxDifference: null, ms: 0, skipped: (e as Error).message };
  }
  const started = performance.now();
  const session = await ort.InferenceSession.create(bytes);
  try {
    const x = goldenInput(golden.inputShape, golden.seed);
    const result = await session.run({
      [session.inputNames[0]]: new ort.Tensor('float32', x, [...golden.inputShape]),
    });
    const out = result[session.outputNames[0]].data as Float32Array;
    return {
      engine: 'onnxruntime (model.onnx)',
      maxDifference: goldenDifference(golden, out),
      ms: performance.now() - started,
    };
  } finally {
    await session.release();
  }
}
