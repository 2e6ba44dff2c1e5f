// The page of `sly-nn serve`: open an image or a video, click objects (the click model), run the semantic model
// on an image, track the clicked objects through a video and scrub the result. Plain browser JavaScript with no
// build and no requests but to this server. Everything drawn is kept in image pixels and scaled once on the
// canvas, so masks, dots and clicks line up whatever the window size.

const $ = (id) => document.getElementById(id);
const ui = {
  file: $('file'),
  fileName: $('file-name'),
  models: $('models'),
  status: $('status'),
  view: $('view'),
  hint: $('hint'),
  scrub: $('scrub'),
  frame: $('frame'),
  frameLabel: $('frame-label'),
  prevFrame: $('prev-frame'),
  nextFrame: $('next-frame'),
  newObject: $('new-object'),
  undo: $('undo'),
  negative: $('negative'),
  objects: $('objects'),
  area: $('area'),
  networkMs: $('network-ms'),
  runSemantic: $('run-semantic'),
  showSemantic: $('show-semantic'),
  legend: $('legend'),
  track: $('track'),
  stop: $('stop'),
  progress: $('progress'),
  progressLabel: $('progress-label'),
  downloads: $('downloads'),
  masksZip: $('masks-zip'),
  overlayVideo: $('overlay-video'),
};

/**
 * Distinct colours by object id (1, 2, 3...), the same in the list, on frame 0 and in the tracked frames. Light,
 * saturated ones first: they stand out on most pictures (red, green and blue shapes included).
 */
const OBJECT_COLOURS = [
  '#ffe119',
  '#42d4f4',
  '#f032e6',
  '#f58231',
  '#bfef45',
  '#911eb4',
  '#e6194b',
  '#4363d8',
];
/** Masks' fill opacity (0-255); their edges are opaque. */
const FILL_ALPHA = 120;
const BACKGROUND = /^(bg|background|__bg__)$/i;
const POLL_MS = 300;
/** Decoded frames and tracked masks kept for scrubbing back and forth. */
const CACHE_SIZE = 120;

/** What belongs to the open file, as it is before one is opened. */
const noFile = () => ({
  /** 'image' or 'video' once a file is open. */
  kind: null,
  /** The image file: images stay in the browser and go with each request. */
  file: null,
  width: 0,
  height: 0,
  /** What is drawn under the masks: the image, or the frame on show. */
  base: null,
  /** {video_id, frames, width, height, fps} from POST /videos. */
  video: null,
  frame: 0,
  /** {id, clicks: [{x, y, positive}], mask: Uint8Array (0/1) | null, layer: canvas | null, area, ticket}. */
  objects: [],
  selected: null,
  nextId: 1,
  /** {classes: [{title, rgb, layer, area, shown}]}: the semantic model's result on the image. */
  semantic: null,
});

const state = {
  models: { semantic: null, clicks: null, tracker: null },
  ...noFile(),
  /** The tracking in progress: its uuid. */
  tracking: null,
  /** {uuid, result}: the last finished tracking; its masks are drawn over the frames. */
  track: null,
  trackLayer: null,
  /** Bumped by each new file, so a late answer for an earlier one is dropped. */
  generation: 0,
  /** Bumped by each frame shown, so only the last one asked for is drawn. */
  frameTicket: 0,
};

const frameCache = new Map();
const trackCache = new Map();

// ---------------------------------------------------------------- requests

let busy = 0;
function setBusy(delta) {
  busy += delta;
  document.body.dataset.busy = String(busy);
}

function setStatus(text, error = false) {
  ui.status.textContent = text;
  ui.status.classList.toggle('error', error);
}

/** A request to the server; a failure throws with the server's `detail` (its JSON errors carry one). */
async function api(path, init) {
  setBusy(1);
  try {
    const response = await fetch(path, init);
    const text = await response.text();
    let body = null;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      body = text;
    }
    if (!response.ok) {
      const why = body !== null && typeof body === 'object' ? (body.detail ?? body.message) : body;
      throw new Error(`${path}: ${why || response.statusText} (HTTP ${response.status})`);
    }
    return body;
  } finally {
    setBusy(-1);
  }
}

