/**
 * `npm run bench:serve`: the model server (`sly-nn serve`, src/serve/) under load, on this machine.
 * The bench writes its own checkpoints, so it runs on a fresh clone: bench:infer's `random` network (the bench
 * U-Net at SIZE x SIZE: depth 4, 16 to 128 filters, seeded weights) and bench:clicks's click network (input
 * CLICK_SIZE x CLICK_SIZE), both loaded by `loadServedModels` and served by `createModelServer` on 127.0.0.1, in
 * this process, as `sly-nn serve` does. Images: generated JPEGs of 640x480 (bench:infer's kind). The load
 * generator is a child process (serve-client.ts: Node's fetch, bodies encoded once): on 2 cores that is the
 * fairer place, as its event loop then never delays the server's (which parses requests, hands images to the
 * decoder and makes the labels) and its CPU is counted apart (`cpuMsPerImage.client`); it still shares the
 * cores with the server, as any client on the same machine would.
 * 1. Throughput and latency of POST /inference_image at each CONCURRENCY (closed loop: each client posts again
 *    when answered), against batch inference of the same network in the same process: the server's own
 *    ImageAnnotator (the MicroBatcher path) given BASELINE_IN_FLIGHT images at once, as the inference task keeps
 *    them in flight, each annotation serialised as the task writes it. Rounds of ROUND_S seconds alternate,
 *    ABBA (batch, c8, c1, c32, then reversed), ROUNDS times, so this machine's drift moves every arm alike. The
 *    goal: at concurrency 8, 80% of the batch figure (`c8VsBatch`, pooled over the rounds). The network's mean
 *    batch size in each arm comes from the server's GET /metrics (`sly_nn_network_batch_size`, read before and
 *    after each round), CPU per image by thread from /proc.
 * 2. Overload: OVERLOAD_CONCURRENCY (256) clients for SERVE_BENCH_OVERLOAD_S (30) seconds, each posting again at
 *    once, 503 or not. Every answer must be 200 or 503 (the semantic queue, QUEUE images, refuses the rest), no
 *    connection may fail, and the server must still be ready after; its RSS is sampled throughout.
 * 3. Click to mask over HTTP: CLICKS sequential POST /segment_clicks (a 640x480 JPEG and every click so far; a
 *    session restarts every 10 clicks), each followed by the same work in-process (decode the JPEG, then
 *    `segmentFromClicks` on the server's own ClickSegmenter): the difference is what the endpoint adds (the
 *    upload, the mask as a PNG and as a bitmap, JSON, HTTP). Goal: p50 <= 50 ms.
 * Environment: SIZE (128), BATCH (8, the server's largest network batch), IMAGES (16), WIDTH/HEIGHT (640x480),
 * CONCURRENCY (1,8,32), BASELINE_IN_FLIGHT (4 * BATCH + 1), ROUND_S (5), ROUNDS (3), WARMUP_S (2), QUEUE (64),
 * OVERLOAD_CONCURRENCY (256), SERVE_BENCH_OVERLOAD_S (30; 0 skips it), CLICKS (60), CLICK_SIZE (256).
 * The last line is one JSON object.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { initBackend } from '../src/backend/select';
import { generateSyntheticProject, type SyntheticItem } from '../src/example/synthetic-project';
import { serializeAnnotation } from '../src/format/annotation';
import { decodeImageBytes } from '../src/image/decode';
import type { ImageAnnotator } from '../src/inference/image-annotator';
import { createLogger } from '../src/protocol';
import { closeServedModels, loadServedModels } from '../src/serve/models';
import { createModelServer } from '../src/serve/server';
import { modeFromSettings } from '../src/serve/settings';
import type { Click } from '../src/tasks/click-segmentation/clicks';
import type { ClickSegmenter } from '../src/tasks/click-segmentation/segment';
import { mulberry32 } from '../src/util/random';
import { seededClickCheckpoint } from './click-checkpoint';
import { intEnv } from './env';
import { seededUnetCheckpoint } from './seeded-unet';
import type { ClientReply, ClientRequest, LoadResult } from './serve-client';
import { latencySummary } from './stats';
import { threadCpu } from './thread-cpu';

const MiB = 1024 * 1024;
const round = (v: number, digits = 1): number => Number(v.toFixed(digits));

type Env = ReturnType<typeof readEnv>;

function readEnv() {
  const batch = intEnv('BATCH', 8, 1);
  const concurrency = (process.env.CONCURRENCY ?? '1,8,32').split(',').map(Number);
  if (concurrency.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new Error(`CONCURRENCY must list whole numbers >= 1, got ${process.env.CONCURRENCY}`);
  }
  return {
    size: intEnv('SIZE', 128, 16),
    batch,
    images: intEnv('IMAGES', 16, 1),
    width: intEnv('WIDTH', 640, 16),
    height: intEnv('HEIGHT', 480, 16),
    concurrency,
    baselineInFlight: intEnv('BASELINE_IN_FLIGHT', 4 * batch + 1, 1),
    roundMs: 1000 * intEnv('ROUND_S', 5, 1),
    rounds: intEnv('ROUNDS', 3, 1),
    warmupMs: 1000 * intEnv('WARMUP_S', 2, 0),
    queue: intEnv('QUEUE', 64, 1),
    overloadConcurrency: intEnv('OVERLOAD_CONCURRENCY', 256, 1),
    overloadMs: 1000 * intEnv('SERVE_BENCH_OVERLOAD_S', 30, 0),
    clicks: intEnv('CLICKS', 60, 1),
    clickSize: intEnv('CLICK_SIZE', 256, 16),
  };
}

/** The load generator in its child process, asked over IPC; if it dies, every question fails. */
class LoadClient {
  private nextId = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (r: ClientReply) => void; reject: (e: Error) => void }
  >();
  private readonly child: ChildProcess;
  private readonly readyReply: Promise<void>;
  private readonly exited: Promise<void>;
  private failure: Error | undefined;

  constructor(url: string, images: readonly string[]) {
    this.child = fork(path.join(__dirname, 'serve-client.js'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let ready: () => void = () => undefined;
    let notReady: (e: Error) => void = () => undefined;
    this.readyReply = new Promise((resolve, reject) => {
      ready = resolve;
      notReady = reject;
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.failure = new Error(`the load generator exited (${signal ?? code})`);
        notReady(this.failure);
        for (const w of this.waiting.values()) w.reject(this.failure);
        this.waiting.clear();
        resolve();
      });
    });
    this.child.on('message', (reply: ClientReply) => {
      if ('op' in reply) ready();
      else {
        this.waiting.get(reply.id)?.resolve(reply);
        this.waiting.delete(reply.id);
      }
    });
    this.send({ op: 'init', url, images });
  }

  ready(): Promise<void> {
    return this.readyReply;
  }

  async load(route: string, concurrency: number, durationMs: number): Promise<LoadResult> {
    const reply = await this.ask({ op: 'load', id: this.nextId++, route, concurrency, durationMs });
    if (!('load' in reply)) throw new Error('the load generator answered a load with something else');
    return reply.load;
  }

  async click(image: number, clicks: readonly Click[]): Promise<{ status: number; ms: number }> {
    const reply = await this.ask({ op: 'click', id: this.nextId++, image, clicks });
    if (!('click' in reply)) throw new Error('the load generator answered a click with something else');
    return reply.click;
  }

  async close(): Promise<void> {
    if (this.failure === undefined) this.send({ op: 'exit' });
    await this.exited;
  }

  private ask(message: ClientRequest & { id: number }): Promise<ClientReply> {
    return new Promise((resolve, reject) => {
      if (this.failure !== undefined) {
        reject(this.failure);
        return;
      }
      this.waiting.set(message.id, { resolve, reject });
      this.send(message);
    });
  }

  private send(message: ClientRequest): void {
    this.child.send(message);
  }
}

