/**
 * `sly-nn serve`: one process serving a semantic-segmentation model, the click model and the tracker over HTTP,
 * with the endpoints of Supervisely's serving apps (docs/supervisely-serving-api.md) so the SDK's `Session` and
 * `ModelAPI` work against it, endpoints of our own for clicks and mask tracking, and the web page at `/`.
 *
 * Built on fastify. Every model endpoint is POST, as the SDK's. The SDK's endpoint set is served at the root for
 * the first model of semantic > tracker > clicks, and under `/semantic`, `/tracking` and `/clicks` for each
 * model (a client's session URL can name one). Work is bounded: a queue per model (503 + Retry-After when
 * full), upload size limits, a per-request timeout, a bounded number of async jobs that expire. SIGTERM (the
 * CLI calls `close`) refuses new requests with 503, lets the ones in flight finish, stops the jobs, then exits.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { zipSync } from 'fflate';
import { annotationToJson } from '../format/annotation';
import { encodedBitmapGeometry } from '../format/geometry';
import { projectMetaToJson } from '../format/meta';
import type { Annotation } from '../format/model';
import { encodeMaskPng } from '../format/png-chunks';
import { readIndexPng } from '../format/png-mask-reader';
import { decodeImageBytes } from '../image/decode';
import type { Logger } from '../protocol/logger';
import type { Click } from '../tasks/click-segmentation/clicks';
import { Admission } from './admission';
import { badRequest, errorResponse, HttpError, notFound } from './http-error';
import { Job, JobStore } from './jobs';
import { createMetrics } from './metrics';
import { checkpointName, type ServedModels } from './models';
import { readPage } from './page';
import { intField, isObject, readRequest, settingsOf, type Upload } from './requests';
import { modeFromSettings, DEFAULT_INFERENCE_SETTINGS } from './settings';
import { MASKS_DIR, OVERLAY_FILE, Serial, trackFiles, trackToFolder } from './tracking';
import { maskFileName } from '../tasks/video-tracking/track-video';
import { decodeVideoToFrames, firstFrame, frameFileName, FRAMES_DIR, VIDEO_FILE } from './videos';

export interface ServeLimits {
  /** Largest uploaded file (images, frames, masks). */
  readonly fileBytes: number;
  /** Files in one request. */
  readonly files: number;
  /** A request's whole time, upload included. */
  readonly requestTimeoutMs: number;
  /** inference_image_url: largest download and its timeout. */
  readonly urlBytes: number;
  readonly urlTimeoutMs: number;
  /** Images admitted to the semantic model at once (waiting or in the network). */
  readonly semanticQueue: number;
  /** Click requests admitted at once. */
  readonly clickQueue: number;
  /** Tracking requests and jobs admitted at once (they run one after another). */
  readonly trackingQueue: number;
  /** Frames a synchronous /track_masks may return (longer videos: /track_masks_async). */
  readonly syncTrackFrames: number;
  /** Frames of an uploaded video. */
  readonly videoFrames: number;
  /** Async jobs and uploaded videos kept at once, and how long after their last update. */
  readonly jobs: number;
  readonly jobTtlMs: number;
}

export const DEFAULT_LIMITS: ServeLimits = {
  fileBytes: 200 * 1024 * 1024,
  files: 1000,
  requestTimeoutMs: 300_000,
  urlBytes: 50 * 1024 * 1024,
  urlTimeoutMs: 20_000,
  semanticQueue: 64,
  clickQueue: 16,
  trackingQueue: 4,
  syncTrackFrames: 600,
  videoFrames: 20_000,
  jobs: 64,
  jobTtlMs: 3_600_000,
};

export interface ServeOptions {
  readonly models: ServedModels;
  readonly logger: Logger;
  /** Where jobs keep their files (uploads, masks, overlay videos); default a folder under the OS temp dir. */
  readonly workDir?: string;
  readonly limits?: Partial<ServeLimits>;
}

