/**
 * `npm run bench:clicks`: latency from a click to a mask, as an annotator meets it. A click network with a
 * 256x256 input (the click plugin's default settings, seeded weights: latency does not depend on what the
 * weights learnt) is saved as a checkpoint and loaded through `ClickSegmenter.load`, the path `sly-nn segment`
 * takes, on onnxruntime (ENGINE=tfjs for the other engine; ENGINE=onnxruntime is the default). Then an interactive session: click after click on an
 * image, each call with every click so far and the previous mask, timed end to end (resize, encode, network,
 * mask at the image's size). The baseline, measured in the same run and alternating with it call by call, is
 * the network alone on an already encoded input: the difference is what the task adds. The image is SIZE x SIZE
 * (default 256, the input size) and a 640x480 one. Environment: CLICKS (per image size, default 60), WARMUP
 * (default 5), THREADS (onnxruntime threads, default: the cores), SIZE, ENGINE.
 * The last line is one JSON object.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { initBackend } from '../src/backend/select';
import { networkSignature } from '../src/plugins';
import { parseEngineChoice } from '../src/inference/engine/types';
import type { Click } from '../src/tasks/click-segmentation/clicks';
import { encodeClickInput } from '../src/tasks/click-segmentation/encode';
import { ClickSegmenter } from '../src/tasks/click-segmentation/segment';
import { mulberry32 } from '../src/util/random';
import { seededClickCheckpoint } from './click-checkpoint';
import { latencySummary } from './stats';

/** A noisy RGB image with a bright disk: something to click on. */
function image(
  width: number,
  height: number,
  seed: number,
): { data: Uint8Array; width: number; height: number } {
  const rand = mulberry32(seed);
  const data = new Uint8Array(width * height * 3);
  const r = Math.min(width, height) / 4;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = (x - width / 2) ** 2 + (y - height / 2) ** 2 < r * r;
      for (let c = 0; c < 3; c++)
        data[(y * width + x) * 3 + c] = (inside ? 200 : 60) + Math.floor(rand() * 40);
    }
  }
  return { data, width, height };
}

async function session(opts: {
  segmenter: ClickSegmenter;
  width: number;
  height: number;
  clicks: number;
  warmup: number;
}): Promise<{ endToEnd: number[]; network: number[] }> {
  const { segmenter } = opts;
  const img = image(opts.width, opts.height, 7);
  const rand = mulberry32(11);
  const grid = segmenter.checkpoint.inputSize;
  const encoded = encodeClickInput({
    rgb: new Uint8Array(grid.height * grid.width * 3).fill(100),
    grid,
    preprocessing: segmenter.checkpoint.preprocessing,
    clicks: [{ x: grid.width >> 1, y: grid.height >> 1, positive: true }],
    previous: null,
    encoding: segmenter.checkpoint.encoding,
  });
  const endToEnd: number[] = [];
  const networkOnly: number[] = [];
  let clicks: Click[] = [];
  let previous: Uint8Array | undefined;
  for (let k = 0; k < opts.warmup + opts.clicks; k++) {
    // A session restarts every 10 clicks, as an annotator moves to the next object.
    if (k % 10 === 0) {
      clicks = [];
      previous = undefined;
    }
    clicks.push({
      x: Math.floor(rand() * opts.width),
      y: Math.floor(rand() * opts.height),
      positive: clicks.length === 0 || rand() < 0.6,
    });
    // A and B alternate: the machine's drift moves both alike.
    const t0 = performance.now();
    const result = await segmenter.segmentFromClicks(img, clicks, previous);
    const t1 = performance.now();
    await segmenter.engine.run(encoded, 1);
    const t2 = performance.now();
    previous = result.mask;
    if (k >= opts.warmup) {
      endToEnd.push(t1 - t0);
      networkOnly.push(t2 - t1);
    }
  }
  return { endToEnd, network: networkOnly };
}

async function main(): Promise<void> {
  const size = Number(process.env.SIZE ?? 256);
  const clicks = Number(process.env.CLICKS ?? 60);
  const warmup = Number(process.env.WARMUP ?? 5);
  const engine =
    parseEngineChoice(process.env.ENGINE, {
      field: 'ENGINE',
      onDeprecated: (given, use) => console.error(`ENGINE=${given} is deprecated; use ENGINE=${use}`),
    }) ?? 'onnxruntime';
  const threads = process.env.THREADS === undefined ? undefined : Number(process.env.THREADS);
  await initBackend();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-clicks-'));
  try {
    await seededClickCheckpoint(dir, size);
    const segmenter = await ClickSegmenter.load(dir, {
      signatureOf: networkSignature,
      engine,
      ...(threads === undefined ? {} : { threads }),
    });
    try {
      const results: Record<string, unknown> = {};
      for (const [name, w, h] of [
        ['atInputSize', size, size],
        ['vga', 640, 480],
      ] as const) {
        const r = await session({ segmenter, width: w, height: h, clicks, warmup });
        const e2e = latencySummary(r.endToEnd);
        const net = latencySummary(r.network);
        results[name] = {
          image: `${w}x${h}`,
          endToEndMs: e2e,
          networkOnlyMs: net,
          overheadP50Ms: Math.round((e2e.p50 - net.p50) * 100) / 100,
        };
        console.log(
          `${w}x${h}: click to mask p50 ${e2e.p50} ms (p95 ${e2e.p95}), network alone p50 ${net.p50} ms`,
        );
      }
      const main = results.atInputSize as { endToEndMs: { p50: number } };
      console.log(
        JSON.stringify({
          bench: 'clicks',
          engine: segmenter.engine.description,
          inputSize: size,
          clicks,
          p50Ms: main.endToEndMs.p50,
          targetP50Ms: 30,
          meetsTarget: main.endToEndMs.p50 <= 30,
          ...results,
        }),
      );
    } finally {
      await segmenter.dispose();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
