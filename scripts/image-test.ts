/**
 * `npm run image:test`: builds the plugin image (the cpu variant) and runs it as the Supervisely agent does
 * (spec H.1): a training task, an inference task with the checkpoint it wrote, `sly-nn` commands, a training
 * stopped by `podman stop`, and the model server over HTTP. Output is checked as the contract tests check it
 * (scripts/image/checks.ts). Prints the image size with what takes the space, the build time and the task run
 * times, and as its last line one JSON object of those figures.
 *
 * Base images: the Dockerfile's pinned public ones when they can be pulled; otherwise local ones it makes
 * (scripts/image/bases.ts: debootstrap + Node from npm). IMAGE_TEST_ROUTE=public|offline forces one.
 * Needs podman and runc (and debootstrap, root, for the offline route): without them it prints SKIP and exits 0,
 * or exits 1 when IMAGE_TEST_REQUIRED=1 (CI sets it once it has installed them). It removes its containers,
 * its image and the build's intermediate images at the end; the local base images stay for the next run.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseDockerfile } from '../test/packaging/dockerfile';
import { makeTask } from '../test/helpers/task-folder';
import { localBases } from './image/bases';
import { check, checkInference, checkServedAnnotation, checkStopped, checkTraining } from './image/checks';
import { onPath, Podman, type Run } from './image/podman';

const ROOT = path.resolve(__dirname, '..', '..');
/** Docker's and the agent's wait between SIGTERM and SIGKILL (`docker stop`'s default). */
const GRACE_S = 10;
const TASK_TIMEOUT_MS = 10 * 60_000;
const PROJECT = 'shapes';
const TRAIN_CONFIG = {
  input_size: { width: 64, height: 64 },
  batch_size: { train: 4, val: 8 },
  epochs: 2,
  val_every: 1,
  lr: 0.01,
  custom_model_config: { depth: 2, base_filters: 8, max_filters: 16 },
};
const INFER_CONFIG = {
  model: { gpu_device: 0, batch_size: 4 },
  mode: { name: 'full_image', model_classes: { save_classes: '__all__', add_suffix: '_unet' } },
};

interface Figures {
  route: 'public' | 'offline';
  backend?: string;
  baseImagesMadeS: number;
  buildS?: number;
  imageMB?: number;
  space?: Record<string, number>;
  trainS?: number;
  inferenceS?: number;
  stopS?: number;
  serveReadyS?: number;
}

function log(text: string): void {
  console.log(`image-test: ${text}`);
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}

/** Why this machine cannot run the test, or undefined when it can. */
function missingTools(route: string | undefined): string | undefined {
  const tools = ['podman', 'runc', ...(route === 'public' ? [] : ['debootstrap', 'tar'])];
  const missing = tools.filter((t) => !onPath(t));
  if (missing.length > 0)
    return `${missing.join(', ')} not installed (apt-get install -y podman runc debootstrap)`;
  if (route !== 'public' && process.getuid?.() !== 0)
    return 'the offline route runs debootstrap and podman as root';
  return undefined;
}

/** The agent's `docker run` for a task (spec H.1), as podman arguments after `run --name NAME`. */
function agentRun(image: string, taskDir: string, entry: 'train' | 'inference', taskId: string): string[] {
  return [
    '--network',
    'none',
    '--shm-size',
    '5g',
    '--label',
    'ecosystem=supervisely',
    '--label',
    `task_id=${taskId}`,
    ...['LOG_LEVEL=DEBUG', 'LANG=C.UTF-8', 'PYTHONUNBUFFERED=1', 'PIP_ROOT_USER_ACTION=ignore'].flatMap(
      (e) => ['--env', e],
    ),
    '--volume',
    `${taskDir}:/sly_task_data`,
    '--entrypoint',
    JSON.stringify(['sh', '-c', `python -u /workdir/src/${entry}.py`]),
    image,
  ];
}

/** Which route: the public bases when both pull, else the local ones. */
async function chooseRoute(podman: Podman, publicBases: string[]): Promise<'public' | 'offline'> {
  const forced = process.env.IMAGE_TEST_ROUTE;
  if (forced === 'public' || forced === 'offline') return forced;
  if (forced !== undefined && forced !== '') {
    throw new Error(`IMAGE_TEST_ROUTE must be "public" or "offline", got "${forced}"`);
  }
  for (const ref of publicBases) {
    const pulled = await podman.run(['pull', '--quiet', ref], { timeoutMs: 20 * 60_000 });
    if (pulled.status !== 0) {
      log(`cannot pull ${ref} (${pulled.stderr.trim().split('\n').pop() ?? ''}): offline route`);
      return 'offline';
    }
  }
  return 'public';
}