export interface ModelServer {
  readonly app: FastifyInstance;
  readonly jobs: JobStore;
  /** Listens; resolves with the address. */
  listen(port: number, host?: string): Promise<string>;
  /** Drains: new requests get 503, requests in flight finish, jobs stop; then the sockets close. */
  close(): Promise<void>;
}

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export async function createModelServer(opts: ServeOptions): Promise<ModelServer> {
  const limits: ServeLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const { models, logger } = opts;
  const workDir = opts.workDir ?? (await fsp.mkdtemp(path.join(os.tmpdir(), `sly-nn-serve-${process.pid}-`)));
  await fsp.mkdir(workDir, { recursive: true });
  const jobs = new JobStore({ maxJobs: limits.jobs, ttlMs: limits.jobTtlMs });
  let closing = false;
  const metrics = createMetrics({
    queueDepth: () => ({
      semantic: semanticQueue.depth,
      clicks: clickQueue.depth,
      tracking: trackingQueue.depth,
    }),
    jobs: () => ({ kept: jobs.size, running: jobs.running }),
  });
  const semanticQueue = new Admission('semantic', limits.semanticQueue, () =>
    metrics.rejected.inc({ reason: 'semantic queue full' }),
  );
  const clickQueue = new Admission('clicks', limits.clickQueue, () =>
    metrics.rejected.inc({ reason: 'clicks queue full' }),
  );
  const trackingQueue = new Admission('tracking', limits.trackingQueue, () =>
    metrics.rejected.inc({ reason: 'tracking queue full' }),
  );
  const trackingTurn = new Serial();

  const app = Fastify({
    logger: false,
    requestTimeout: limits.requestTimeoutMs,
    // Settings and clicks only: images come as multipart files, which have their own limit.
    bodyLimit: 16 * 1024 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  await app.register(multipart, {
    limits: { fileSize: limits.fileBytes, files: limits.files, fields: 20, fieldSize: 16 * 1024 * 1024 },
  });
  // An empty JSON body is `{}` (ModelAPI posts `json={}`, some clients post nothing at all).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, {});
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (e) {
      done(new HttpError(400, `the body is not JSON: ${(e as Error).message}`), undefined);
    }
  });

  app.addHook('onRequest', async (req) => {
    (req as FastifyRequest & { startedAt?: number }).startedAt = performance.now();
    if (closing) {
      metrics.rejected.inc({ reason: 'stopping' });
      throw new HttpError(503, 'the server is stopping', { 'retry-after': '5', connection: 'close' });
    }
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    const seconds =
      (performance.now() - ((req as FastifyRequest & { startedAt?: number }).startedAt ?? 0)) / 1000;
    metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, seconds);
    if (reply.statusCode >= 500 || route !== '/metrics') {
      logger.debug('request', {
        method: req.method,
        url: req.url,
        status: reply.statusCode,
        ms: Math.round(seconds * 1000),
      });
    }
  });
  app.setErrorHandler(async (e, req, reply) => {
    const { status, body, headers } = errorResponse(e);
    // A 503 is the queue or the store refusing by design (counted in /metrics), not a failure: one error line
    // per refusal would flood the log under load.
    if (status >= 500 && status !== 503)
      logger.error('request failed', { url: req.url, status, error: body.message });
    else logger.debug('request refused', { url: req.url, status, error: body.message });
    await reply.code(status).headers(headers).send(body);
  });
  app.setNotFoundHandler(async (req, reply) => {
    const { status, body } = errorResponse(notFound(`no endpoint ${req.method} ${req.url}`));
    await reply.code(status).send(body);
  });

  // JSON bodies are checked against the SDK's envelope before a handler runs (a multipart body is read by the
  // handler, field by field). The polling endpoints' uuid is checked by the job store, with the SDK's message.
  const post = (url: string, handler: Handler): void => {
    app.post(
      url,
      { schema: { body: { content: { 'application/json': { schema: ENVELOPE_SCHEMA } } } } },
      handler,
    );
  };

  // ---------------------------------------------------------------- health (never prefixed; GET and POST as the SDK)
  const ready = (): boolean => !closing;
  app.get('/livez', async () => ({ running: true, mode: 'production' }));
  app.get('/is_alive', async () => ({ running: true, mode: 'production' }));
  post('/is_running', async () => ({ running: true, mode: 'production' }));
  const readiness: Handler = async (_req, reply) => {
    if (ready()) return { status: 'ready' };
    return reply
      .code(503)
      .send({ detail: 'Service not ready', success: false, message: 'Service not ready' });
  };
  app.get('/readyz', readiness);
  app.get('/is_ready', readiness);
  post('/is_ready', readiness);
  app.get('/metrics', async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  // ---------------------------------------------------------------- the page
  app.get('/', async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(await readPage('index.html')),
  );
  app.get('/page/:file', async (req, reply) => {
    const { file } = req.params as { file: string };
    const types: Record<string, string> = {
      js: 'text/javascript; charset=utf-8',
      css: 'text/css; charset=utf-8',
    };
    const type = types[path.extname(file).slice(1)];
    if (type === undefined || !/^[\w.-]+$/.test(file)) throw notFound(`no page file ${file}`);
    return reply.type(type).send(await readPage(file));
  });
  app.get('/api/models', async () => ({
    semantic: models.semantic !== undefined ? { checkpoint: checkpointName(models.semantic.dir) } : null,
    clicks: models.clicks !== undefined ? { checkpoint: checkpointName(models.clicks.dir) } : null,
    tracker: models.tracker !== undefined ? { checkpoint: checkpointName(models.tracker.dir) } : null,
  }));

  // ---------------------------------------------------------------- async job polling (shared by every model)
  const polling = (prefix: string): void => {
    post(`${prefix}/get_inference_progress`, async (req) => {
      const { state } = await readRequest(req);
      return jobs.get(state.inference_request_uuid).toJson(false);
    });
    post(`${prefix}/pop_inference_results`, async (req) => {
      const { state } = await readRequest(req);
      return jobs.get(state.inference_request_uuid).toJson(true);
    });
    post(`${prefix}/get_inference_result`, async (req) => {
      const { state } = await readRequest(req);
      return jobs.get(state.inference_request_uuid).finalResult;
    });
    post(`${prefix}/get_inference_status`, async (req) => {
      const { state } = await readRequest(req);
      const json = jobs.get(state.inference_request_uuid).toJson(false);
      for (const k of ['pending_results', 'final_result', 'created_at', 'updated_at']) delete json[k];
      return { ...json, ...memoryStatus() };
    });
    post(`${prefix}/get_preparing_progress`, async (req) => {
      const { state } = await readRequest(req);
      const job = jobs.get(state.inference_request_uuid);
      return { status: job.stage, current: 0, total: 1, is_size: false };
    });
    post(`${prefix}/stop_inference`, async (req) => {
      const { state } = await readRequest(req);
      jobs.get(state.inference_request_uuid).abort.abort();
      return { message: 'Inference will be stopped.', success: true };
    });
    post(`${prefix}/clear_inference_request`, async (req) => {
      const { state } = await readRequest(req);
      await jobs.clear(state.inference_request_uuid);
      return { success: true };
    });
  };

  /** Runs `work` as the async job `job`; the start response carries its uuid. */
  const startJob = async (
    job: Job,
    work: (job: Job) => Promise<unknown>,
    queue: Admission,
  ): Promise<{ message: string; inference_request_uuid: string }> => {
    // The queue's slot is held for the job's whole run, so jobs are bounded like requests.
    const admitted = new Promise<void>((resolveAdmitted, rejectAdmitted) => {
      job.done = queue
        .run(async () => {
          resolveAdmitted();
          try {
            job.finish(await work(job));
          } catch (e) {
            job.fail(e);
            if (!job.abort.signal.aborted)
              logger.warn('async inference failed', { uuid: job.uuid, error: String(e) });
          }
        })
        .catch((e: unknown) => rejectAdmitted(e));
    });
    try {
      await admitted;
    } catch (e) {
      await jobs.clear(job.uuid);
      throw e;
    }
    return { message: 'Inference has started.', inference_request_uuid: job.uuid };
  };

  // ---------------------------------------------------------------- info endpoints of one model
  const infoRoutes = (
    prefix: string,
    info: () => Record<string, unknown>,
    meta: () => unknown,
    deploy: () => Record<string, unknown>,
  ): void => {
    post(`${prefix}/get_session_info`, async () => info());
    post(`${prefix}/get_custom_inference_settings`, async () => ({ settings: DEFAULT_INFERENCE_SETTINGS }));
    post(`${prefix}/get_output_classes_and_tags`, async () => meta());
    post(`${prefix}/get_model_meta`, async () => meta());
    post(`${prefix}/get_deploy_info`, async () => deploy());
    post(`${prefix}/is_deployed`, async () => ({
      deployed: true,
      'description:': 'Model is ready to receive requests',
    }));
    post(`${prefix}/get_status`, async () => ({
      is_deployed: true,
      progress: { message: 'Deployed', current: 1, total: 1 },
      ...memoryStatus(),
    }));
    post(`${prefix}/get_tracking_settings`, async () => ({}));
  };

  const baseInfo = (task: string, classes: number | null): Record<string, unknown> => ({
    app_name: process.env.APP_NAME ?? 'sly-nn serve',
    session_id: null,
    number_of_classes: classes,
    sliding_window_support: task === 'semantic segmentation' ? 'basic' : 'none',
    videos_support: task === 'tracking',
    async_video_inference_support: false,
    tracking_on_videos_support: false,
    async_image_inference_support: task === 'semantic segmentation',
    tracking_algorithms: [],
    batch_inference_support: task === 'semantic segmentation',
    max_batch_size: null,
    'task type': task,
    device: 'cpu',
  });
  const deployInfo = (dir: string, config: Record<string, unknown>, task: string, runtime: string) => ({
    checkpoint_name: checkpointName(dir),
    model_name: String(config.network ?? 'unet'),
    architecture: String(config.network ?? 'unet'),
    checkpoint_url: path.resolve(dir),
    custom_checkpoint_path: path.resolve(dir),
    model_source: 'Custom models',
    task_type: task,
    device: 'cpu',
    runtime,
    model_precision: 'FP32',
    hardware: `${os.cpus()[0]?.model ?? 'CPU'} x${os.availableParallelism()}`,
    deploy_params: {},
  });

  // ---------------------------------------------------------------- semantic segmentation
  const semantic = models.semantic;
  const stopBatchSizes = semantic?.model.onBatch((n) => metrics.batchSize.observe({ model: 'semantic' }, n));
  const semanticRoutes = (prefix: string): void => {
    if (semantic === undefined) return;
    const annotator = semantic.model;
    const runtime = annotator.engine.name === 'onnxruntime' ? 'ONNXRuntime' : 'TensorFlow.js';
    const classCount = annotator.checkpoint.classes.length;
    infoRoutes(
      prefix,
      () => ({
        ...baseInfo('semantic segmentation', classCount),
        model_name: String(semantic.config.network ?? 'unet'),
        checkpoint_name: checkpointName(semantic.dir),
        input_size: annotator.checkpoint.inputSize,
        engine: annotator.engine.name,
      }),
      () => withConfidenceTag(projectMetaToJson(annotator.outputMeta(modeFromSettings({})))),
      () => deployInfo(semantic.dir, semantic.config, 'semantic segmentation', runtime),
    );
    const annotateOne = async (file: Upload, settings: Record<string, unknown>): Promise<unknown> => {
      const mode = modeFromSettings(settings);
      const annotation = await annotator.annotate(file.bytes, { name: file.filename || 'image', mode });
      return resultItem(filterClasses(annotation, settings), { name: file.filename || null });
    };
    // A full queue refuses before the upload is parsed: the body is only drained, so the refusal is cheap and
    // the client still gets its 503 (an unread body could cut the connection under it).
    const refuseEarlyIfFull = async (req: FastifyRequest): Promise<void> => {
      if (!semanticQueue.full) return;
      await drain(req.raw);
      semanticQueue.refuse();
    };
    const annotateAll = (files: readonly Upload[], settings: Record<string, unknown>): Promise<unknown[]> =>
      semanticQueue.run(
        () => Promise.all(files.map((f) => annotateOne(f, settings))),
        Math.min(files.length, limits.semanticQueue),
      );
    post(`${prefix}/inference_image`, async (req) => {
      await refuseEarlyIfFull(req);
      const { state, files } = await readRequest(req);
      const images = files.filter((f) => f.field === 'files');
      if (images.length !== 1)
        throw badRequest(`inference_image takes exactly one file in "files", got ${images.length}`);
      const [item] = await annotateAll(images, settingsOf(state));
      return item;
    });
    post(`${prefix}/inference_batch`, async (req) => {
      await refuseEarlyIfFull(req);
      const { state, files } = await readRequest(req);
      const images = files.filter((f) => f.field === 'files');
      if (images.length === 0) throw badRequest('inference_batch takes at least one file in "files"');
      return annotateAll(images, settingsOf(state));
    });
    post(`${prefix}/inference_image_url`, async (req) => {
      const { state } = await readRequest(req);
      const url = state.image_url;
      if (typeof url !== 'string' || url === '') throw badRequest('"state.image_url" is required');
      const bytes = await download(url, limits.urlBytes, limits.urlTimeoutMs);
      const name = path.basename(new URL(url).pathname) || 'image.jpg';
      const [item] = await annotateAll(
        [{ field: 'files', filename: name, mimetype: '', bytes }],
        settingsOf(state),
      );
      return item;
    });
    post(`${prefix}/inference_batch_async`, async (req) => {
      const { state, files } = await readRequest(req);
      const images = files.filter((f) => f.field === 'files');
      if (images.length === 0) throw badRequest('inference_batch_async takes at least one file in "files"');
      const settings = settingsOf(state);
      modeFromSettings(settings); // a bad setting fails the start, not the job
      return startJob(
        await jobs.create('images'),
        async (job) => {
          job.start(images.length);
          let done = 0;
          // A few images at a time: enough to fill the network's batches, while a stop is seen soon.
          const step = Math.max(1, annotator.batchSize);
          for (let i = 0; i < images.length; i += step) {
            job.abort.signal.throwIfAborted();
            const items = await semanticQueue.run(
              () => Promise.all(images.slice(i, i + step).map((f) => annotateOne(f, settings))),
              Math.min(step, limits.semanticQueue),
            );
            done += items.length;
            job.addResults(items);
            job.progressTo(done);
          }
          return null;
        },
        // The job's slot: async image jobs take turns with the tracker's, never more than its queue.
        trackingQueue,
      );
    });
  };

  // ---------------------------------------------------------------- clicks
  const clicks = models.clicks;
  const clickRoutes = (prefix: string): void => {
    if (clicks === undefined) return;
    infoRoutes(
      prefix,
      () => ({ ...baseInfo('interactive segmentation', 1), checkpoint_name: checkpointName(clicks.dir) }),
      () => withConfidenceTag({ classes: [OBJECT_CLASS] }),
      () => deployInfo(clicks.dir, clicks.config, 'interactive segmentation', 'ONNXRuntime'),
    );
  };
  const segmentClicks: Handler = async (req) => {
    if (clicks === undefined)
      throw notFound('no click model is served (give a checkpoint of network "clicks")');
    const { state, files } = await readRequest(req);
    const list = parseClicks(state.clicks);
    let bytes: Buffer;
    let name: string;
    const image = files.find((f) => f.field === 'files');
    if (image !== undefined) {
      bytes = image.bytes;
      name = image.filename || 'image';
    } else if (state.video_id !== undefined) {
      const video = uploadedVideo(state.video_id);
      const frame = intField(state.frame_index ?? 0, 'frame_index');
      name = `video ${video.uuid} frame ${frame}`;
      bytes = await readFrameJpeg(video, frame);
    } else {
      throw badRequest('give the image in "files", or "video_id" (and "frame_index") of an uploaded video');
    }
    return clickQueue.run(async () => {
      const decoded = await decodeImageBytes(bytes, { displayName: name });
      const rgb = { data: decoded.data, width: decoded.width, height: decoded.height };
      let previous: Uint8Array | undefined;
      const prev = files.find((f) => f.field === 'previous_mask');
      if (prev !== undefined) {
        const mask = readMaskUpload(prev);
        if (mask.width !== rgb.width || mask.height !== rgb.height) {
          throw badRequest(
            `previous_mask is ${mask.width}x${mask.height}, the image ${rgb.width}x${rgb.height}`,
          );
        }
        previous = mask.data.map((v) => (v > 0 ? 1 : 0));
      }
      const started = performance.now();
      const result = await clicks.model.segmentFromClicks(rgb, list, previous);
      const ms = performance.now() - started;
      const mask = { width: result.width, height: result.height, data: result.mask };
      let area = 0;
      for (const v of result.mask) area += v;
      const geometry = encodedBitmapGeometry(mask, { x: 0, y: 0 });
      const annotation: Annotation = {
        size: { width: result.width, height: result.height },
        description: '',
        tags: [],
        labels:
          geometry === null
            ? []
            : [
                {
                  classTitle: OBJECT_CLASS.title,
                  description: '',
                  tags: [],
                  geometry,
                  extra: { nnCreated: true, nnUpdated: true },
                },
              ],
        customBigData: {},
        extra: {},
      };
      return {
        width: result.width,
        height: result.height,
        area,
        network_ms: Math.round(ms * 10) / 10,
        // 0/1 as a 1-bit PNG (index 1 opaque): the page draws it, a client reads it.
        mask_png: encodeMaskPng(mask).toString('base64'),
        annotation: annotationToJson(annotation),
      };
    });
  };
  post('/segment_clicks', segmentClicks);
  post('/clicks/segment_clicks', segmentClicks);

  // ---------------------------------------------------------------- videos uploaded for the page and /track_masks
  post('/videos', async (req) => {
    const { files } = await readRequest(req);
    const video = files.find((f) => f.field === 'files');
    if (video === undefined) throw badRequest('upload the video in "files"');
    const job = await jobs.create('video');
    job.dir = path.join(workDir, job.uuid);
    try {
      const info = await decodeVideoToFrames({
        bytes: video.bytes,
        filename: video.filename || 'video',
        dir: job.dir,
        maxFrames: limits.videoFrames,
        signal: job.abort.signal,
      });
      job.finish({ video_id: job.uuid, ...info });
      return { video_id: job.uuid, ...info };
    } catch (e) {
      await jobs.clear(job.uuid);
      throw e;
    }
  });
  app.get('/videos/:id/frames/:file', async (req, reply) => {
    const { id, file } = req.params as { id: string; file: string };
    const video = uploadedVideo(id);
    const m = /^(\d+)\.jpg$/.exec(file);
    if (m === null) throw notFound(`no frame ${file} of video ${id}`);
    return reply.type('image/jpeg').send(await readFrameJpeg(video, Number(m[1])));
  });

  // ---------------------------------------------------------------- tracking
  const tracker = models.tracker;
  const trackApiFiles: Handler = async (req) => {
    if (tracker === undefined)
      throw notFound('no tracker is served (give a checkpoint of network "tracker")');
    const { state, files } = await readRequest(req);
    const frames = files.filter((f) => f.field === 'files');
    const result = await trackingQueue.run(() =>
      trackingTurn.run(() => trackFiles({ tracker: tracker.model, files: frames, settings: state })),
    );
    return result.frames;
  };
  const trackingRoutes = (prefix: string): void => {
    if (tracker === undefined) return;
    infoRoutes(
      prefix,
      () => ({ ...baseInfo('tracking', null), checkpoint_name: checkpointName(tracker.dir) }),
      () => withConfidenceTag({ classes: [OBJECT_CLASS] }),
      () => deployInfo(tracker.dir, tracker.config, 'tracking', 'ONNXRuntime'),
    );
    post(`${prefix}/track-api-files`, trackApiFiles);
  };

  /** The input of /track_masks: an uploaded video or frames, or an earlier upload, and the first mask. */
  const trackInput = async (
    job: Job,
    state: Record<string, unknown>,
    files: readonly Upload[],
  ): Promise<{ input: string; firstMask: ReturnType<typeof readIndexPng> }> => {
    const input = await trackSource(job, state, files);
    const maskFile = files.find((f) => f.field === 'mask');
    if (maskFile !== undefined) return { input, firstMask: readMaskUpload(maskFile) };
    if (state.objects !== undefined) return { input, firstMask: await maskFromClicks(input, state.objects) };
    throw badRequest(
      'give the first frame\'s index mask as the file field "mask" (PNG), or "objects": [{"id", "clicks"}]',
    );
  };

  /** Where the frames are: an uploaded video (video_id), a video file, or frames written to a folder. */
  const trackSource = async (
    job: Job,
    state: Record<string, unknown>,
    files: readonly Upload[],
  ): Promise<string> => {
    const dir = job.dir as string;
    const uploads = files.filter((f) => f.field === 'files');
    if (state.video_id !== undefined) {
      return path.join(jobFolder(uploadedVideo(state.video_id)), VIDEO_FILE);
    }
    if (uploads.length === 1) {
      const file = path.join(dir, `input${safeExtension(uploads[0].filename, '.mp4')}`);
      await fsp.writeFile(file, uploads[0].bytes);
      return file;
    }
    if (uploads.length > 1) {
      const folder = path.join(dir, 'input-frames');
      await fsp.mkdir(folder, { recursive: true });
      await Promise.all(
        uploads.map((f, i) =>
          fsp.writeFile(
            path.join(folder, `${String(i).padStart(6, '0')}${safeExtension(f.filename, '.jpg')}`),
            f.bytes,
          ),
        ),
      );
      return folder;
    }
    throw badRequest('give a video (one file) or the frames (several files) in "files", or "video_id"');
  };

  /** The first frame's index mask from clicks: each object's mask from the click model, later objects on top. */
  const maskFromClicks = async (
    input: string,
    objects: unknown,
  ): Promise<ReturnType<typeof readIndexPng>> => {
    if (clicks === undefined) {
      throw badRequest('"objects" with clicks needs a click model (serve a checkpoint of network "clicks")');
    }
    if (!Array.isArray(objects) || objects.length === 0 || objects.length > 255) {
      throw badRequest('"objects" must be a list of 1 to 255 {"id", "clicks": [{"x", "y", "positive"}]}');
    }
    const frame = await firstFrame(input);
    const mask = new Uint8Array(frame.width * frame.height);
    const rgb = { data: frame.rgb, width: frame.width, height: frame.height };
    for (const [i, o] of objects.entries()) {
      if (!isObject(o)) throw badRequest(`objects[${i}] must be {"id", "clicks"}`);
      const id = o.id === undefined ? i + 1 : intField(o.id, `objects[${i}].id`, 1);
      if (id > 255) throw badRequest(`objects[${i}].id must be 1..255, got ${id}`);
      const result = await clickQueue.run(() => clicks.model.segmentFromClicks(rgb, parseClicks(o.clicks)));
      for (let p = 0; p < mask.length; p++) if (result.mask[p] === 1) mask[p] = id;
    }
    return { width: frame.width, height: frame.height, data: mask };
  };

  const trackJob = async (
    job: Job,
    state: Record<string, unknown>,
    files: readonly Upload[],
    opts: { video: boolean },
  ) => {
    if (tracker === undefined)
      throw notFound('no tracker is served (give a checkpoint of network "tracker")');
    const { input, firstMask } = await trackInput(job, state, files);
    const ids = [...new Set(firstMask.data)].filter((v) => v !== 0).sort((a, b) => a - b);
    if (ids.length === 0) throw badRequest('the first mask has no object (every pixel is 0)');
    const out = path.join(job.dir as string, 'out');
    const result = await trackingTurn.run(() =>
      trackToFolder({
        tracker: tracker.model,
        input,
        firstMask,
        dir: out,
        video: opts.video,
        signal: job.abort.signal,
        onFrame: (done, total) => {
          if (job.current === 0) job.start(total ?? done);
          job.progressTo(done, total ?? undefined);
          job.addResults([
            { frame_index: done - 1, mask_url: `/track_jobs/${job.uuid}/masks/${done - 1}.png` },
          ]);
        },
      }),
    );
    job.progressTo(result.frames, result.frames);
    return {
      frames: result.frames,
      width: result.size.width,
      height: result.size.height,
      fps: result.fps,
      objects: ids,
      masks_zip: `/track_jobs/${job.uuid}/masks.zip`,
      ...(opts.video ? { overlay_video: `/track_jobs/${job.uuid}/${OVERLAY_FILE}` } : {}),
    };
  };

  const newTrackJob = async (): Promise<Job> => {
    const job = await jobs.create('track');
    job.dir = path.join(workDir, job.uuid);
    await fsp.mkdir(job.dir, { recursive: true });
    return job;
  };

  post('/track_masks', async (req) => {
    const { state, files } = await readRequest(req);
    // A job of its own, outside the store: a request, which a stopping server lets finish (stopAll aborts jobs).
    const job = new Job('track');
    job.dir = path.join(workDir, `sync-${job.uuid}`);
    await fsp.mkdir(job.dir, { recursive: true });
    try {
      const result = await trackingQueue.run(() => trackJob(job, state, files, { video: false }));
      if (result.frames > limits.syncTrackFrames) {
        throw new HttpError(
          413,
          `${result.frames} frames: /track_masks returns at most ${limits.syncTrackFrames}; use /track_masks_async`,
        );
      }
      const masks: string[] = [];
      for (let i = 0; i < result.frames; i++) masks.push((await readMask(job, i)).toString('base64'));
      return { ...result, masks, masks_zip: undefined };
    } finally {
      await fsp.rm(job.dir, { recursive: true, force: true });
    }
  });
  post('/track_masks_async', async (req) => {
    const { state, files } = await readRequest(req);
    if (tracker === undefined)
      throw notFound('no tracker is served (give a checkpoint of network "tracker")');
    return startJob(
      await newTrackJob(),
      (job) => trackJob(job, state, files, { video: true }),
      trackingQueue,
    );
  });
  app.get('/track_jobs/:id/masks/:file', async (req, reply) => {
    const { id, file } = req.params as { id: string; file: string };
    const job = jobs.get(id);
    const m = /^(\d+)\.png$/.exec(file);
    if (m === null) throw notFound(`no mask ${file}`);
    return reply.type('image/png').send(await readMask(job, Number(m[1])));
  });
  app.get('/track_jobs/:id/masks.zip', async (req, reply) => {
    const { id } = req.params as { id: string };
    const job = jobs.get(id);
    const dir = path.join(jobFolder(job), 'out', MASKS_DIR);
    const names = (await listOrNotFound(dir, id)).filter((n) => n.endsWith('.png')).sort();
    const entries: Record<string, [Uint8Array, { level: 0 }]> = {};
    for (const n of names) entries[`masks/${n}`] = [await fsp.readFile(path.join(dir, n)), { level: 0 }];
    return reply
      .type('application/zip')
      .header('content-disposition', `attachment; filename="masks-${id}.zip"`)
      .send(Buffer.from(zipSync(entries)));
  });
  app.get(`/track_jobs/:id/${OVERLAY_FILE}`, async (req, reply) => {
    const { id } = req.params as { id: string };
    const job = jobs.get(id);
    const file = path.join(jobFolder(job), 'out', OVERLAY_FILE);
    const bytes = await fsp.readFile(file).catch(() => {
      throw notFound(`the tracking ${id} has no overlay video (yet)`);
    });
    return reply
      .type('video/mp4')
      .header('content-disposition', `attachment; filename="overlay-${id}.mp4"`)
      .send(bytes);
  });

  // ---------------------------------------------------------------- the SDK's endpoint sets
  const root = semantic !== undefined ? 'semantic' : tracker !== undefined ? 'tracking' : 'clicks';
  for (const [name, routes] of [
    ['semantic', semanticRoutes],
    ['tracking', trackingRoutes],
    ['clicks', clickRoutes],
  ] as const) {
    routes(`/${name}`);
    if (name === root) routes('');
  }
  // The SDK's tracking endpoint names no other model's, so it is at the root whatever the root model is.
  if (root !== 'tracking' && tracker !== undefined) post('/track-api-files', trackApiFiles);
  polling('');
  for (const name of ['semantic', 'tracking', 'clicks']) polling(`/${name}`);

  let closed: Promise<void> | undefined;
  return {
    app,
    jobs,
    async listen(port, host = '0.0.0.0') {
      return app.listen({ port, host });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        // Requests in flight finish (fastify waits for them); new ones are refused by the onRequest hook.
        await jobs.stopAll();
        await app.close();
        await jobs.close();
        stopBatchSizes?.();
        await fsp.rm(workDir, { recursive: true, force: true });
      })();
      return closed;
    },
  };

  /** The video uploaded to /videos under `id` (400 without an id, 404 when it is not one). */
  function uploadedVideo(id: unknown): Job {
    const video = jobs.get(id);
    if (video.kind !== 'video' || video.dir === undefined) throw notFound(`no uploaded video ${String(id)}`);
    return video;
  }

  function jobFolder(job: Job): string {
    if (job.dir === undefined) throw notFound(`the request ${job.uuid} has no files`);
    return job.dir;
  }

  async function readMask(job: Job, index: number): Promise<Buffer> {
    const file = path.join(jobFolder(job), 'out', MASKS_DIR, maskFileName(index));
    return fsp.readFile(file).catch(() => {
      throw notFound(`no mask of frame ${index} in ${job.uuid} (yet)`);
    });
  }

  async function readFrameJpeg(video: Job, index: number): Promise<Buffer> {
    const file = path.join(jobFolder(video), FRAMES_DIR, frameFileName(index));
    return fsp.readFile(file).catch(() => {
      throw notFound(`no frame ${index} in video ${video.uuid}`);
    });
  }
}

