/**
 * `npm run bench:kernels`: where one training step of the bench U-Net spends its time on the wasm backend,
 * kernel by kernel (CPU time), and the step time with and without each of our wasm changes.
 * Variants: the minimum (filter gradient only), the minimum plus each change, all changes but each one, and
 * all. Env: SIZE (128), BATCH (8), STEPS (timed steps per variant, 2), VARIANTS=all|quick (quick: the minimum
 * and all), NETWORK_PLUGIN (a plugin module path; the
 * U-Net plugin by default). The last line is one JSON object.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/select';
import {
  ALL_WASM_PATCHES,
  NO_WASM_PATCHES,
  setWasmPatches,
  type WasmPatchName,
  type WasmPatchSet,
} from '../src/backend/wasm-kernels';
import { loadNetworkPlugin } from '../src/network/load-plugin';
import { InProcessEngine } from '../src/training/engine/in-process';
import type { Batch } from '../src/training/engine/types';
import { singleInputBatch } from '../src/training/engine/batch';

const SIZE = Number(process.env.SIZE ?? 128);
const BATCH = Number(process.env.BATCH ?? 8);
const STEPS = Number(process.env.STEPS ?? 2);
const CLASSES = 4;

/** The minimum to train at all: the filter gradient wasm lacks (tfjs issue 8474). */
const MINIMUM: WasmPatchSet = { ...NO_WASM_PATCHES, conv2dBackpropFilter: true };
const OPTIONAL = (Object.keys(ALL_WASM_PATCHES) as WasmPatchName[]).filter(
  (p) => p !== 'conv2dBackpropFilter',
);
const VARIANTS: Record<string, WasmPatchSet> = {
  'filter-grad only': MINIMUM,
  ...Object.fromEntries(OPTIONAL.map((p) => [`filter-grad + ${p}`, { ...MINIMUM, [p]: true }])),
  ...Object.fromEntries(OPTIONAL.map((p) => [`all but ${p}`, { ...ALL_WASM_PATCHES, [p]: false }])),
  all: { ...ALL_WASM_PATCHES },
};

/** Seeded synthetic batch: the values do not matter for speed, only the shapes. */
function syntheticBatch(n: number, size: number, seed: number): Batch {
  let s = seed >>> 0;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296;
  const x = new Float32Array(n * size * size * 3).map(() => rnd() * 2 - 1);
  const y = new Int32Array(n * size * size).map(() => Math.floor(rnd() * CLASSES));
  return singleInputBatch({ x, y, n, height: size, width: size });
}

function buildModel(): tf.LayersModel {
  const network = loadNetworkPlugin(process.env.NETWORK_PLUGIN ?? require.resolve('../plugin/unet'));
  const settings = network.parseSettings({});
  return network.build({ inputSize: { height: SIZE, width: SIZE }, numClasses: CLASSES, settings });
}

interface KernelRow {
  kernel: string;
  cpuMs: number;
  calls: number;
  share: number;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * CPU time per kernel over one step, by wrapping the engine's runKernel (outermost kernels only, so a kernel
 * composed of others counts once). CPU time rather than wall time: the machine is shared, and tf.profile's
 * wall-clock figures also count op scopes on top of their kernels.
 */