const postJson = (path, body) =>
  api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** A multipart POST; `fields` are [name, value] or [name, blob, filename]. */
function postForm(path, fields) {
  const form = new FormData();
  for (const [name, value, filename] of fields) {
    if (filename === undefined) form.append(name, value);
    else form.append(name, value, filename);
  }
  return api(path, { method: 'POST', body: form });
}

function showError(e) {
  setStatus(e instanceof Error ? e.message : String(e), true);
  updateControls();
}

/** Runs an event's work and shows its failure in the status line. */
const guarded = (work) => (event) => {
  Promise.resolve(work(event)).catch(showError);
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function remember(cache, key, value) {
  cache.set(key, value);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value);
  return value;
}

// ---------------------------------------------------------------- pixels

const hexRgb = (hex) => {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
};
const objectColour = (id) => OBJECT_COLOURS[(id - 1) % OBJECT_COLOURS.length];

/** PASCAL VOC colour of index `id`, as the tracked masks' palette (src/format/palette.ts). */
function vocRgb(id) {
  const rgb = [0, 0, 0];
  for (let j = 0, c = id; j < 8; j++, c >>= 3) {
    for (let k = 0; k < 3; k++) rgb[k] |= ((c >> k) & 1) << (7 - j);
  }
  return rgb;
}
const rgbKey = (r, g, b) => (r << 16) | (g << 8) | b;
/** An id's colour in the tracked masks (none for the background, 0). */
const TRACK_COLOURS = Array.from({ length: 256 }, (_, id) =>
  id === 0 ? undefined : hexRgb(objectColour(id)),
);
const vocIds = new Map(Array.from({ length: 256 }, (_, id) => [rgbKey(...vocRgb(id)), id]));