/** The host's CA bundle, for npm inside the build behind a TLS-intercepting proxy; undefined when there is none. */
function hostCaBundle(): string | undefined {
  const candidates = [process.env.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt'];
  return candidates.find((f) => f !== undefined && f !== '' && fs.existsSync(f));
}

/** Sizes in MB of the image's big folders and of what node_modules holds, as `du` in the image sees them. */
async function spaceTable(podman: Podman, image: string, name: string): Promise<Record<string, number>> {
  // One du per folder: given several, du skips a folder inside one it has counted already.
  const folders =
    '/ /usr/lib/*-linux-gnu /usr/share /usr/local/bin/node /usr/lib/python3* /usr/bin /var /etc ' +
    '/workdir/node_modules /workdir/dist /workdir/web';
  const script =
    `for d in ${folders}; do du -xsm "$d"; done; ` +
    'du -sm /workdir/node_modules/* /workdir/node_modules/@*/* | sort -rn | head -8';
  const r = await podman.container(
    name,
    ['--network', 'none', '--entrypoint', 'sh', image, '-c', script],
    120_000,
  );
  await podman.remove(name);
  const table: Record<string, number> = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^(\d+)\s+(\S+)$/.exec(line.trim());
    if (m !== null) table[m[2] as string] = Number(m[1]);
  }
  return table;
}

/** Runs a training task and `podman stop`s it at its first train metrics line; the stop's duration in ms. */
async function trainAndStop(
  podman: Podman,
  name: string,
  args: string[],
): Promise<{ run: Run; stopMs: number }> {
  const started = Date.now();
  const child = podman.start(name, args);
  let stdout = '';
  let stderr = '';
  let stopMs = -1;
  let stopping: Promise<void> | undefined;
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (
      stopping === undefined &&
      /"message":"metrics".*"type":"train"|"type":"train".*"message":"metrics"/.test(stdout)
    ) {
      const sent = Date.now();
      stopping = podman.ok(['stop', '--time', String(GRACE_S), name]).then(() => {
        stopMs = Date.now() - sent;
      });
    }
  });
  const timer = setTimeout(() => void podman.remove(name), TASK_TIMEOUT_MS);
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  check(
    stopping !== undefined,
    name,
    `ended (${status}) before its first train metrics line`,
    stdout + stderr,
  );
  await stopping;
  return { run: { status, stdout, stderr, ms: Date.now() - started }, stopMs };
}