/** GET /metrics as numbers by series (`name{labels}`). */
async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

const BATCH_SUM = 'sly_nn_network_batch_size_sum{model="semantic"}';
const BATCH_COUNT = 'sly_nn_network_batch_size_count{model="semantic"}';
const REJECTED = 'sly_nn_requests_rejected_total{reason="semantic queue full"}';

/** What one round of an arm gave: counts and CPU, summed over rounds for the figures. */
interface Round {
  /** Images answered within the window, and the window. */
  readonly done: number;
  readonly seconds: number;
  /** Network batches and the images in them (window and drain), from the server's /metrics. */
  readonly batches: number;
  readonly samples: number;
  /** CPU ms: the bench process (server and baseline) by thread, and the load generator's. */
  readonly cpuMs: { main: number; decoding: number; other: number; client: number };
}

/**
 * Runs `work` (which gives the images it had answered in its window, and the client's CPU), and takes what the
 * server's /metrics saw meanwhile and the CPU of this process's threads: the main thread, libvips's (decoding),
 * and the rest (the network threads, V8's and libuv's).
 */
async function measured(
  url: string,
  seconds: number,
  work: () => Promise<{ done: number; clientCpuMs: number }>,
): Promise<Round> {
  const before = await scrape(url);
  const threads0 = threadCpu();
  const { done, clientCpuMs } = await work();
  const threads = threadCpu();
  const after = await scrape(url);
  const delta = (key: string): number => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  const cpuMs = { main: 0, decoding: 0, other: 0, client: clientCpuMs };
  for (const [tid, t] of threads) {
    const kind = tid === String(process.pid) ? 'main' : t.name.startsWith('libvips') ? 'decoding' : 'other';
    cpuMs[kind] += t.ms - (threads0.get(tid)?.ms ?? 0);
  }
  return { done, seconds, batches: delta(BATCH_COUNT), samples: delta(BATCH_SUM), cpuMs };
}

