/**
 * The model server as the SDK's clients use it: every response parsed by the tests' own reader of the
 * Supervisely annotation format (test/helpers/sly-annotation.ts), the request shapes as SessionJSON and
 * PredictionSession send them (docs/supervisely-serving-api.md §3). Small seeded checkpoints of each task: the
 * plumbing, not the networks' quality. Contract: it runs ffmpeg (videos) and worker threads.
 */
import { promises as fsp } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { unzipSync } from 'fflate';
import sharp from 'sharp';
import { createLogger } from '../../src/protocol/logger';
import type * as ModelsModule from '../../src/serve/models';
import type { ServedModels } from '../../src/serve/models';
import type * as ServerModule from '../../src/serve/server';
import type { ModelServer, ServeLimits } from '../../src/serve/server';
import { builtFile } from '../contract/built';
import { coverage, readBitmapData, readPngMask, readSlyAnnotation } from '../helpers/sly-annotation';
import { writeTinyCheckpoints, type TinyCheckpoints } from '../helpers/tiny-checkpoints';
import { writeVideo } from '../video/helpers';

// Responses are read loosely, as a client does: each test checks the fields it needs.
/* eslint-disable @typescript-eslint/no-explicit-any */
let root: string;
let checkpoints: TinyCheckpoints;
let models: ServedModels;
let server: ModelServer;
let base: string;
const W = 48;
const H = 40;
let image: Buffer;

// The built server, as `sly-nn serve` runs it: onnxruntime's outputs are made in Node's own realm, which code
// compiled by ts-jest (in jest's vm context) refuses; the compiled modules do not (see network-thread tests).
/* eslint-disable @typescript-eslint/no-require-imports */
const built = {
  server: (): typeof ServerModule => require(builtFile('src/serve/server.ts')) as typeof ServerModule,
  models: (): typeof ModelsModule => require(builtFile('src/serve/models.ts')) as typeof ModelsModule,
};

const quiet = createLogger({ sink: () => undefined, level: 'error' });

async function startServer(
  limits: Partial<ServeLimits> = {},
): Promise<{ server: ModelServer; base: string }> {
  const s = await built.server().createModelServer({
    models,
    logger: quiet,
    workDir: path.join(root, `work-${Date.now()}`),
    limits,
  });
  const address = await s.listen(0, '127.0.0.1');
  return { server: s, base: address };
}

/** A PNG with a bright square on a dark ground. */
async function squareImage(width: number, height: number, at: number): Promise<Buffer> {
  const rgb = Buffer.alloc(width * height * 3, 20);
  for (let y = at; y < at + 12 && y < height; y++) {
    for (let x = at; x < at + 14 && x < width; x++)
      rgb.fill(230, (y * width + x) * 3, (y * width + x) * 3 + 3);
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

async function postJson(
  url: string,
  body: unknown = {},
): Promise<{ status: number; json: any; headers: Headers }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: await r.json(), headers: r.headers };
}

async function postForm(
  url: string,
  form: FormData,
): Promise<{ status: number; json: any; headers: Headers }> {
  const r = await fetch(url, { method: 'POST', body: form });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${url}: ${r.status} not JSON: ${text.slice(0, 200)}`);
  }
  if (process.env.DEBUG_SERVE && r.status >= 400) console.log(url, r.status, json);
  return { status: r.status, json, headers: r.headers };
}

function form(
  files: { field?: string; name: string; bytes: Uint8Array }[],
  fields: Record<string, unknown> = {},
): FormData {
  const f = new FormData();
  for (const file of files) f.append(file.field ?? 'files', new Blob([file.bytes]), file.name);
  for (const [k, v] of Object.entries(fields)) f.append(k, typeof v === 'string' ? v : JSON.stringify(v));
  return f;
}

const uuidBody = (uuid: string) => ({ state: { inference_request_uuid: uuid }, context: {}, api_token: 'x' });

async function waitFinished(uuid: string, at = base): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const p = await postJson(`${at}/get_inference_progress`, uuidBody(uuid));
    expect(p.status).toBe(200);
    if (p.json.finished === true) return p.json;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${uuid} did not finish`);
}