/** The RGBA pixels of a PNG or JPEG, exactly as stored (no colour management, no premultiplied alpha). */
async function pixelsOf(blob) {
  const bitmap = await createImageBitmap(blob, { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}

/**
 * A canvas of the image's size where `rgbAt(i)` gives a colour: filled half-transparent and opaque along its
 * edges, so a mask shows whatever the colours under it; transparent elsewhere. `rgbAt` returns one array per
 * colour (edges are where a neighbour's array differs).
 */
function paint(width, height, rgbAt) {
  const colours = Array.from({ length: width * height }, (_, i) => rgbAt(i));
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(width, height);
  for (let i = 0; i < colours.length; i++) {
    const rgb = colours[i];
    if (rgb === undefined) continue;
    const x = i % width;
    const edge =
      (x > 0 && colours[i - 1] !== rgb) ||
      (x < width - 1 && colours[i + 1] !== rgb) ||
      (i >= width && colours[i - width] !== rgb) ||
      (i + width < colours.length && colours[i + width] !== rgb);
    image.data.set(rgb, 4 * i);
    image.data[4 * i + 3] = edge ? 255 : FILL_ALPHA;
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

const base64Bytes = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** A Supervisely bitmap's `data`: base64 of a zlib-compressed PNG. */
async function bitmapPng(data) {
  const stream = new Blob([base64Bytes(data)]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Response(stream).blob();
}

async function loadImage(url) {
  const image = new Image();
  image.src = url;
  await image.decode();
  return image;
}

// ---------------------------------------------------------------- drawing

function draw() {
  const canvas = ui.view;
  if (state.base === null) {
    canvas.hidden = true;
    return;
  }
  canvas.hidden = false;
  // The image size, for whoever maps a point on the canvas to a pixel (the browser test).
  canvas.dataset.width = String(state.width);
  canvas.dataset.height = String(state.height);
  const box = canvas.parentElement.getBoundingClientRect();
  const fit = Math.min(box.width / state.width, box.height / state.height);
  const cssWidth = Math.max(1, Math.floor(state.width * fit));
  const cssHeight = Math.max(1, Math.floor(state.height * fit));
  canvas.style.width = `${cssWidth}px`;
  canvas.style.height = `${cssHeight}px`;
  // The backing store at screen resolution: dots and outlines stay sharp on a small image shown large.
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(cssWidth * dpr);
  canvas.height = Math.round(cssHeight * dpr);
  const scale = canvas.width / state.width;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  // Small images shown large keep their pixels visible, as the network sees them.
  ctx.imageSmoothingEnabled = scale < 3;
  ctx.drawImage(state.base, 0, 0, state.width, state.height);
  ctx.imageSmoothingEnabled = false;
  if (state.semantic !== null && ui.showSemantic.checked) {
    for (const c of state.semantic.classes) if (c.shown) ctx.drawImage(c.layer, 0, 0);
  }
  const onFirstFrame = state.kind === 'image' || state.frame === 0;
  if (state.trackLayer !== null) ctx.drawImage(state.trackLayer, 0, 0);
  else if (onFirstFrame) for (const o of state.objects) if (o.layer !== null) ctx.drawImage(o.layer, 0, 0);
  if (onFirstFrame) drawClicks(ctx, scale);
}

function drawClicks(ctx, scale) {
  for (const o of state.objects) {
    const selected = o === state.selected;
    for (const c of o.clicks) {
      ctx.beginPath();
      ctx.arc(c.x + 0.5, c.y + 0.5, (selected ? 6 : 4.5) / scale, 0, 2 * Math.PI);
      ctx.fillStyle = c.positive ? '#22c55e' : '#ef4444';
      ctx.fill();
      ctx.lineWidth = (selected ? 2 : 1.5) / scale;
      ctx.strokeStyle = '#ffffff';
      ctx.stroke();
    }
  }
}

// ---------------------------------------------------------------- opening a file

const VIDEO_NAME = /\.(mp4|m4v|mov|avi|mkv|webm|mpe?g|wmv|flv)$/i;

async function openFile(file) {
  const generation = ++state.generation;
  resetFile();
  ui.fileName.textContent = file.name;
  if (file.type.startsWith('video/') || VIDEO_NAME.test(file.name)) {
    setStatus(`Uploading ${file.name} and reading its frames…`);
    const video = await postForm('/videos', [['files', file, file.name]]);
    if (generation !== state.generation) return;
    Object.assign(state, { kind: 'video', video, width: video.width, height: video.height });
    ui.frame.max = String(video.frames - 1);
    await showFrame(0);
    setStatus(`${file.name}: ${video.frames} frames of ${video.width}×${video.height} at ${video.fps} fps`);
  } else {
    const url = URL.createObjectURL(file);
    const image = await loadImage(url)
      .catch(() => {
        throw new Error(`${file.name} is neither an image the browser reads nor a video`);
      })
      .finally(() => URL.revokeObjectURL(url));
    if (generation !== state.generation) return;
    Object.assign(state, {
      kind: 'image',
      file,
      base: image,
      width: image.naturalWidth,
      height: image.naturalHeight,
    });
    setStatus(`${file.name}: ${state.width}×${state.height}`);
  }
  updateControls();
  draw();
}

function resetFile() {
  stopTracking()?.catch(showError);
  frameCache.clear();
  Object.assign(state, noFile());
  clearTrack();
  ui.frame.value = '0';
  ui.legend.replaceChildren();
  renderObjects();
  updateControls();
  draw();
}

// ---------------------------------------------------------------- video frames

async function showFrame(index) {
  const video = state.video;
  const frame = Math.max(0, Math.min(video.frames - 1, index));
  const ticket = ++state.frameTicket;
  const [base, layer] = await Promise.all([frameImage(video.video_id, frame), trackedMask(frame)]);
  if (ticket !== state.frameTicket || video !== state.video) return;
  Object.assign(state, { base, frame, trackLayer: layer });
  ui.frame.value = String(frame);
  ui.frameLabel.textContent = `${frame} / ${video.frames - 1}`;
  draw();
}

function frameImage(videoId, frame) {
  const key = `${videoId}/${frame}`;
  const cached = frameCache.get(key);
  if (cached !== undefined) return cached;
  const loading = loadImage(`/videos/${videoId}/frames/${frame}.jpg`).catch((e) => {
    frameCache.delete(key);
    throw new Error(`frame ${frame} did not load: ${e.message}`);
  });
  return remember(frameCache, key, loading);
}

/** The tracked masks of a frame painted in the objects' colours; null before any tracking. */
function trackedMask(frame) {
  const track = state.track;
  if (track === null) return Promise.resolve(null);
  const key = `${track.uuid}/${frame}`;
  const cached = trackCache.get(key);
  if (cached !== undefined) return cached;
  const loading = (async () => {
    const response = await fetch(`/track_jobs/${track.uuid}/masks/${frame}.png`);
    if (!response.ok) throw new Error(`the mask of frame ${frame}: HTTP ${response.status}`);
    // The masks are VOC-palette PNGs: the browser hands back the palette's colours, read back as ids.
    const { data, width, height } = await pixelsOf(await response.blob());
    return paint(
      width,
      height,
      (i) => TRACK_COLOURS[vocIds.get(rgbKey(data[4 * i], data[4 * i + 1], data[4 * i + 2]))],
    );
  })().catch((e) => {
    trackCache.delete(key);
    throw e;
  });
  return remember(trackCache, key, loading);
}

// ---------------------------------------------------------------- clicks and objects

function newObject() {
  const o = { id: state.nextId++, clicks: [], mask: null, layer: null, area: 0, networkMs: null, ticket: 0 };
  state.objects.push(o);
  state.selected = o;
  objectsChanged();
  return o;
}

function removeObject(o) {
  o.ticket++;
  state.objects = state.objects.filter((x) => x !== o);
  if (state.selected === o) state.selected = state.objects.at(-1) ?? null;
  objectsChanged();
}

/** The objects of frame 0 changed: a tracking of the old ones no longer matches them. */
function objectsChanged() {
  if (state.track !== null) {
    clearTrack();
    if (state.kind === 'video') void showFrame(state.frame);
  }
  renderObjects();
  updateControls();
  draw();
}

function renderObjects() {
  ui.objects.replaceChildren(
    ...state.objects.map((o) => {
      const li = document.createElement('li');
      li.dataset.id = String(o.id);
      li.classList.toggle('selected', o === state.selected);
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = objectColour(o.id);
      const name = document.createElement('span');
      name.textContent = `Object ${o.id}`;
      const figures = document.createElement('small');
      figures.textContent = `${o.area} px · ${o.clicks.length} click${o.clicks.length === 1 ? '' : 's'}`;
      const remove = document.createElement('button');
      remove.textContent = '×';
      remove.title = `Remove object ${o.id}`;
      remove.addEventListener('click', (e) => {
        e.stopPropagation();
        removeObject(o);
      });
      li.append(swatch, name, figures, remove);
      li.addEventListener('click', () => {
        state.selected = o;
        objectsChanged();
      });
      return li;
    }),
  );
  // The selected object's figures from its last answer ('' until one has come: tests wait on data-area).
  const o = state.selected;
  const area = o === null || o.mask === null ? '' : String(o.area);
  ui.area.textContent = area || '–';
  ui.area.dataset.area = area;
  ui.networkMs.textContent = o === null || o.networkMs === null ? '–' : String(o.networkMs);
}

/** The image pixel under a pointer event. */
function pixelAt(event) {
  const r = ui.view.getBoundingClientRect();
  const x = Math.floor(((event.clientX - r.left) / r.width) * state.width);
  const y = Math.floor(((event.clientY - r.top) / r.height) * state.height);
  return { x: Math.max(0, Math.min(state.width - 1, x)), y: Math.max(0, Math.min(state.height - 1, y)) };
}

async function onCanvasPointer(event) {
  if (event.button !== 0 && event.button !== 2) return;
  if (state.models.clicks === null) throw new Error('no click model is served: clicks do nothing');
  if (state.tracking !== null) throw new Error('tracking is running: stop it before changing the objects');
  const { x, y } = pixelAt(event);
  const positive = event.button === 0 && !event.shiftKey && !ui.negative.checked;
  // Clicks go on frame 0, where tracking starts.
  if (state.kind === 'video' && state.frame !== 0) await showFrame(0);
  const o = state.selected ?? newObject();
  o.clicks.push({ x, y, positive });
  objectsChanged();
  await segment(o);
}

async function segment(o) {
  const ticket = ++o.ticket;
  const generation = state.generation;
  if (o.clicks.length === 0) {
    Object.assign(o, { mask: null, layer: null, area: 0, networkMs: null });
    objectsChanged();
    return;
  }
  const clicks = { clicks: o.clicks };
  const fields =
    state.kind === 'image'
      ? [
          ['files', state.file, state.file.name],
          ['state', JSON.stringify(clicks)],
        ]
      : [['state', JSON.stringify({ ...clicks, video_id: state.video.video_id, frame_index: 0 })]];
  const result = await postForm('/segment_clicks', fields);
  if (ticket !== o.ticket || generation !== state.generation) return;
  const { data, width, height } = await pixelsOf(new Blob([base64Bytes(result.mask_png)]));
  if (ticket !== o.ticket || generation !== state.generation) return;
  // The mask PNG's index 0 is transparent: the object is where alpha is set.
  const mask = new Uint8Array(width * height);
  for (let i = 0; i < mask.length; i++) mask[i] = data[4 * i + 3] > 0 ? 1 : 0;
  const rgb = hexRgb(objectColour(o.id));
  Object.assign(o, {
    mask,
    layer: paint(width, height, (i) => (mask[i] === 1 ? rgb : undefined)),
    area: result.area,
    networkMs: result.network_ms,
  });
  setStatus(
    `Object ${o.id}: ${result.area} px from ${o.clicks.length} click(s), network ${result.network_ms} ms`,
  );
  objectsChanged();
}

function undoClick() {
  const o = state.selected;
  if (o === null || o.clicks.length === 0) return undefined;
  o.clicks.pop();
  objectsChanged();
  return segment(o);
}

// ---------------------------------------------------------------- semantic model

async function loadClasses() {
  const meta = await postJson('/get_model_meta', {});
  return new Map(meta.classes.map((c) => [c.title, hexRgb(c.color)]));
}

async function runSemantic() {
  const generation = state.generation;
  setStatus('Running the semantic model…');
  const [colours, item] = await Promise.all([
    loadClasses(),
    postForm('/inference_image', [
      ['files', state.file, state.file.name],
      ['settings', JSON.stringify({ settings: {} })],
    ]),
  ]);
  const { width, height } = state;
  const byClass = new Map();
  for (const label of item.annotation.objects) {
    if (label.bitmap === undefined) continue;
    const { data, width: w, height: h } = await pixelsOf(await bitmapPng(label.bitmap.data));
    const [ox, oy] = label.bitmap.origin;
    let c = byClass.get(label.classTitle);
    if (c === undefined) {
      c = {
        title: label.classTitle,
        rgb: colours.get(label.classTitle) ?? [255, 255, 0],
        mask: null,
        area: 0,
      };
      c.mask = new Uint8Array(width * height);
      byClass.set(label.classTitle, c);
    }
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (data[4 * (y * w + x) + 3] === 0 || ox + x >= width || oy + y >= height) continue;
        c.mask[(oy + y) * width + ox + x] = 1;
        c.area++;
      }
    }
  }
  if (generation !== state.generation) return;
  const classes = [...byClass.values()].map((c) => ({
    ...c,
    // A background class would only darken the image: it starts hidden (the legend shows it).
    shown: !BACKGROUND.test(c.title),
    layer: paint(width, height, (i) => (c.mask[i] === 1 ? c.rgb : undefined)),
  }));
  state.semantic = { classes };
  renderLegend(colours);
  ui.showSemantic.checked = true;
  setStatus(`Semantic model: ${classes.map((c) => `${c.title} ${c.area} px`).join(', ') || 'nothing found'}`);
  draw();
}

/** Every class of the model; the ones found on the image toggle their layer when clicked. */
function renderLegend(colours) {
  const found = new Map((state.semantic?.classes ?? []).map((c) => [c.title, c]));
  ui.legend.replaceChildren(
    ...[...colours].map(([title, rgb]) => {
      const li = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = `rgb(${rgb.join(' ')})`;
      const name = document.createElement('span');
      name.textContent = title;
      const area = document.createElement('small');
      const c = found.get(title);
      area.textContent = c === undefined ? 'not found' : `${c.area} px`;
      li.append(swatch, name, area);
      li.classList.toggle('off', c === undefined || !c.shown);
      if (c !== undefined) {
        li.title = 'Show or hide this class';
        li.addEventListener('click', () => {
          c.shown = !c.shown;
          li.classList.toggle('off', !c.shown);
          draw();
        });
      }
      return li;
    }),
  );
}

// ---------------------------------------------------------------- tracking

/** Frame 0's index mask as a PNG: R = G = B = object id (the server reads such an RGBA PNG by its first channel). */
async function indexMaskPng(objects) {
  const { width, height } = state;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(width, height);
  image.data.fill(255);
  for (let i = 0; i < width * height; i++) {
    // Later objects lie over earlier ones where masks overlap.
    let id = 0;
    for (const o of objects) if (o.mask[i] === 1) id = o.id;
    image.data.fill(id, 4 * i, 4 * i + 3);
  }
  ctx.putImageData(image, 0, 0);
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob === null ? reject(new Error('the mask PNG was not made')) : resolve(blob))),
  );
}