/** An arm's figures over its rounds: images/s, the mean network batch, CPU per image by thread. */
function armFigures(rounds: readonly Round[]) {
  const sum = (f: (r: Round) => number): number => rounds.reduce((a, r) => a + f(r), 0);
  const samples = sum((r) => r.samples);
  const perImage = (f: (r: Round) => number): number => round(sum(f) / samples);
  const cpu = {
    main: perImage((r) => r.cpuMs.main),
    decoding: perImage((r) => r.cpuMs.decoding),
    other: perImage((r) => r.cpuMs.other),
    client: perImage((r) => r.cpuMs.client),
  };
  return {
    imgPerSec: round(sum((r) => r.done) / sum((r) => r.seconds)),
    byRound: rounds.map((r) => round(r.done / r.seconds)),
    meanNetworkBatch: round(samples / sum((r) => r.batches), 2),
    serverCpuMsPerImage: round(cpu.main + cpu.decoding + cpu.other),
    cpuMsPerImage: cpu,
  };
}

/**
 * The baseline, batch inference as the inference task runs it, less its file I/O: `inFlight` images at once
 * through the annotator, each worker taking the next as soon as one is done (the task keeps its pipeline full
 * so), and each annotation serialised as the task writes it (the server serialises its answers too). Images
 * done within the window count.
 */
async function batchRound(
  annotator: ImageAnnotator,
  images: readonly Uint8Array[],
  inFlight: number,
  durationMs: number,
): Promise<{ done: number; clientCpuMs: number }> {
  const mode = modeFromSettings({});
  const end = performance.now() + durationMs;
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const k = next++ % images.length;
      serializeAnnotation(await annotator.annotate(images[k], { name: `img${k}.jpg`, mode }));
      if (performance.now() <= end) done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { done, clientCpuMs: 0 };
}

/** Clicks near the image's objects, sessions of 10 (the first click of each on an object, positive). */
function* clickSessions(
  items: readonly SyntheticItem[],
  count: number,
): Generator<{ image: number; clicks: Click[] }> {
  const rand = mulberry32(11);
  let clicks: Click[] = [];
  let image = 0;
  for (let k = 0; k < count; k++) {
    if (k % 10 === 0) {
      image = (k / 10) % items.length;
      clicks = [];
    }
    const objects = items[image].objects;
    const o = objects[Math.floor(rand() * objects.length)];
    const spread = clicks.length === 0 ? 0 : 2 * o.radius;
    clicks.push({
      x: Math.round(o.center[0] + (rand() - 0.5) * spread),
      y: Math.round(o.center[1] + (rand() - 0.5) * spread),
      positive: clicks.length === 0 || rand() < 0.6,
    });
    yield { image, clicks: [...clicks] };
  }
}

interface Served {
  readonly env: Env;
  readonly url: string;
  readonly client: LoadClient;
  readonly annotator: ImageAnnotator;
  readonly segmenter: ClickSegmenter;
  readonly items: readonly SyntheticItem[];
  readonly images: readonly Uint8Array[];
}