/** The first frame's index mask: object 1 on the square, as a grey PNG. */
async function firstMaskPng(frame: { width: number; height: number; rgb: Uint8Array }): Promise<Buffer> {
  const grey = Buffer.alloc(frame.width * frame.height);
  for (let i = 0; i < grey.length; i++) grey[i] = frame.rgb[i * 3] > 128 ? 1 : 0;
  return sharp(grey, { raw: { width: frame.width, height: frame.height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
}

/** Frames with a bright square moving right. */
function movingSquare(count: number): { width: number; height: number; rgb: Uint8Array }[] {
  return Array.from({ length: count }, (_, t) => {
    const rgb = new Uint8Array(64 * 48 * 3).fill(30);
    for (let y = 14; y < 30; y++)
      for (let x = 6 + 2 * t; x < 22 + 2 * t; x++) rgb.fill(220, (y * 64 + x) * 3, (y * 64 + x) * 3 + 3);
    return { width: 64, height: 48, rgb };
  });
}

/** `sly-nn serve` as a process: the click model and the tracker run onnxruntime on its main thread. */
interface Child {
  readonly process: ChildProcess;
  readonly base: string;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

async function spawnServer(args: readonly string[]): Promise<Child> {
  const child = spawn(
    process.execPath,
    [builtFile('src/cli/main.ts'), 'serve', '--port', '0', '--host', '127.0.0.1', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 600; i++) {
    const m = /Serving .* at (http:\/\/[\d.:]+) /.exec(out);
    if (m !== null) return { process: child, base: m[1], output: () => out, exited };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`sly-nn serve did not start:\n${out}`);
}

let child: Child;

beforeAll(async () => {
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'serve-'));
  checkpoints = await writeTinyCheckpoints(path.join(root, 'ckpt'));
  models = await built.models().loadServedModels({
    checkpoints: [checkpoints.semantic],
    networkThreads: 1,
    batchSize: 4,
  });
  ({ server, base } = await startServer());
  image = await squareImage(W, H, 10);
  child = await spawnServer([
    '--checkpoint',
    checkpoints.semantic,
    '--checkpoint',
    checkpoints.clicks,
    '--checkpoint',
    checkpoints.tracker,
  ]);
}, 120_000);

afterAll(async () => {
  if (child !== undefined && child.process.exitCode === null) {
    child.process.kill('SIGTERM');
    await child.exited;
  }
  await server?.close();
  if (models !== undefined) await built.models().closeServedModels(models);
  await fsp.rm(root, { recursive: true, force: true });
});

describe('info endpoints (SessionJSON connects with get_session_info; ModelAPI with get_deploy_info)', () => {
  it('session info has the keys the clients read, "task type" with its space', async () => {
    const r = await postJson(`${base}/get_session_info`, { state: {}, context: {}, api_token: 't' });
    expect(r.status).toBe(200);
    expect(r.json['task type']).toBe('semantic segmentation');
    expect(r.json.number_of_classes).toBe(4);
    expect(typeof r.json.async_image_inference_support).toBe('boolean');
    const tracking = await postJson(`${child.base}/tracking/get_session_info`);
    expect(tracking.json['task type']).toBe('tracking');
    const clicks = await postJson(`${child.base}/clicks/get_session_info`);
    expect(clicks.json['task type']).toBe('interactive segmentation');
  });

  it('model meta lists the classes with colours, and the confidence tag (get_model_meta = get_output_classes_and_tags)', async () => {
    const a = await postJson(`${base}/get_output_classes_and_tags`);
    const b = await postJson(`${base}/get_model_meta`);
    expect(a.json).toEqual(b.json);
    const titles = (a.json.classes as { title: string; color: string; shape: string }[]).map((c) => c.title);
    expect(titles).toEqual(expect.arrayContaining(['bg']));
    for (const c of a.json.classes) {
      expect(c.color).toMatch(/^#[0-9A-F]{6}$/i);
      expect(c.shape).toBe('bitmap');
    }
    expect(a.json.tags).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'confidence', value_type: 'any_number' })]),
    );
  });

  it('deploy info, settings, is_deployed (with its "description:" key), status, health', async () => {
    const d = await postJson(`${base}/get_deploy_info`, {});
    expect(d.json).toEqual(
      expect.objectContaining({
        task_type: 'semantic segmentation',
        model_source: 'Custom models',
        checkpoint_name: 'semantic',
      }),
    );
    const s = await postJson(`${base}/get_custom_inference_settings`);
    expect(s.json.settings).toEqual(expect.objectContaining({ inference_mode: 'full_image' }));
    expect((await postJson(`${base}/is_deployed`)).json).toEqual({
      deployed: true,
      'description:': 'Model is ready to receive requests',
    });
    expect((await postJson(`${base}/get_status`)).json.is_deployed).toBe(true);
    expect(await (await fetch(`${base}/is_ready`)).json()).toEqual({ status: 'ready' });
    expect(await (await fetch(`${base}/livez`)).json()).toEqual(expect.objectContaining({ running: true }));
    expect((await postJson(`${base}/is_ready`)).json).toEqual({ status: 'ready' });
  });
});

