/**
 * @jest-environment ./test/onnx/ort-environment.js
 *
 * The page of `sly-nn serve` (web/) in a real browser: headless chromium driven by playwright-core, against the
 * server in this process serving three small checkpoints with seeded weights (a U-Net, a click network and a
 * tracker; the plumbing is tested, not the quality). An image: the semantic model's labels are drawn where the
 * server put them and make the legend; a click sends the image pixel under it and the page shows the answer, a
 * right click adds a negative click, a new object has clicks of its own. A video: uploaded, clicked (no upload:
 * the video's id), tracked with the progress bar to the end, scrubbed, and its masks zip holds a PNG a frame;
 * Stop cancels a tracking. The server's errors reach the status line. Screenshots (after the clicks, after the
 * tracking) go to SCREENSHOT_DIR (default: the test's temp dir).
 *
 * Needs chromium at /usr/bin/chromium (.ci/run installs it) and ffmpeg. Without chromium the test is skipped
 * with a warning, except in CI (CI set), where it runs and fails.
 */
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { decodeBitmapData } from '../../src/format/bitmap-codec';
import { createLogger } from '../../src/protocol/logger';
import { memorySink } from '../../src/protocol/sink';
import { closeServedModels, loadServedModels, type ServedModels } from '../../src/serve/models';
import { createModelServer, type ModelServer } from '../../src/serve/server';
import { writeTinyCheckpoints } from '../helpers/tiny-checkpoints';
import { smoothFrame, writeVideo } from '../video/helpers';

const CHROMIUM = '/usr/bin/chromium';
const RUNS = existsSync(CHROMIUM) || process.env.CI !== undefined;
if (!RUNS) {
  console.warn(
    `SKIPPED test/serve/page.browser.contract.test.ts: no ${CHROMIUM} (apt-get install chromium); in CI it runs`,
  );
}
const describeInBrowser = RUNS ? describe : describe.skip;

const IMAGE = { width: 64, height: 48 };
const FRAMES = 6;
/** Frames enough that a Stop comes well before the end (tracking them takes seconds). */
const LONG_FRAMES = 300;

let root: string;
let shots: string;
let models: ServedModels | undefined;
let server: ModelServer | undefined;
let base: string;
let browser: Browser | undefined;
let imageFile: string;
/** The image's pixels (RGB), to tell the image from what is drawn over it. */
let imageRgb = Buffer.alloc(0);
let videoFile: string;
let longVideoFile: string;

beforeAll(async () => {
  if (!RUNS) return;
  root = await fsp.mkdtemp(path.join(os.tmpdir(), 'serve-page-'));
  shots = process.env.SCREENSHOT_DIR ?? root;
  await fsp.mkdir(shots, { recursive: true });
  const ckpt = await writeTinyCheckpoints(path.join(root, 'checkpoints'));
  models = await loadServedModels({
    checkpoints: [ckpt.semantic, ckpt.clicks, ckpt.tracker],
    networkThreads: 1,
  });
  server = await createModelServer({
    models,
    logger: createLogger({ sink: memorySink().sink }),
    workDir: path.join(root, 'serve'),
  });
  base = await server.listen(0, '127.0.0.1');

  // A grey image with a red square in it; a short video of a moving blob.
  imageFile = path.join(root, 'square.png');
  imageRgb = Buffer.alloc(IMAGE.width * IMAGE.height * 3, 128);
  for (let y = 12; y < 36; y++) {
    for (let x = 20; x < 44; x++) imageRgb.set([220, 30, 30], (y * IMAGE.width + x) * 3);
  }
  await sharp(imageRgb, { raw: { ...IMAGE, channels: 3 } })
    .png()
    .toFile(imageFile);
  videoFile = path.join(root, 'blob.mp4');
  const frames = Array.from({ length: FRAMES }, (_, t) => smoothFrame(IMAGE.width, IMAGE.height, t));
  await writeVideo(videoFile, frames, 10);
  longVideoFile = path.join(root, 'long.mp4');
  const longFrames = Array.from({ length: LONG_FRAMES }, (_, t) => smoothFrame(IMAGE.width, IMAGE.height, t));
  await writeVideo(longVideoFile, longFrames, 10);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (models !== undefined) await closeServedModels(models);
  if (root !== undefined) await fsp.rm(root, { recursive: true, force: true });
});