/** The JSON envelope of every model endpoint (docs/supervisely-serving-api.md §0): extra keys are tolerated. */
const ENVELOPE_SCHEMA = {
  type: 'object',
  properties: {
    state: {
      type: 'object',
      properties: {
        settings: { type: ['object', 'null'] },
        inference_request_uuid: { type: 'string' },
        image_url: { type: 'string' },
        video_id: { type: 'string' },
        clicks: { type: 'array', items: { type: 'object' } },
        objects: { type: 'array', items: { type: 'object' } },
      },
    },
    context: { type: 'object' },
    api_token: { type: ['string', 'null'] },
    server_address: { type: ['string', 'null'] },
  },
} as const;

const OBJECT_CLASS = {
  title: 'object',
  description: '',
  shape: 'bitmap',
  color: '#FF3366',
  geometry_config: {},
  hotkey: '',
};

/** The SDK's model meta always has the `confidence` tag meta (`update_model_meta`). */
function withConfidenceTag(meta: { classes: readonly unknown[]; tags?: readonly { name?: string }[] }) {
  const tags = meta.tags ?? [];
  if (tags.some((t) => t.name === 'confidence')) return { ...meta, tags };
  return {
    ...meta,
    tags: [
      ...tags,
      {
        name: 'confidence',
        value_type: 'any_number',
        color: '#F39C12',
        applicable_type: 'all',
        classes: [],
        target_type: 'all',
      },
    ],
  };
}