describe('synchronous image inference', () => {
  it('inference_image (SessionJSON: the state in the "settings" field) gives one item whose annotation covers the image once', async () => {
    const r = await postForm(
      `${base}/inference_image`,
      form([{ name: 'a.png', bytes: image }], { settings: { settings: {} } }),
    );
    expect(r.status).toBe(200);
    expect(r.json).toEqual(expect.objectContaining({ name: 'a.png', image_id: null, frame_index: null }));
    const ann = readSlyAnnotation(r.json.annotation);
    expect(ann.size).toEqual({ width: W, height: H });
    const meta = (await postJson(`${base}/get_model_meta`)).json;
    const known = new Set(meta.classes.map((c: { title: string }) => c.title));
    for (const o of ann.objects) expect(known.has(o.classTitle)).toBe(true);
    // Semantic segmentation labels every pixel with exactly one class (background included).
    expect(Array.from(coverage(ann)).every((n) => n === 1)).toBe(true);
  });

  it('inference_batch (PredictionSession: the "state" field) returns items in file order', async () => {
    const other = await squareImage(30, 20, 2);
    const r = await postForm(
      `${base}/inference_batch`,
      form(
        [
          { name: 'one.png', bytes: image },
          { name: 'two.png', bytes: other },
        ],
        { state: { settings: { show_progress: true, conf: 0.5 } } },
      ),
    );
    expect(r.status).toBe(200);
    expect(r.json.map((i: { name: string }) => i.name)).toEqual(['one.png', 'two.png']);
    expect(readSlyAnnotation(r.json[1].annotation).size).toEqual({ width: 30, height: 20 });
  });

  it('sliding_window settings are applied (and a window larger than the image is a 400 naming the field)', async () => {
    const settings = {
      inference_mode: 'sliding_window',
      sliding_window_params: { windowHeight: 16, windowWidth: 16, overlapY: 4, overlapX: 4 },
    };
    const r = await postForm(
      `${base}/inference_image`,
      form([{ name: 'a.png', bytes: image }], { state: { settings } }),
    );
    expect(r.status).toBe(200);
    expect(Array.from(coverage(readSlyAnnotation(r.json.annotation))).every((n) => n === 1)).toBe(true);
    const big = await postForm(
      `${base}/inference_image`,
      form([{ name: 'a.png', bytes: image }], {
        state: { settings: { ...settings, sliding_window_params: { windowHeight: 400, windowWidth: 400 } } },
      }),
    );
    expect(big.status).toBe(400);
    expect(big.json).toEqual(
      expect.objectContaining({ success: false, message: expect.stringMatching(/window/) }),
    );
  });

  it('a corrupt upload is a 400 naming the file, and the server keeps serving', async () => {
    const r = await postForm(
      `${base}/inference_image`,
      form([{ name: 'broken.jpg', bytes: Buffer.from('not an image at all') }]),
    );
    expect(r.status).toBe(400);
    expect(r.json).toEqual({
      detail: expect.stringMatching(/broken\.jpg/),
      success: false,
      message: expect.stringMatching(/broken\.jpg/),
    });
    const truncated = await postForm(
      `${base}/inference_image`,
      form([{ name: 'cut.png', bytes: image.subarray(0, image.length / 2) }]),
    );
    expect(truncated.status).toBe(400);
    const again = await postForm(`${base}/inference_image`, form([{ name: 'a.png', bytes: image }]));
    expect(again.status).toBe(200);
  });

  it('inference_image wants exactly one file; bad JSON in a field is a 400', async () => {
    const two = await postForm(
      `${base}/inference_image`,
      form([
        { name: 'a.png', bytes: image },
        { name: 'b.png', bytes: image },
      ]),
    );
    expect(two.status).toBe(400);
    const f = form([{ name: 'a.png', bytes: image }]);
    f.append('state', '{not json');
    expect((await postForm(`${base}/inference_image`, f)).status).toBe(400);
  });
});