function setProgress(current, total, text) {
  ui.progress.max = total;
  ui.progress.value = current;
  ui.progressLabel.textContent = text;
}

async function track() {
  const objects = state.objects.filter((o) => o.mask !== null && o.area > 0);
  if (objects.length === 0) throw new Error('click the objects to track on frame 0 first');
  if (objects.some((o) => o.id > 255)) throw new Error('at most 255 objects can be tracked');
  const video = state.video;
  clearTrack();
  setProgress(0, video.frames, 'Starting…');
  const png = await indexMaskPng(objects);
  const started = await postForm('/track_masks_async', [
    ['mask', png, 'mask.png'],
    ['state', JSON.stringify({ video_id: video.video_id })],
  ]);
  const uuid = started.inference_request_uuid;
  state.tracking = uuid;
  updateControls();
  setStatus(`Tracking ${objects.length} object(s) through ${video.frames} frames…`);
  const body = { state: { inference_request_uuid: uuid } };
  try {
    for (;;) {
      await sleep(POLL_MS);
      if (state.tracking !== uuid) return;
      const p = await postJson('/get_inference_progress', body);
      if (p.exception !== null && p.exception !== undefined) {
        throw new Error(`tracking failed: ${p.exception.message}`);
      }
      if (p.finished) {
        if (p.stage !== 'Finished') {
          setProgress(ui.progress.value, ui.progress.max, p.stage);
          setStatus(`Tracking stopped (${p.stage})`);
          return;
        }
        break;
      }
      const { current, total } = p.progress;
      if (p.is_inferring) setProgress(current, total, `${current} / ${total} frames`);
    }
    const result = await postJson('/get_inference_result', body);
    if (state.video !== video) return;
    state.track = { uuid, result };
    setProgress(result.frames, result.frames, `${result.frames} / ${result.frames} frames`);
    ui.masksZip.href = result.masks_zip;
    ui.overlayVideo.href = result.overlay_video;
    ui.downloads.hidden = false;
    setStatus(
      `Tracked ${result.objects.length} object(s) through ${result.frames} frames: scrub to see them`,
    );
    await showFrame(state.frame);
  } finally {
    if (state.tracking === uuid) state.tracking = null;
    updateControls();
  }
}

