/**
 * The PyTorch figure bench:infer compares with: the same checkpoint rebuilt in PyTorch by
 * `bench/pytorch_baseline.py`, on this CPU, in the same run (this machine's speed drifts, so a figure from
 * another run or machine would not do). Optional: without a Python that imports torch (Debian's
 * `python3-torch`) it reports why and the bench goes on.
 *
 * The script first runs one batch that onnxruntime also ran through the exported graph; a PyTorch network that
 * does not give the same scores (max absolute difference above 1e-4) is not the same network, and its figure is
 * not reported.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';

const run = promisify(execFile);

const SCRIPT = path.join(__dirname, '..', '..', 'bench', 'pytorch_baseline.py');
const SAME_NETWORK_TOLERANCE = 1e-4;

export type PytorchBaseline =
  | {
      torch: string;
      python: string;
      maxAbsDiffVsOnnx: number;
      /** The best of eager, eager channels-last and frozen TorchScript, per thread count. */
      best: Record<string, { imgPerSec: number; variant: string }>;
      bestImgPerSec: number;
      timings: Record<string, { imgPerSec: number; msPerBatch: number; cpuMsPerImage: number }>;
    }
  | { skipped: string };

/** The first of `PYTORCH_PYTHON`, `python3`, `/usr/bin/python3` that imports torch. */
async function pythonWithTorch(): Promise<string | { skipped: string }> {
  const candidates = process.env.PYTORCH_PYTHON
    ? [process.env.PYTORCH_PYTHON]
    : ['python3', '/usr/bin/python3'];
  for (const python of candidates) {
    try {
      await run(python, ['-c', 'import torch, numpy']);
      return python;
    } catch {
      // try the next one
    }
  }
  return {
    skipped:
      `no Python with torch and numpy (tried ${candidates.join(', ')}; ` +
      "install Debian's python3-torch, or set PYTORCH_PYTHON)",
  };
}

export async function pytorchBaseline(opts: {
  modelDir: string;
  onnxBytes: Uint8Array;
  size: number;
  batch: number;
  images: number;
  threads: number[];
  workDir: string;
  checkInput: Float32Array;
}): Promise<PytorchBaseline> {
  const python = await pythonWithTorch();
  if (typeof python !== 'string') return python;
  // The reference scores for the same-network check: the exported graph on onnxruntime.
  const session = await ort.InferenceSession.create(opts.onnxBytes, { intraOpNumThreads: 1 });
  let reference: Float32Array;
  try {
    const x = new ort.Tensor('float32', opts.checkInput, [opts.batch, opts.size, opts.size, 3]);
    const out = await session.run({ [session.inputNames[0]]: x });
    reference = out[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
  const inputFile = path.join(opts.workDir, 'pytorch-check-input.bin');
  const outputFile = path.join(opts.workDir, 'pytorch-check-output.bin');
  await fs.writeFile(inputFile, opts.checkInput);
  await fs.writeFile(outputFile, reference);
  const args = [
    SCRIPT,
    opts.modelDir,
    ...['--size', String(opts.size), '--batch', String(opts.batch), '--images', String(opts.images)],
    ...['--threads', opts.threads.join(','), '--check-input', inputFile, '--check-output', outputFile],
  ];
  let stdout: string;
  try {
    ({ stdout } = await run(python, args, { maxBuffer: 16 * 1024 * 1024 }));
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    const last = (err.stdout ?? '').trim().split('\n').pop() ?? '';
    return { skipped: last.startsWith('{') ? String(JSON.parse(last).error) : err.message };
  }
  const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
    torch: string;
    maxAbsDiffVsOnnx: number;
    timings: Record<string, { imgPerSec: number; msPerBatch: number; cpuMsPerImage: number }>;
    [key: `bestThreads${number}`]: { imgPerSec: number; variant: string };
  };
  if (!(r.maxAbsDiffVsOnnx <= SAME_NETWORK_TOLERANCE)) {
    return {
      skipped:
        `the network rebuilt in PyTorch is not the same: max |difference| ${r.maxAbsDiffVsOnnx} from ` +
        `onnxruntime's scores (tolerance ${SAME_NETWORK_TOLERANCE})`,
    };
  }
  const best: Record<string, { imgPerSec: number; variant: string }> = {};
  for (const t of opts.threads) best[`threads${t}`] = r[`bestThreads${t}`];
  return {
    torch: r.torch,
    python,
    maxAbsDiffVsOnnx: r.maxAbsDiffVsOnnx,
    best,
    bestImgPerSec: Math.max(...Object.values(best).map((b) => b.imgPerSec)),
    timings: r.timings,
  };
}