/** `sly-nn serve` in the image, its port published on 127.0.0.1: health, then one image over HTTP. */
async function serve(
  podman: Podman,
  image: string,
  name: string,
  checkpoint: string,
  png: string,
): Promise<number> {
  await podman.ok([
    'run',
    '--detach',
    '--name',
    name,
    '--publish',
    '127.0.0.1::8000',
    '--volume',
    `${checkpoint}:/models/semantic:ro`,
    image,
    'sly-nn',
    'serve',
    '--checkpoint',
    '/models/semantic',
    '--port',
    '8000',
  ]);
  const port = (await podman.ok(['port', name, '8000'])).stdout.trim().split(':').pop();
  const base = `http://127.0.0.1:${port}`;
  const started = Date.now();
  for (;;) {
    const ready = await fetch(`${base}/is_ready`).then(
      async (r) => (r.status === 200 ? ((await r.json()) as { status?: string }).status : undefined),
      () => undefined,
    );
    if (ready === 'ready') break;
    if (Date.now() - started > 120_000) {
      const logs = await podman.run(['logs', name]);
      check(false, 'serve', `not ready at ${base}/is_ready after 120 s`, logs.stdout + logs.stderr);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const readyMs = Date.now() - started;
  const form = new FormData();
  const bytes = fs.readFileSync(png);
  form.append('files', new Blob([bytes], { type: 'image/png' }), path.basename(png));
  form.append('settings', JSON.stringify({ settings: {} }));
  const r = await fetch(`${base}/inference_image`, { method: 'POST', body: form });
  const body = await r.text();
  check(r.status === 200, 'serve', `POST /inference_image: ${r.status} ${body.slice(0, 500)}`);
  const size = pngSize(bytes);
  const objects = checkServedAnnotation(JSON.parse(body), size.width, size.height);
  log(
    `serve: ready in ${seconds(readyMs)} s; POST /inference_image gave ${objects} labels covering the image`,
  );
  const stopped = await podman.run(['stop', '--time', String(GRACE_S), name]);
  check(stopped.status === 0, 'serve', `podman stop: ${stopped.stderr}`);
  await podman.remove(name);
  return readyMs;
}

function pngSize(png: Buffer): { width: number; height: number } {
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** The first image of a generated project's first dataset. */
function firstImage(taskDir: string): string {
  const project = path.join(taskDir, 'data', PROJECT);
  const dataset = fs
    .readdirSync(project)
    .find((d) => fs.statSync(path.join(project, d)).isDirectory()) as string;
  const img = path.join(project, dataset, 'img');
  return path.join(img, fs.readdirSync(img).sort()[0] as string);
}

async function main(): Promise<number> {
  const routeWanted = process.env.IMAGE_TEST_ROUTE;
  const missing = missingTools(routeWanted);
  if (missing !== undefined) {
    const required = process.env.IMAGE_TEST_REQUIRED === '1';
    console.error(
      `\n*** image-test ${required ? 'FAILED' : 'SKIPPED'}: ${missing}. The image was not built or run. ***\n`,
    );
    return required ? 1 : 0;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sly-image-test-'));
  const podman = new Podman(work);
  const id = createHash('sha256').update(`${process.pid} ${Date.now()}`).digest('hex').slice(0, 8);
  const image = `localhost/sly-image-test/plugin:cpu-${id}`;
  const figures: Figures = { route: 'offline', baseImagesMadeS: 0 };
  // Images present before the build: of those after it, the untagged ones are the build's intermediate images.
  let before: Set<string> | undefined;
  const cleanUp = async (): Promise<void> => {
    await podman.removeAll();
    if (before !== undefined) await podman.removeImagesSince(before, image);
    fs.rmSync(work, { recursive: true, force: true });
  };
  const onSignal = (): void => void cleanUp().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const dockerfile = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
    const publicBases = ['CUDA_IMAGE', 'NODE_IMAGE'].map(
      (a) => `docker.io/${dockerfile.globalArgs[a] ?? ''}`,
    );
    figures.route = await chooseRoute(podman, publicBases);
    const buildArgs = ['--build-arg', 'VARIANT=cpu', '--build-arg', 'BACKEND=best'];
    if (figures.route === 'offline') {
      const bases = await localBases(podman, work);
      figures.baseImagesMadeS = seconds(bases.made.reduce((s, m) => s + m.ms, 0));
      for (const m of bases.made) log(`made ${m.image} in ${seconds(m.ms)} s`);
      log(`base images: ${bases.debian} (CUDA_IMAGE), ${bases.node} (NODE_IMAGE); kept for the next run`);
      buildArgs.push('--build-arg', `CUDA_IMAGE=${bases.debian}`, '--build-arg', `NODE_IMAGE=${bases.node}`);
    } else {
      buildArgs.push(
        ...publicBases.flatMap((b, i) => ['--build-arg', `${['CUDA_IMAGE', 'NODE_IMAGE'][i]}=${b}`]),
      );
    }
    const ca = hostCaBundle();
    if (ca !== undefined) {
      // Mounted into every RUN of the build (not a layer), and named to node through the Dockerfile's ARG.
      buildArgs.push(
        '--volume',
        `${ca}:/run/host-ca.pem:ro`,
        '--build-arg',
        'NODE_EXTRA_CA_CERTS=/run/host-ca.pem',
      );
    }
    log(`building ${image} (route: ${figures.route}) ...`);
    const buildLog = path.join(work, 'build.log');
    before = await podman.imageIds();
    // With --layers=false, podman 4.3 deletes a stage's base image when the stage has no instruction of its
    // own (our node stage): it would delete NODE_IMAGE. So layers, no cache, and the layers removed at the end.
    const build = await podman.run([
      'build',
      '--no-cache',
      '--pull=missing',
      ...buildArgs,
      '--tag',
      image,
      ROOT,
    ]);
    fs.writeFileSync(buildLog, build.stdout + build.stderr);
    check(build.status === 0, 'build', `podman build exited ${build.status}`, build.stdout + build.stderr);
    figures.buildS = seconds(build.ms);
    const backendLines = (build.stdout + build.stderr)
      .split('\n')
      .filter((l) => l.startsWith('tfjs backend: '));
    check(backendLines.length === 2, 'build', 'check-runtime did not print its backend in both stages');
    figures.backend = /^tfjs backend: (\S+)/.exec(backendLines[1] as string)?.[1];
    log(`built in ${figures.buildS} s; the image will use ${backendLines[1]}`);

    const size = await podman.ok(['image', 'inspect', '--format', '{{.Size}}', image]);
    figures.imageMB = Math.round(Number(size.stdout.trim()) / 1e6);
    figures.space = await spaceTable(podman, image, `sly-image-test-du-${id}`);
    log(`image size ${figures.imageMB} MB; MB by folder:`);
    for (const [dir, mb] of Object.entries(figures.space)) console.log(`  ${String(mb).padStart(5)}  ${dir}`);

    const project = { projectName: PROJECT, width: 64, height: 64, folds: { val: 0.25 }, seed: 7 };
    const trainDir = await makeTask(
      { project: { ...project, datasets: [{ name: 'ds1', count: 24 }] }, config: TRAIN_CONFIG },
      work,
    );
    const trainName = `sly_task_${id}_train`;
    const train = await podman.container(trainName, agentRun(image, trainDir, 'train', id), TASK_TIMEOUT_MS);
    await podman.remove(trainName);
    const trained = checkTraining('train', train, trainDir);
    figures.trainS = seconds(train.ms);
    log(
      `train: ${figures.trainS} s, backend ${String(trained.backend)}, engine ${String(trained.engine)}, last checkpoint ${trained.lastCheckpoint}`,
    );

    const checkpoint = path.join(trainDir, 'results', trained.lastCheckpoint);
    const inferDir = await makeTask(
      {
        project: {
          ...project,
          seed: 8,
          datasets: [
            { name: 'a', count: 4 },
            { name: 'b', count: 4 },
          ],
        },
        config: INFER_CONFIG,
        modelFrom: checkpoint,
      },
      work,
    );
    const inferName = `sly_task_${id}_inference`;
    const infer = await podman.container(
      inferName,
      agentRun(image, inferDir, 'inference', id),
      TASK_TIMEOUT_MS,
    );
    await podman.remove(inferName);
    const items = checkInference('inference', infer, inferDir, PROJECT);
    figures.inferenceS = seconds(infer.ms);
    log(`inference: ${figures.inferenceS} s, ${items} items written with their predictions`);

    // sly-nn: the checkpoint's golden batch on both engines, and the runtime check as a user would run it.
    const cliName = `sly-image-test-cli-${id}`;
    const cli = await podman.container(
      cliName,
      ['--network', 'none', '--volume', `${checkpoint}:/ckpt:ro`, image, 'sly-nn', 'selftest', '/ckpt'],
      TASK_TIMEOUT_MS,
    );
    await podman.remove(cliName);
    const selftest = cli.stdout.trim().split('\n');
    check(
      cli.status === 0 && selftest[selftest.length - 1] === 'PASS',
      'sly-nn selftest',
      'did not PASS',
      cli.stdout + cli.stderr,
    );
    log(
      `sly-nn selftest: ${selftest
        .slice(1)
        .map((l) => l.trim())
        .join('; ')}`,
    );
    // ffmpeg (videos for tracking) writes and reads a clip: its libraries are all there after the image's slimming.
    const ffName = `sly-image-test-ffmpeg-${id}`;
    const ff = await podman.container(
      ffName,
      [
        '--network',
        'none',
        '--entrypoint',
        'sh',
        image,
        '-c',
        'ffmpeg -v error -f lavfi -i testsrc=size=64x48:rate=5 -t 1 -pix_fmt yuv420p /tmp/c.mp4 && ' +
          'ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 /tmp/c.mp4',
      ],
      120_000,
    );
    await podman.remove(ffName);
    check(
      ff.status === 0 && ff.stdout.trim() === '5',
      'ffmpeg',
      `wrote and read ${ff.stdout.trim()} frames, expected 5`,
      ff.stderr,
    );
    log('ffmpeg: wrote a 5-frame mp4 and ffprobe counted 5 frames');

    const stopDir = await makeTask(
      {
        project: { ...project, datasets: [{ name: 'ds1', count: 40 }] },
        config: { ...TRAIN_CONFIG, epochs: 200, val_every: 200 },
      },
      work,
    );
    const stopName = `sly_task_${id}_stop`;
    const stopped = await trainAndStop(podman, stopName, agentRun(image, stopDir, 'train', id));
    await podman.remove(stopName);
    checkStopped('stop', stopped.run, stopDir, stopped.stopMs, GRACE_S);
    figures.stopS = seconds(stopped.stopMs);
    log(`stop: podman stop took ${figures.stopS} s, exit 143, the interrupted checkpoint announced`);

    figures.serveReadyS = seconds(
      await serve(podman, image, `sly-image-test-serve-${id}`, checkpoint, firstImage(inferDir)),
    );
    log('PASS');
    console.log(JSON.stringify(figures));
    return 0;
  } catch (e) {
    console.error(`image-test: FAILED: ${e instanceof Error ? e.message : String(e)}`);
    console.log(JSON.stringify(figures));
    return 1;
  } finally {
    await cleanUp();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

void main().then((code) => {
  process.exitCode = code;
});