/** 1. The batch baseline and each concurrency, in rounds alternating ABBA. */
async function throughput(s: Served) {
  const { env, url, client } = s;
  const httpArms = env.concurrency.map((c) => `c${c}`);
  // The goal's pair side by side in every round: batch, c8, the rest; reversed every other round.
  const order = ['batch', ...httpArms.filter((a) => a === 'c8'), ...httpArms.filter((a) => a !== 'c8')];
  const rounds = new Map<string, Round[]>(order.map((a) => [a, []]));
  const latencies = new Map<string, number[]>(httpArms.map((a) => [a, []]));
  const statuses = new Map<string, Record<string, number>>(httpArms.map((a) => [a, {}]));
  const seconds = env.roundMs / 1000;
  for (let r = 0; r < env.rounds; r++) {
    for (const arm of r % 2 === 0 ? order : [...order].reverse()) {
      const got =
        arm === 'batch'
          ? await measured(url, seconds, () =>
              batchRound(s.annotator, s.images, env.baselineInFlight, env.roundMs),
            )
          : await measured(url, seconds, async () => {
              const load = await client.load('/inference_image', Number(arm.slice(1)), env.roundMs);
              latencies.get(arm)?.push(...load.okMs);
              const count = statuses.get(arm) ?? {};
              for (const [status, n] of Object.entries(load.statuses))
                count[status] = (count[status] ?? 0) + n;
              return { done: load.okMs.length, clientCpuMs: load.clientCpuMs };
            });
      rounds.get(arm)?.push(got);
      const f = armFigures([got]);
      console.log(
        `round ${r + 1}, ${arm === 'batch' ? `batch (${env.baselineInFlight} in flight)` : `HTTP ${arm}`}: ` +
          `${f.imgPerSec} img/s, mean network batch ${f.meanNetworkBatch}, CPU ms per image ` +
          JSON.stringify(f.cpuMsPerImage),
      );
    }
  }
  const batch = armFigures(rounds.get('batch') ?? []);
  const http: Record<string, unknown> = {};
  for (const arm of httpArms) {
    const armRounds = rounds.get(arm) ?? [];
    const f = armFigures(armRounds);
    const l = latencySummary(latencies.get(arm) ?? []);
    const batchRounds = rounds.get('batch') ?? [];
    http[arm] = {
      ...f,
      vsBatch: round(f.imgPerSec / batch.imgPerSec, 3),
      vsBatchByRound: armRounds.map((x, i) =>
        round(x.done / x.seconds / (batchRounds[i].done / batchRounds[i].seconds), 3),
      ),
      p50Ms: round(l.p50),
      p99Ms: round(l.p99),
      statuses: statuses.get(arm),
    };
    console.log(
      `HTTP ${arm}: ${f.imgPerSec} img/s (${round(f.imgPerSec / batch.imgPerSec, 3)} of batch's ` +
        `${batch.imgPerSec}), p50 ${round(l.p50)} ms, p99 ${round(l.p99)} ms, mean network batch ${f.meanNetworkBatch}`,
    );
  }
  return { batch, http };
}

/** 2. Overload: many clients, each posting again at once; the answers, the server's RSS and its health. */
async function overload(s: Served) {
  const { env, url } = s;
  const rss = { start: process.memoryUsage.rss(), max: 0, end: 0 };
  rss.max = rss.start;
  const sampler = setInterval(() => (rss.max = Math.max(rss.max, process.memoryUsage.rss())), 200);
  const before = await scrape(url);
  let load: LoadResult;
  try {
    load = await s.client.load('/inference_image', env.overloadConcurrency, env.overloadMs);
  } finally {
    clearInterval(sampler);
  }
  rss.end = process.memoryUsage.rss();
  rss.max = Math.max(rss.max, rss.end);
  const after = await scrape(url);
  const readyAfter = (await fetch(`${url}/readyz`)).status === 200;
  const onlyAllowed = Object.keys(load.statuses).every((status) => status === '200' || status === '503');
  const connectionErrors = Object.values(load.errors).reduce((a, b) => a + b, 0);
  const ok = latencySummary(load.okMs);
  const figures = {
    concurrency: env.overloadConcurrency,
    seconds: env.overloadMs / 1000,
    statuses: load.statuses,
    connectionErrors: load.errors,
    okImgPerSec: round(load.okMs.length / (env.overloadMs / 1000)),
    okP50Ms: round(ok.p50),
    okP99Ms: round(ok.p99),
    rejectedByServer: (after.get(REJECTED) ?? 0) - (before.get(REJECTED) ?? 0),
    rssMiB: { start: round(rss.start / MiB), max: round(rss.max / MiB), end: round(rss.end / MiB) },
    readyAfter,
    passed: onlyAllowed && connectionErrors === 0 && readyAfter,
  };
  console.log(`overload: ${JSON.stringify(figures)}`);
  return figures;
}