/** A result item as `Prediction.to_json()` (docs/supervisely-serving-api.md §1e). */
function resultItem(annotation: Annotation, where: { name: string | null }): Record<string, unknown> {
  return {
    source: null,
    annotation: annotationToJson(annotation),
    name: where.name,
    image_name: where.name,
    path: null,
    url: null,
    project_id: null,
    dataset_id: null,
    image_id: null,
    video_id: null,
    frame_index: null,
    slides_data: {},
    data: {},
  };
}

/** settings.classes: a list keeps only labels of those classes ("all" or absent keeps every one). */
function filterClasses(annotation: Annotation, settings: Record<string, unknown>): Annotation {
  const classes = settings.classes;
  if (classes === undefined || classes === null || classes === 'all') return annotation;
  if (!Array.isArray(classes) || !classes.every((c) => typeof c === 'string')) {
    throw badRequest('settings.classes must be "all" or a list of class titles');
  }
  const keep = new Set(classes);
  return { ...annotation, labels: annotation.labels.filter((l) => keep.has(l.classTitle)) };
}

function parseClicks(value: unknown): Click[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw badRequest('"clicks" must be a non-empty list of {"x", "y", "positive"} in image pixels');
  }
  return value.map((c, i) => {
    if (!isObject(c) || typeof c.x !== 'number' || typeof c.y !== 'number') {
      throw badRequest(`clicks[${i}] must be {"x": number, "y": number, "positive": true|false}`);
    }
    return { x: c.x, y: c.y, positive: c.positive !== false && c.is_positive !== false };
  });
}