async function profileStep(
  engine: InProcessEngine,
  batch: Batch,
): Promise<{ rows: KernelRow[]; shapes: string[] }> {
  const eng = tf.engine() as unknown as {
    runKernel: (name: string, inputs: tf.NamedTensorMap, attrs: object) => unknown;
  };
  const original = eng.runKernel;
  const byKernel = new Map<string, { ms: number; calls: number }>();
  const byShape = new Map<string, number>();
  let depth = 0;
  eng.runKernel = function (name: string, inputs: tf.NamedTensorMap, attrs: object) {
    depth++;
    const c0 = cpuMs();
    try {
      return original.call(this, name, inputs, attrs);
    } finally {
      depth--;
      if (depth === 0) {
        const ms = cpuMs() - c0;
        const row = byKernel.get(name) ?? { ms: 0, calls: 0 };
        row.ms += ms;
        row.calls += 1;
        byKernel.set(name, row);
        const shapes = Object.values(inputs).map((t) => `[${(t?.shape ?? []).join(',')}]`);
        const key = `${name} ${shapes.join(' ')}`;
        byShape.set(key, (byShape.get(key) ?? 0) + ms);
      }
    }
  };
  try {
    await engine.trainStep(batch);
  } finally {
    eng.runKernel = original;
  }
  const total = [...byKernel.values()].reduce((a, r) => a + r.ms, 0);
  const rows = [...byKernel.entries()]
    .map(([kernel, r]) => ({ kernel, cpuMs: round(r.ms), calls: r.calls, share: round(r.ms / total, 3) }))
    .sort((a, b) => b.cpuMs - a.cpuMs);
  const shapes = [...byShape.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([k, ms]) => `${round(ms)} ms  ${k}`);
  return { rows, shapes };
}

async function timeSteps(
  engine: InProcessEngine,
  batch: Batch,
  steps: number,
): Promise<{ wall: number; cpu: number }> {
  await engine.trainStep(batch); // warm-up: first calls allocate and set up XNNPACK operators
  const t0 = performance.now();
  const c0 = cpuMs();
  for (let i = 0; i < steps; i++) await engine.trainStep(batch);
  return { wall: (performance.now() - t0) / steps, cpu: (cpuMs() - c0) / steps };
}

function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

async function main(): Promise<void> {
  const backend = await initBackend({ force: process.env.TFJS_BACKEND ?? 'wasm' });
  console.log(`backend ${backend.name}${backend.reasons.length ? ` (${backend.reasons.join('; ')})` : ''}`);
  const model = buildModel();
  console.log(`network: ${model.countParams()} parameters, input ${SIZE}x${SIZE}, batch ${BATCH}`);
  const engine = new InProcessEngine({ model, learningRate: 1e-3, numClasses: CLASSES, ignoreIndex: null });
  const batch = syntheticBatch(BATCH, SIZE, 1);

  const stepMs: Record<string, number> = {};
  const stepCpuMs: Record<string, number> = {};
  if (backend.name === 'wasm') {
    const quick = process.env.VARIANTS === 'quick';
    for (const [name, patches] of Object.entries(VARIANTS)) {
      if (quick && name !== 'all' && name !== 'filter-grad only') continue;
      setWasmPatches(patches);
      const t = await timeSteps(engine, batch, STEPS);
      stepMs[name] = round(t.wall);
      stepCpuMs[name] = round(t.cpu);
      console.log(`step ${stepMs[name]} ms (cpu ${stepCpuMs[name]} ms)  ${name}`);
    }
  }
  setWasmPatches(ALL_WASM_PATCHES);
  const tensorsBefore = tf.memory().numTensors;
  const { rows, shapes } = await profileStep(engine, batch);
  const leak = tf.memory().numTensors - tensorsBefore;
  console.log('\nCPU time per kernel, one step (all changes on):');
  for (const r of rows.slice(0, 20)) {
    console.log(`${r.cpuMs.toFixed(1).padStart(9)} ms ${String(r.calls).padStart(5)}x  ${r.kernel}`);
  }
  console.log('\nheaviest kernel+shape pairs:');
  for (const s of shapes) console.log(`  ${s}`);
  await engine.dispose();
  model.dispose();
  console.log(
    JSON.stringify({
      bench: 'kernels',
      backend: backend.name,
      size: SIZE,
      batch: BATCH,
      steps: STEPS,
      stepMs,
      stepCpuMs,
      profileCpuMs: round(rows.reduce((a, r) => a + r.cpuMs, 0)),
      loadAverage1m: round(os.loadavg()[0], 2),
      kernels: rows.slice(0, 15),
      tensorsPerStepLeak: leak,
    }),
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