/** The page loaded, with the models it was told about shown; errors in the page fail the test. */
async function openPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await (browser as Browser).newPage({ viewport: { width: 1280, height: 720 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(RECORD_FORMS);
  await page.goto(base);
  await page.waitForFunction("!document.getElementById('models').textContent.includes('…')");
  return { page, errors };
}

/**
 * Clicks the canvas on image pixel (x, y), three quarters into it (a point belongs to the pixel it is in, not
 * the nearest pixel corner), and returns the /segment_clicks answer.
 */
async function clickPixel(page: Page, x: number, y: number, button: 'left' | 'right' = 'left') {
  const canvas = page.locator('#view');
  const box = await canvas.boundingBox();
  if (box === null) throw new Error('the canvas is not shown');
  const answer = page.waitForResponse((r) => r.url().endsWith('/segment_clicks'));
  const { width, height } = await imageSize(page);
  await canvas.click({
    button,
    position: { x: ((x + 0.75) * box.width) / width, y: ((y + 0.75) * box.height) / height },
  });
  return answer;
}

/** The size of what the canvas shows, in image pixels (the page keeps it on the canvas). */
async function imageSize(page: Page): Promise<{ width: number; height: number }> {
  const canvas = page.locator('#view');
  return {
    width: Number(await canvas.getAttribute('data-width')),
    height: Number(await canvas.getAttribute('data-height')),
  };
}

/**
 * Runs in the page before its own script: records the multipart forms the page posts (the browser does not
 * hand playwright a body holding a file), strings as they are and files by name.
 */
const RECORD_FORMS = `
  window.sentForms = [];
  const fetchFirst = window.fetch;
  window.fetch = (url, init) => {
    if (init && init.body instanceof FormData) {
      const fields = {};
      for (const [name, value] of init.body) fields[name] = typeof value === 'string' ? value : { file: value.name };
      window.sentForms.push({ url: String(url), fields });
    }
    return fetchFirst(url, init);
  };
`;

interface SentForm {
  url: string;
  fields: Record<string, string | { file: string }>;
}

/** The last form the page posted to `url`, with its JSON `state` parsed. */
async function lastForm(page: Page, url: string): Promise<{ state: unknown; files: unknown }> {
  const forms = ((await page.evaluate('window.sentForms')) as SentForm[]).filter((f) => f.url === url);
  const last = forms.at(-1);
  if (last === undefined) throw new Error(`the page posted no form to ${url}`);
  return { state: JSON.parse(last.fields.state as string), files: last.fields.files };
}

/** The canvas's RGB at the centre of each image pixel (what the page drew there). */
async function canvasPixels(page: Page): Promise<number[]> {
  const { width, height } = await imageSize(page);
  return page.evaluate(`(() => {
    const canvas = document.getElementById('view');
    const rgba = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const out = [];
    for (let y = 0; y < ${height}; y++) {
      for (let x = 0; x < ${width}; x++) {
        const row = Math.floor(((y + 0.5) * canvas.height) / ${height});
        const at = 4 * (row * canvas.width + Math.floor(((x + 0.5) * canvas.width) / ${width}));
        out.push(rgba[at], rgba[at + 1], rgba[at + 2]);
      }
    }
    return out;
  })()`);
}

interface SemanticLabel {
  classTitle: string;
  bitmap: { origin: [number, number]; data: string };
}

/** The area the page shows for the selected object, once an answer has come. */
async function shownArea(page: Page): Promise<string> {
  await page.waitForFunction("document.getElementById('area').dataset.area !== ''");
  return (await page.getAttribute('#area', 'data-area')) ?? '';
}

describeInBrowser('the page of sly-nn serve, in chromium', () => {
  it("runs the semantic model on an image: the legend and the labels drawn are the server's answer", async () => {
    const { page, errors } = await openPage();
    await page.setInputFiles('#file', imageFile);
    await page.waitForSelector('#view:not([hidden])');
    const inference = page.waitForResponse((r) => r.url().endsWith('/inference_image'));
    await page.click('#run-semantic');
    const response = await inference;
    expect(response.status()).toBe(200);
    const item = (await response.json()) as { annotation: { objects: SemanticLabel[] } };
    await page.locator('#legend li').first().waitFor();

    // The class of each pixel as the server said: every pixel is some class (an argmax).
    const classOf = new Array<string>(IMAGE.width * IMAGE.height).fill('');
    for (const label of item.annotation.objects) {
      const mask = decodeBitmapData(label.bitmap.data);
      const [ox, oy] = label.bitmap.origin;
      for (let y = 0; y < mask.height; y++) {
        for (let x = 0; x < mask.width; x++) {
          if (mask.data[y * mask.width + x] !== 0)
            classOf[(oy + y) * IMAGE.width + ox + x] = label.classTitle;
        }
      }
    }
    expect(classOf.filter((c) => c === '')).toEqual([]);
    // A label away from the corner, so that drawing them at their origins is tested (these seeded weights give two: writeTinyCheckpoints).
    expect(item.annotation.objects.some((o) => o.bitmap.origin.join() !== '0,0')).toBe(true);
    const meta = (await (await fetch(`${base}/get_model_meta`, { method: 'POST' })).json()) as {
      classes: { title: string }[];
    };
    const legend = (await page.locator('#legend li').allTextContents()).map((t) => {
      const m = /^(.*?)(?:(\d+) px|not found)$/.exec(t);
      return [m?.[1], m?.[2] === undefined ? 0 : Number(m[2])];
    });
    expect(legend).toEqual(meta.classes.map((c) => [c.title, classOf.filter((t) => t === c.title).length]));

    // On the canvas, a class's labels tint the image where the server put them: all but the background, which
    // starts hidden. Read at each pixel's centre, compared with the image itself.
    const tinted = async (): Promise<boolean[]> => {
      const drawn = await canvasPixels(page);
      return classOf.map((_, i) => [0, 1, 2].some((c) => drawn[3 * i + c] !== imageRgb[3 * i + c]));
    };
    expect(await tinted()).toEqual(classOf.map((c) => c !== 'bg'));
    // A click on a legend entry shows or hides its class: now the background alone.
    for (const entry of await page.locator('#legend li').all()) await entry.click();
    expect(await tinted()).toEqual(classOf.map((c) => c === 'bg'));
    expect(errors).toEqual([]);
    await page.close();
  });

  it('clicks objects on an image, positive and negative, each object with its own clicks and mask', async () => {
    const { page, errors } = await openPage();
    expect(await page.textContent('#models')).toBe('semantic: semantic · clicks: clicks · tracker: tracker');
    await page.setInputFiles('#file', imageFile);
    await page.waitForSelector('#view:not([hidden])');

    const first = await clickPixel(page, 30, 20);
    expect(first.status()).toBe(200);
    expect(await lastForm(page, '/segment_clicks')).toEqual({
      state: { clicks: [{ x: 30, y: 20, positive: true }] },
      files: { file: 'square.png' },
    });
    const answer = (await first.json()) as { area: number; width: number; height: number };
    expect([answer.width, answer.height]).toEqual([IMAGE.width, IMAGE.height]);
    expect(await shownArea(page)).toBe(String(answer.area));

    // A right click is a negative click of the same object: both go with the next request.
    const second = await clickPixel(page, 5, 40, 'right');
    expect(second.status()).toBe(200);
    expect((await lastForm(page, '/segment_clicks')).state).toEqual({
      clicks: [
        { x: 30, y: 20, positive: true },
        { x: 5, y: 40, positive: false },
      ],
    });
    const secondArea = ((await second.json()) as { area: number }).area;
    await page.locator(`#area[data-area="${secondArea}"]`).waitFor();
    expect(await page.locator('#objects li').allTextContents()).toEqual([
      expect.stringMatching(new RegExp(`^Object 1${secondArea} px · 2 clicks×$`)),
    ]);
    // "New object" starts object 2 with its own clicks.
    await page.click('#new-object');
    const third = await clickPixel(page, 10, 10);
    expect(third.status()).toBe(200);
    expect((await lastForm(page, '/segment_clicks')).state).toEqual({
      clicks: [{ x: 10, y: 10, positive: true }],
    });
    await page.locator('#objects li').nth(1).waitFor();
    await page.screenshot({ path: path.join(shots, 'page-click.png') });

    expect(errors).toEqual([]);
    await page.close();
  });

  it('uploads a video, clicks, tracks to the end, scrubs, and downloads a masks zip with a PNG a frame', async () => {
    const { page, errors } = await openPage();
    const polls: number[] = [];
    page.on('response', (r) => {
      if (r.url().endsWith('/get_inference_progress')) polls.push(r.status());
    });
    const upload = page.waitForResponse((r) => r.url().endsWith('/videos'));
    await page.setInputFiles('#file', videoFile);
    expect((await upload).status()).toBe(200);
    const video = (await (await upload).json()) as { video_id: string; frames: number };
    expect(video.frames).toBe(FRAMES);
    await page.waitForSelector('#scrub:not([hidden])');
    expect(await page.getAttribute('#frame', 'max')).toBe(String(FRAMES - 1));

    const click = await clickPixel(page, 16, 24);
    expect(click.status()).toBe(200);
    // No file: the server has the video's frames.
    expect(await lastForm(page, '/segment_clicks')).toEqual({
      state: { clicks: [{ x: 16, y: 24, positive: true }], video_id: video.video_id, frame_index: 0 },
      files: undefined,
    });
    // These seeded weights mark some pixels: the track button needs an object.
    expect(Number(await shownArea(page))).toBeGreaterThan(0);

    const started = page.waitForResponse((r) => r.url().endsWith('/track_masks_async'));
    await page.click('#track');
    expect((await started).status()).toBe(200);
    const { inference_request_uuid: uuid } = (await (await started).json()) as {
      inference_request_uuid: string;
    };
    // The bar's value and max are reflected as attributes.
    await page.locator(`#progress[max="${FRAMES}"][value="${FRAMES}"]`).waitFor({ timeout: 90_000 });
    await page.locator('#downloads:not([hidden])').waitFor();
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.every((s) => s === 200)).toBe(true);
    expect(await page.textContent('#progress-label')).toBe(`${FRAMES} / ${FRAMES} frames`);

    // The last frame with its tracked mask.
    const mask = page.waitForResponse((r) => r.url().endsWith(`/track_jobs/${uuid}/masks/${FRAMES - 1}.png`));
    await page.locator('#frame').fill(String(FRAMES - 1));
    expect((await mask).status()).toBe(200);
    await page.locator('#frame-label', { hasText: `${FRAMES - 1} / ${FRAMES - 1}` }).waitFor();
    await page.screenshot({ path: path.join(shots, 'page-track.png') });

    const zipHref = await page.getAttribute('#masks-zip', 'href');
    expect(zipHref).toBe(`/track_jobs/${uuid}/masks.zip`);
    const zip = await fetch(new URL(zipHref as string, base));
    expect(zip.status).toBe(200);
    const entries = Object.keys(unzipSync(new Uint8Array(await zip.arrayBuffer())));
    expect(entries.filter((n) => n.endsWith('.png')).sort()).toEqual(
      Array.from({ length: FRAMES }, (_, i) => `masks/${String(i).padStart(5, '0')}.png`),
    );
    const overlay = await fetch(new URL((await page.getAttribute('#overlay-video', 'href')) as string, base));
    expect([overlay.status, overlay.headers.get('content-type')]).toEqual([200, 'video/mp4']);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('stops a tracking with the Stop button', async () => {
    const { page, errors } = await openPage();
    const upload = page.waitForResponse((r) => r.url().endsWith('/videos'));
    await page.setInputFiles('#file', longVideoFile);
    expect((await upload).status()).toBe(200);
    await page.waitForSelector('#scrub:not([hidden])');
    expect((await clickPixel(page, 16, 24)).status()).toBe(200);
    await shownArea(page);
    const started = page.waitForResponse((r) => r.url().endsWith('/track_masks_async'));
    await page.click('#track');
    const { inference_request_uuid: uuid } = (await (await started).json()) as {
      inference_request_uuid: string;
    };
    const stopped = page.waitForResponse((r) => r.url().endsWith('/stop_inference'));
    await page.click('#stop');
    expect((await stopped).status()).toBe(200);
    // The server's job ends cancelled, short of the last frame.
    let job: { finished: boolean; stage: string } = { finished: false, stage: '' };
    for (let tries = 0; !job.finished && tries < 300; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const r = await fetch(`${base}/get_inference_progress`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ state: { inference_request_uuid: uuid } }),
      });
      job = (await r.json()) as typeof job;
    }
    expect(job.stage).toBe('Cancelled');
    await page.locator('#progress-label', { hasText: 'Stopped' }).waitFor();
    expect(await page.textContent('#status')).toBe('Tracking stopped');
    expect(await page.locator('#downloads').isHidden()).toBe(true);
    expect(await page.locator('#stop').isHidden()).toBe(true);
    expect(await page.locator('#track').isEnabled()).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows the server's error in the status line", async () => {
    const { page, errors } = await openPage();
    const broken = path.join(root, 'broken.mp4');
    await fsp.writeFile(broken, Buffer.from('not a video at all'));
    const upload = page.waitForResponse((r) => r.url().endsWith('/videos'));
    await page.setInputFiles('#file', broken);
    const response = await upload;
    expect(response.status()).toBeGreaterThanOrEqual(400);
    const { detail } = (await response.json()) as { detail: string };
    await page.waitForSelector('#status.error');
    expect(await page.textContent('#status')).toContain(detail);
    expect(errors).toEqual([]);
    await page.close();
  });
});