/** 3. Click to mask over HTTP, each request followed by the same work in-process (A/B, call by call). */
async function clickLatency(s: Served) {
  const { env } = s;
  const httpMs: number[] = [];
  const inProcessMs: number[] = [];
  const warmup = 5;
  let k = 0;
  for (const c of clickSessions(s.items, warmup + env.clicks)) {
    const answer = await s.client.click(c.image, c.clicks);
    if (answer.status !== 200) throw new Error(`POST /segment_clicks answered ${answer.status}`);
    const t0 = performance.now();
    const decoded = await decodeImageBytes(s.images[c.image]);
    await s.segmenter.segmentFromClicks(decoded, c.clicks);
    const t1 = performance.now();
    if (k++ >= warmup) {
      httpMs.push(answer.ms);
      inProcessMs.push(t1 - t0);
    }
  }
  const http = latencySummary(httpMs);
  const local = latencySummary(inProcessMs);
  console.log(
    `click to mask over HTTP: p50 ${http.p50} ms (p95 ${http.p95}); in-process p50 ${local.p50} ms`,
  );
  return {
    requests: env.clicks,
    image: `${env.width}x${env.height}`,
    inputSize: env.clickSize,
    httpMs: { p50: http.p50, p95: http.p95 },
    inProcessMs: { p50: local.p50, p95: local.p95 },
    // What the endpoint adds to the work itself: the upload, the mask as PNG and as a bitmap, JSON, HTTP.
    endpointOverheadP50Ms: round(http.p50 - local.p50, 2),
    targetP50Ms: 50,
    meetsTarget: http.p50 <= 50,
  };
}

async function main(): Promise<void> {
  const env = readEnv();
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-serve-'));
  try {
    await initBackend();
    const generated = await generateSyntheticProject({
      dir: path.join(root, 'data'),
      projectName: 'bench_serve',
      datasets: [{ name: 'ds', count: env.images }],
      width: env.width,
      height: env.height,
      imageFormat: 'jpeg',
      seed: 5,
    });
    const files = generated.items.map((i) => i.imagePath);
    const images = await Promise.all(files.map((f) => fs.readFile(f)));
    const semanticDir = await seededUnetCheckpoint({
      dir: path.join(root, 'semantic'),
      size: env.size,
      classes: generated.meta.classes,
      seed: 7,
    });
    const clickDir = await seededClickCheckpoint(path.join(root, 'clicks'), env.clickSize);
    // PARTIAL=0: the inference task's batching (a partial batch only when no batch runs), for A/B.
    const models = await loadServedModels({
      checkpoints: [semanticDir, clickDir],
      batchSize: env.batch,
      partialOnFreeThread: process.env.PARTIAL !== '0',
    });
    // The server logs every 5xx at level error (each 503 of the overload too): counted, not kept.
    const logLines: Record<string, number> = {};
    const logger = createLogger({
      level: 'info',
      sink: (line) => {
        const level = /"level":"(\w+)"/.exec(line)?.[1] ?? 'other';
        logLines[level] = (logLines[level] ?? 0) + 1;
      },
    });
    const server = await createModelServer({
      models,
      logger,
      workDir: path.join(root, 'serve'),
      limits: { semanticQueue: env.queue },
    });
    let client: LoadClient | undefined;
    try {
      const url = await server.listen(0, '127.0.0.1');
      const annotator = models.semantic?.model as ImageAnnotator;
      console.log(
        `serving at ${url}: ${annotator.engine.description}, batch ${env.batch}, queue ${env.queue}; ` +
          `${env.images} JPEGs of ${env.width}x${env.height}`,
      );
      client = new LoadClient(url, files);
      await client.ready();
      const served: Served = {
        env,
        url,
        client,
        annotator,
        segmenter: models.clicks?.model as ClickSegmenter,
        items: generated.items,
        images,
      };
      // Warm-up: V8's compilers, onnxruntime's first runs, the sockets.
      if (env.warmupMs > 0) {
        await batchRound(annotator, images, env.baselineInFlight, env.warmupMs);
        await client.load('/inference_image', 8, env.warmupMs);
      }
      const { batch, http } = await throughput(served);
      const overloadFigures = env.overloadMs > 0 ? await overload(served) : null;
      const clicks = await clickLatency(served);
      const c8 = http.c8 as { vsBatch: number } | undefined;
      console.log(
        JSON.stringify({
          bench: 'serve',
          engine: annotator.engine.description,
          size: env.size,
          batch: env.batch,
          image: `${env.width}x${env.height}`,
          roundS: env.roundMs / 1000,
          rounds: env.rounds,
          baselineInFlight: env.baselineInFlight,
          batchImgPerSec: batch.imgPerSec,
          batchFigures: batch,
          http,
          c8VsBatch: c8?.vsBatch ?? null,
          targetC8VsBatch: 0.8,
          meetsC8Target: c8 !== undefined ? c8.vsBatch >= 0.8 : null,
          overload: overloadFigures,
          clicks,
          serverLogLines: logLines,
          loadavg: os.loadavg().map((v) => round(v, 2)),
        }),
      );
    } finally {
      await client?.close();
      await server.close();
      await closeServedModels(models);
    }
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