function stopTracking() {
  const uuid = state.tracking;
  if (uuid === null) return undefined;
  state.tracking = null;
  setStatus('Stopping the tracking…');
  updateControls();
  return postJson('/stop_inference', { state: { inference_request_uuid: uuid } }).then(() => {
    setProgress(ui.progress.value, ui.progress.max, 'Stopped');
    setStatus('Tracking stopped');
  });
}

function clearTrack() {
  state.track = null;
  state.trackLayer = null;
  trackCache.clear();
  ui.downloads.hidden = true;
  setProgress(0, 1, '');
}

// ---------------------------------------------------------------- controls

function updateControls() {
  const { models, kind } = state;
  const tracking = state.tracking !== null;
  const clicks = models.clicks !== null && kind !== null;
  ui.newObject.disabled = !clicks || tracking;
  ui.undo.disabled = !clicks || tracking || state.selected === null || state.selected.clicks.length === 0;
  ui.runSemantic.disabled = models.semantic === null || kind !== 'image';
  ui.runSemantic.title =
    models.semantic === null ? 'No semantic model is served' : 'Segment the image into the model’s classes';
  ui.track.disabled =
    models.tracker === null || kind !== 'video' || tracking || !state.objects.some((o) => o.area > 0);
  ui.stop.hidden = !tracking;
  ui.scrub.hidden = kind !== 'video';
  ui.hint.hidden = !clicks || state.objects.some((o) => o.clicks.length > 0);
  $('click-panel').hidden = models.clicks === null;
  $('semantic-panel').hidden = models.semantic === null || kind === 'video';
  $('track-panel').hidden = models.tracker === null || kind === 'image';
}