function readMaskUpload(file: Upload): ReturnType<typeof readIndexPng> {
  try {
    return readIndexPng(file.bytes);
  } catch (e) {
    throw badRequest(
      `the file "${file.field}" (${file.filename}) is not an index mask PNG: ${(e as Error).message}`,
    );
  }
}

function safeExtension(filename: string, fallback: string): string {
  const ext = path.extname(filename).toLowerCase();
  return /^\.[a-z0-9]{1,5}$/.test(ext) ? ext : fallback;
}

async function listOrNotFound(dir: string, id: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch {
    throw notFound(`the tracking ${id} has no masks (yet)`);
  }
}

function memoryStatus(): Record<string, unknown> {
  const rss = process.memoryUsage().rss;
  return {
    gpu_memory: { allocated: 0, total: 0 },
    ram_memory: { allocated: rss, total: os.totalmem() },
  };
}

/** Reads and drops the rest of a request body. */
async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const chunk of stream) void chunk;
}

/** GETs `url` with a size limit and a timeout; a failure is a 400 naming the URL. */
async function download(url: string, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badRequest(`image_url ${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw badRequest(`image_url must be http or https, got ${parsed.protocol}`);
  }
  let response: Response;
  try {
    response = await fetch(parsed, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (e) {
    const why =
      (e as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e as Error).message;
    throw badRequest(`cannot download image_url ${url}: ${why}`);
  }
  if (!response.ok) throw badRequest(`cannot download image_url ${url}: HTTP ${response.status}`);
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new HttpError(413, `image_url ${url} is ${declared} bytes, more than the ${maxBytes} allowed`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body === null) return Buffer.alloc(0);
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel();
        throw new HttpError(413, `image_url ${url} is more than the ${maxBytes} bytes allowed`);
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof HttpError) throw e;
    throw badRequest(`cannot download image_url ${url}: ${(e as Error).message}`);
  }
  return Buffer.concat(chunks);
}