describe('inference_image_url', () => {
  let files: http.Server;
  let filesUrl: string;
  beforeAll(async () => {
    files = http.createServer((req, res) => {
      if (req.url === '/img.png') res.end(image);
      else if (req.url === '/big.png') res.end(Buffer.alloc(5000));
      else if (req.url === '/slow.png') setTimeout(() => res.end(image), 3000);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => files.close(() => r())));

  it('downloads the image and annotates it', async () => {
    const r = await postJson(`${base}/inference_image_url`, {
      state: { image_url: `${filesUrl}/img.png`, settings: {} },
    });
    expect(r.status).toBe(200);
    expect(readSlyAnnotation(r.json.annotation).size).toEqual({ width: W, height: H });
  });

  it('refuses a download over the size limit (413), one that times out and a missing one (400)', async () => {
    const limited = await startServer({ urlBytes: 1000, urlTimeoutMs: 300 });
    try {
      const big = await postJson(`${limited.base}/inference_image_url`, {
        state: { image_url: `${filesUrl}/big.png` },
      });
      expect(big.status).toBe(413);
      const slow = await postJson(`${limited.base}/inference_image_url`, {
        state: { image_url: `${filesUrl}/slow.png` },
      });
      expect(slow.status).toBe(400);
      expect(slow.json.message).toMatch(/no answer within 300 ms/);
      const missing = await postJson(`${limited.base}/inference_image_url`, {
        state: { image_url: `${filesUrl}/nothing.png` },
      });
      expect(missing.status).toBe(400);
      expect(missing.json.message).toMatch(/HTTP 404/);
    } finally {
      await limited.server.close();
    }
  });
});

describe('async inference (ModelAPI.predict: inference_batch_async, then progress, pop, result, clear)', () => {
  it('runs to completion; pop returns every item once; clear forgets the request', async () => {
    const files = Array.from({ length: 5 }, (_, i) => ({ name: `img${i}.png`, bytes: image }));
    const start = await postForm(
      `${base}/inference_batch_async`,
      form(files, { state: { settings: {}, batch_size: 2 } }),
    );
    expect(start.status).toBe(200);
    expect(start.json.message).toBe('Inference has started.');
    const uuid = start.json.inference_request_uuid as string;
    const done = await waitFinished(uuid);
    expect(done).toEqual(
      expect.objectContaining({
        stage: 'Finished',
        exception: null,
        is_inferring: false,
        pending_results: 5,
      }),
    );
    const popped = await postJson(`${base}/pop_inference_results`, uuidBody(uuid));
    expect(popped.json.pending_results.map((i: { name: string }) => i.name)).toEqual(
      files.map((f) => f.name),
    );
    for (const item of popped.json.pending_results) readSlyAnnotation(item.annotation);
    expect(popped.json.progress).toEqual(expect.objectContaining({ current: 5, total: 5 }));
    expect((await postJson(`${base}/pop_inference_results`, uuidBody(uuid))).json.pending_results).toEqual(
      [],
    );
    const result = await postJson(`${base}/get_inference_result`, uuidBody(uuid));
    expect(result.status).toBe(200);
    expect(result.json).toBeNull();
    expect((await postJson(`${base}/clear_inference_request`, uuidBody(uuid))).json).toEqual({
      success: true,
    });
    expect((await postJson(`${base}/get_inference_progress`, uuidBody(uuid))).status).toBe(404);
  });

  it('stop_inference stops between batches: stage Cancelled, fewer results than images', async () => {
    const files = Array.from({ length: 400 }, (_, i) => ({ name: `img${i}.png`, bytes: image }));
    const start = await postForm(`${base}/inference_batch_async`, form(files, { state: {} }));
    const uuid = start.json.inference_request_uuid as string;
    const stop = await postJson(`${base}/stop_inference`, uuidBody(uuid));
    expect(stop.json).toEqual({ message: 'Inference will be stopped.', success: true });
    const done = await waitFinished(uuid);
    expect(done.stage).toBe('Cancelled');
    expect(done.stopped).toBe(true);
    expect(done.pending_results).toBeLessThan(400);
    await postJson(`${base}/clear_inference_request`, uuidBody(uuid));
  });

  it('a JSON body that is not the SDK envelope is a 400 naming the field (JSON schema)', async () => {
    const r = await postJson(`${base}/get_session_info`, { state: 5 });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({
      detail: 'body/state must be object',
      success: false,
      message: 'body/state must be object',
    });
    const clicks = await postJson(`${base}/get_inference_progress`, { state: { settings: 'fast' } });
    expect(clicks.status).toBe(400);
    expect(clicks.json.message).toMatch(/settings/);
  });

  it('a missing uuid is a 400 with the SDK message; an unknown one a 404', async () => {
    const missing = await postJson(`${base}/get_inference_progress`, { state: {} });
    expect(missing.status).toBe(400);
    expect(missing.json.message).toBe("Error: 'inference_request_uuid' is required.");
    expect((await postJson(`${base}/pop_inference_results`, uuidBody('nope'))).status).toBe(404);
  });
});

describe('bounded work', () => {
  it('a full queue answers 503 with Retry-After, never more work than its size, and serves again afterwards', async () => {
    const small = await startServer({ semanticQueue: 2 });
    try {
      const results = await Promise.all(
        Array.from({ length: 24 }, () =>
          postForm(`${small.base}/inference_image`, form([{ name: 'a.png', bytes: image }])),
        ),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
      expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
      expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
      const refused = results.find((r) => r.status === 503);
      expect(refused?.headers.get('retry-after')).toBe('1');
      expect(refused?.json.message).toMatch(/queue is full/);
      expect(
        (await postForm(`${small.base}/inference_image`, form([{ name: 'a.png', bytes: image }]))).status,
      ).toBe(200);
      const metrics = await (await fetch(`${small.base}/metrics`)).text();
      expect(metrics).toMatch(/sly_nn_requests_rejected_total\{reason="semantic queue full"\} [1-9]/);
    } finally {
      await small.server.close();
    }
  });

  it('an upload over the file size limit is a 413 and nothing is kept', async () => {
    const small = await startServer({ fileBytes: 100 });
    try {
      const r = await postForm(`${small.base}/inference_image`, form([{ name: 'a.png', bytes: image }]));
      expect(r.status).toBe(413);
      expect(r.json.success).toBe(false);
    } finally {
      await small.server.close();
    }
  });

  it('/metrics is Prometheus text: request counts by route and status, latency histogram, queue depth', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const lines = text.split('\n');
    const value = (prefix: string): number =>
      lines.filter((l) => l.startsWith(prefix)).reduce((s, l) => s + Number(l.split(' ').pop()), 0);
    expect(
      value('sly_nn_http_requests_total{route="/inference_image",method="POST",status="200"}'),
    ).toBeGreaterThan(0);
    expect(value('sly_nn_http_request_duration_seconds_count{route="/inference_image"}')).toBeGreaterThan(0);
    expect(text).toMatch(/# TYPE sly_nn_queue_depth gauge/);
    expect(text).toMatch(/sly_nn_queue_depth\{queue="semantic"\} 0/);
  });
});

describe('clicks', () => {
  it('/segment_clicks returns the mask (PNG) and an annotation the reader accepts', async () => {
    const r = await postForm(
      `${child.base}/segment_clicks`,
      form([{ name: 'a.png', bytes: image }], { state: { clicks: [{ x: 15, y: 14, positive: true }] } }),
    );
    expect(r.status).toBe(200);
    expect(r.json).toEqual(expect.objectContaining({ width: W, height: H }));
    const mask = readPngMask(Buffer.from(r.json.mask_png, 'base64'));
    expect(mask.width).toBe(W);
    const area = mask.data.reduce((s, v) => s + v, 0);
    expect(area).toBe(r.json.area);
    const ann = readSlyAnnotation(r.json.annotation);
    expect(ann.objects.reduce((s, o) => s + o.area, 0)).toBe(area);
  });

  it('a click outside the image, or no clicks, is a 400 saying so', async () => {
    const out = await postForm(
      `${child.base}/segment_clicks`,
      form([{ name: 'a.png', bytes: image }], { state: { clicks: [{ x: 500, y: 3 }] } }),
    );
    expect(out.status).toBe(400);
    expect(out.json.message).toMatch(/outside|image/);
    const none = await postForm(
      `${child.base}/segment_clicks`,
      form([{ name: 'a.png', bytes: image }], { state: { clicks: [] } }),
    );
    expect(none.status).toBe(400);
  });
});

describe('tracking', () => {
  const frames = movingSquare(6);
  let frameFiles: { name: string; bytes: Buffer }[];
  let maskPng: Buffer;
  let video: string;
  beforeAll(async () => {
    frameFiles = await Promise.all(
      frames.map(async (f, i) => ({
        name: `${i}.jpg`,
        bytes: await sharp(f.rgb, { raw: { width: f.width, height: f.height, channels: 3 } })
          .jpeg()
          .toBuffer(),
      })),
    );
    maskPng = await firstMaskPng(frames[0]);
    video = path.join(root, 'clip.mp4');
    await writeVideo(video, frames, 10);
  });

  it('/track-api-files (the SDK request): one list a tracked frame, bitmaps in the image', async () => {
    const square = readPngMask(maskPng);
    const { deflateSync } = await import('node:zlib');
    const { PNG } = await import('pngjs');
    const png = new PNG({ width: square.width, height: square.height });
    for (let i = 0; i < square.data.length; i++)
      png.data.set(square.data[i] ? [255, 255, 255, 255] : [0, 0, 0, 0], i * 4);
    const data = deflateSync(PNG.sync.write(png)).toString('base64');
    const settings = {
      frameIndex: 0,
      frames: 5,
      input_geometries: [{ type: 'bitmap', data: { bitmap: { origin: [0, 0], data } } }],
      direction: 'forward',
    };
    const r = await postForm(`${child.base}/track-api-files`, form(frameFiles, { settings }));
    expect(r.status).toBe(200);
    expect(r.json).toHaveLength(5);
    for (const row of r.json) {
      for (const cell of row) {
        expect(cell.type).toBe('bitmap');
        const m = readBitmapData(cell.data.bitmap.data);
        expect(cell.data.bitmap.origin[0] + m.width).toBeLessThanOrEqual(64);
      }
    }
  });

  it('sly-nn serve --adapt-steps: each tracking adapts the tracker to its own first frame, then tracks', async () => {
    const adapting = await spawnServer(['--checkpoint', checkpoints.tracker, '--adapt-steps', '2']);
    try {
      const files = [...frameFiles, { field: 'mask', name: 'mask.png', bytes: maskPng }];
      for (let round = 1; round <= 2; round++) {
        const r = await postForm(`${adapting.base}/track_masks`, form(files));
        expect(r.status).toBe(200);
        expect(r.json).toEqual(expect.objectContaining({ frames: 6, objects: [1] }));
        // The log's last step line of each tracking: every tracking adapts again, from the checkpoint.
        const done = adapting
          .output()
          .split('\n')
          .filter((l) => l.includes('Adapting the tracker') && /"step":2\b/.test(l) && /"steps":2\b/.test(l));
        expect(done).toHaveLength(round);
      }
    } finally {
      adapting.process.kill('SIGTERM');
      await adapting.exited;
    }
  });

  it('sly-nn serve refuses --adapt-steps that is not a whole number, naming it', async () => {
    const r = spawn(
      process.execPath,
      [builtFile('src/cli/main.ts'), 'serve', '--checkpoint', checkpoints.tracker, '--adapt-steps', 'many'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let err = '';
    r.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => r.on('exit', resolve));
    expect(code).toBe(2);
    expect(err).toMatch(/--adapt-steps must be a whole number/);
  });

  it('/track_masks with frames returns one index PNG a frame, the ids of the first mask', async () => {
    const r = await postForm(
      `${child.base}/track_masks`,
      form([...frameFiles, { field: 'mask', name: 'mask.png', bytes: maskPng }]),
    );
    expect(r.status).toBe(200);
    expect(r.json).toEqual(expect.objectContaining({ frames: 6, width: 64, height: 48, objects: [1] }));
    expect(r.json.masks).toHaveLength(6);
    const first = readPngMask(Buffer.from(r.json.masks[0], 'base64'));
    expect(first.data).toEqual(readPngMask(maskPng).data);
  });

  it('/track_masks with clicks instead of a mask: the first mask is what /segment_clicks gives for them', async () => {
    const clicks = [{ x: 14, y: 22, positive: true }];
    const alone = await postForm(
      `${child.base}/segment_clicks`,
      form([frameFiles[0]], { state: { clicks } }),
    );
    expect(alone.status).toBe(200);
    const r = await postForm(
      `${child.base}/track_masks`,
      form(frameFiles, { state: { objects: [{ id: 7, clicks }] } }),
    );
    if (alone.json.area === 0) {
      // An untrained click network may find nothing there; then there is nothing to track, and it says so.
      expect(r.status).toBe(400);
      expect(r.json.message).toMatch(/no object/);
      return;
    }
    expect(r.status).toBe(200);
    expect(r.json.objects).toEqual([7]);
    const first = readPngMask(Buffer.from(r.json.masks[0], 'base64'));
    const clicked = readPngMask(Buffer.from(alone.json.mask_png, 'base64'));
    expect(first.data).toEqual(clicked.data);
  });

  it('/track_masks_async on an uploaded video: progress to the end, a zip with a mask a frame, the overlay video', async () => {
    const up = await postForm(
      `${child.base}/videos`,
      form([{ name: 'clip.mp4', bytes: await fsp.readFile(video) }]),
    );
    expect(up.status).toBe(200);
    expect(up.json).toEqual(expect.objectContaining({ frames: 6, width: 64, height: 48 }));
    const frame3 = await fetch(`${child.base}/videos/${up.json.video_id}/frames/3.jpg`);
    expect(frame3.headers.get('content-type')).toBe('image/jpeg');
    const start = await postForm(
      `${child.base}/track_masks_async`,
      form([{ field: 'mask', name: 'm.png', bytes: maskPng }], { state: { video_id: up.json.video_id } }),
    );
    expect(start.status).toBe(200);
    const uuid = start.json.inference_request_uuid;
    const done = await waitFinished(uuid, child.base);
    expect(done.stage).toBe('Finished');
    const popped = await postJson(`${child.base}/pop_inference_results`, uuidBody(uuid));
    expect(popped.json.pending_results.map((p: { frame_index: number }) => p.frame_index)).toEqual([
      0, 1, 2, 3, 4, 5,
    ]);
    const result = (await postJson(`${child.base}/get_inference_result`, uuidBody(uuid))).json;
    expect(result).toEqual(expect.objectContaining({ frames: 6, objects: [1] }));
    const zip = unzipSync(
      new Uint8Array(await (await fetch(`${child.base}${result.masks_zip}`)).arrayBuffer()),
    );
    expect(Object.keys(zip).sort()).toEqual(
      Array.from({ length: 6 }, (_, i) => `masks/${String(i).padStart(5, '0')}.png`),
    );
    const mp4 = await fetch(`${child.base}${result.overlay_video}`);
    expect(mp4.status).toBe(200);
    expect(
      Buffer.from(await mp4.arrayBuffer())
        .subarray(4, 8)
        .toString('latin1'),
    ).toBe('ftyp');
    await postJson(`${child.base}/clear_inference_request`, uuidBody(uuid));
    expect((await fetch(`${child.base}${result.masks_zip}`)).status).toBe(404);
  });

  it('a corrupt video is a 400 and the server keeps serving; a mask of another size fails the job with its message', async () => {
    const bad = await postForm(
      `${child.base}/videos`,
      form([{ name: 'bad.mp4', bytes: Buffer.from('no video here') }]),
    );
    expect(bad.status).toBe(400);
    expect(bad.json.success).toBe(false);
    const wrong = await sharp(Buffer.alloc(10 * 10, 1), { raw: { width: 10, height: 10, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    const start = await postForm(
      `${child.base}/track_masks_async`,
      form([...frameFiles, { field: 'mask', name: 'small.png', bytes: wrong }]),
    );
    const done = await waitFinished(start.json.inference_request_uuid, child.base);
    expect(done.stage).toBe('Error');
    expect(done.exception.message).toMatch(/10x10/);
    expect(
      (
        await postForm(
          `${child.base}/track_masks`,
          form([...frameFiles, { field: 'mask', name: 'mask.png', bytes: maskPng }]),
        )
      ).status,
    ).toBe(200);
  });
});

describe('graceful shutdown', () => {
  it('SIGTERM: the tracking in flight finishes with 200, later requests are refused, the process exits 0', async () => {
    const frames = movingSquare(20);
    const files = await Promise.all(
      frames.map(async (f, i) => ({
        name: `${i}.png`,
        bytes: await sharp(f.rgb, { raw: { width: f.width, height: f.height, channels: 3 } })
          .png()
          .toBuffer(),
      })),
    );
    const inFlight = postForm(
      `${child.base}/track_masks`,
      form([...files, { field: 'mask', name: 'm.png', bytes: await firstMaskPng(frames[0]) }]),
    );
    // Sent once the server has the request (the upload is small: a few ms on this machine).
    await new Promise((r) => setTimeout(r, 150));
    child.process.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 50));
    // A request made while draining is refused: 503 on a kept-alive connection, or no new connection at all.
    const during = await postJson(`${child.base}/get_session_info`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(during);
    const answered = await inFlight;
    expect(answered.status).toBe(200);
    expect(answered.json.frames).toBe(20);
    expect(await child.exited).toBe(0);
    expect(child.output()).toMatch(/SIGTERM: finishing requests in flight/);
    expect(child.output()).toMatch(/Stopped/);
    await expect(fetch(`${child.base}/is_ready`)).rejects.toThrow();
  });
});