async function loadModels() {
  state.models = await api('/api/models');
  ui.models.textContent = ['semantic', 'clicks', 'tracker']
    .map((name) => `${name}: ${state.models[name]?.checkpoint ?? '—'}`)
    .join(' · ');
  updateControls();
}

ui.file.addEventListener(
  'change',
  guarded(() => (ui.file.files.length === 0 ? undefined : openFile(ui.file.files[0]))),
);
ui.view.addEventListener('pointerdown', guarded(onCanvasPointer));
ui.view.addEventListener('contextmenu', (e) => e.preventDefault());
ui.newObject.addEventListener('click', () => newObject());
ui.undo.addEventListener('click', guarded(undoClick));
ui.runSemantic.addEventListener('click', guarded(runSemantic));
ui.showSemantic.addEventListener('change', draw);
ui.track.addEventListener('click', guarded(track));
ui.stop.addEventListener('click', guarded(stopTracking));
ui.frame.addEventListener(
  'input',
  guarded(() => showFrame(Number(ui.frame.value))),
);
ui.prevFrame.addEventListener(
  'click',
  guarded(() => showFrame(state.frame - 1)),
);
ui.nextFrame.addEventListener(
  'click',
  guarded(() => showFrame(state.frame + 1)),
);
document.addEventListener(
  'keydown',
  guarded((e) => {
    if (e.target instanceof HTMLInputElement && e.target.type !== 'checkbox') return undefined;
    if (e.key === 'n' && !ui.newObject.disabled) newObject();
    else if (e.key === 'z' && (e.ctrlKey || e.metaKey) && !ui.undo.disabled) return undoClick();
    else if (state.kind === 'video' && e.key === 'ArrowLeft') return showFrame(state.frame - 1);
    else if (state.kind === 'video' && e.key === 'ArrowRight') return showFrame(state.frame + 1);
    return undefined;
  }),
);
new ResizeObserver(() => draw()).observe(ui.view.parentElement);
guarded(loadModels)();
