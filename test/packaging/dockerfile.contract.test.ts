/**
 * What can be checked of the image without Docker: base images pinned, every COPY from the context present and
 * not ignored, the build stage's steps in order (and as README documents them), the native-load check really
 * failing, the cpu variant's package switch, and the runtime stage's environment for the agent (spec H.1).
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Dockerfile, ShellCommand, Stage } from './dockerfile';
import {
  copySpecs,
  parseDockerfile,
  resolveFrom,
  runCommands,
  shellWords,
  stageEnv,
  stageNamed,
  workdirAt,
} from './dockerfile';
import { isExcluded, parseDockerignore } from './dockerignore';
import { documentedBuildCommands } from './readme';
import { builtFile } from '../contract/built';

const ROOT = path.resolve(__dirname, '../..');
const dockerfile = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const ignore = parseDockerignore(fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8'));
const packageJson = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  optionalDependencies: Record<string, string>;
};
const VARIANTS = ['gpu', 'cpu'] as const;
const PINNED = /^[^\s@]+@sha256:[0-9a-f]{64}$/;

/** The stages a build of `variant` goes through to its last stage, following FROM and COPY --from. */
function stagesUsed(df: Dockerfile, variant: string): Stage[] {
  const used = new Set<number>();
  const visit = (stage: Stage): void => {
    if (used.has(stage.index)) return;
    used.add(stage.index);
    const base = stageNamed(df, resolveFrom(df, stage, { VARIANT: variant }), stage.index);
    if (base !== undefined) visit(base);
    for (const copy of copySpecs(stage)) {
      const source = copy.from === undefined ? undefined : stageNamed(df, copy.from, stage.index);
      if (source !== undefined) visit(source);
    }
  };
  visit(df.stages[df.stages.length - 1] as Stage);
  return df.stages.filter((s) => used.has(s.index));
}

const runtime = dockerfile.stages[dockerfile.stages.length - 1] as Stage;

/** The stage the runtime copies node_modules from: the build stage. */
function buildStage(): Stage {
  const copy = copySpecs(runtime).find((c) => c.sources.some((s) => s.endsWith('/node_modules')));
  const stage = copy?.from === undefined ? undefined : stageNamed(dockerfile, copy.from, runtime.index);
  if (stage === undefined) throw new Error('the runtime stage copies node_modules from no earlier stage');
  return stage;
}

/** A stage's commands that always run (not inside if ... fi). */
function plainCommands(stage: Stage): ShellCommand[] {
  return runCommands(stage).filter((c) => !c.conditional);
}

/** The env a stage sees: its own ENV over those of the stages it is built FROM. */
function inheritedEnv(stage: Stage, variant: string): Record<string, string> {
  const base = stageNamed(dockerfile, resolveFrom(dockerfile, stage, { VARIANT: variant }), stage.index);
  return { ...(base === undefined ? {} : inheritedEnv(base, variant)), ...stageEnv(stage) };
}

describe('base images (spec H.1)', () => {
  it.each(VARIANTS)(
    'every stage of the %s build starts from a digest-pinned image or an earlier stage',
    (v) => {
      const used = stagesUsed(dockerfile, v);
      expect(used.length).toBeGreaterThanOrEqual(3);
      for (const stage of used) {
        const from = resolveFrom(dockerfile, stage, { VARIANT: v });
        if (stageNamed(dockerfile, from, stage.index) === undefined) expect(from).toMatch(PINNED);
        for (const copy of copySpecs(stage)) {
          if (copy.from !== undefined && stageNamed(dockerfile, copy.from, stage.index) === undefined) {
            expect(copy.from).toMatch(PINNED);
          }
        }
      }
    },
  );

  it('the CUDA base is 11.8 with cuDNN 8 on Ubuntu 22.04, the Node one is Node 20, both build ARGs', () => {
    const { CUDA_IMAGE, NODE_IMAGE } = dockerfile.globalArgs;
    expect(CUDA_IMAGE).toMatch(/^nvidia\/cuda:11\.8\.0-cudnn8-runtime-ubuntu22\.04@sha256:[0-9a-f]{64}$/);
    expect(NODE_IMAGE).toMatch(/^node:20-bookworm-slim@sha256:[0-9a-f]{64}$/);
    // The build and runtime stages share the CUDA base (same glibc for the native addons).
    const roots = VARIANTS.flatMap((v) =>
      [buildStage(), runtime].map((s) => {
        let stage = s;
        for (;;) {
          const from = resolveFrom(dockerfile, stage, { VARIANT: v });
          const base = stageNamed(dockerfile, from, stage.index);
          if (base === undefined) return from;
          stage = base;
        }
      }),
    );
    expect(new Set(roots)).toEqual(new Set([CUDA_IMAGE]));
  });

  it('pulls no unpinned BuildKit frontend (a "# syntax=" directive must be pinned too)', () => {
    const text = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const directive = /^#\s*syntax\s*=\s*(\S+)/im.exec(text.split(/\n(?!#)/)[0] as string);
    if (directive !== null) expect(directive[1]).toMatch(PINNED);
  });

  it('a VARIANT other than gpu or cpu names no stage, so the build fails', () => {
    const stage = buildStage();
    expect(stageNamed(dockerfile, resolveFrom(dockerfile, stage, { VARIANT: 'tpu' }), stage.index)).toBe(
      undefined,
    );
  });
});

describe('the build context (.dockerignore)', () => {
  const tracked = new Set(
    execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean),
  );
  const contextCopies = dockerfile.stages.flatMap((stage) =>
    copySpecs(stage)
      .filter((c) => c.from === undefined)
      .flatMap((c) => c.sources.map((source) => ({ source, line: c.line }))),
  );

  it('keeps node_modules, dist and .git out', () => {
    for (const p of ['node_modules/x/index.js', 'dist/src/train.js', '.git/HEAD', 'plugin/node_modules/a']) {
      expect(isExcluded(p, ignore)).toBe(true);
    }
  });

  it('every path COPYed from the context exists, is tracked by git and is not ignored', () => {
    expect(contextCopies.length).toBeGreaterThan(0);
    for (const { source, line } of contextCopies) {
      const where = `Dockerfile line ${line}: ${source}`;
      expect([where, /[*?[]/.test(source)]).toEqual([where, false]);
      expect([where, fs.existsSync(path.join(ROOT, source))]).toEqual([where, true]);
      expect([where, isExcluded(source, ignore)]).toEqual([where, false]);
      const inGit = tracked.has(source) || [...tracked].some((f) => f.startsWith(`${source}/`));
      expect([where, 'tracked by git', inGit]).toEqual([where, 'tracked by git', true]);
    }
  });

  it('the context COPYs everything tsconfig.build.json compiles, apart from benchmarks and the image test', () => {
    const build = JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as {
      include: string[];
    };
    const copied = contextCopies.map((c) => c.source);
    for (const dir of build.include.filter((d) => d !== 'bench' && d !== 'scripts'))
      expect(copied).toContain(dir);
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', '.npmrc']));
  });
});

describe('the build stage', () => {
  const stage = buildStage();
  const commands = plainCommands(stage).map((c) => c.text);
  const indexOf = (pattern: RegExp): number => commands.findIndex((c) => pattern.test(c));

  it('installs everything, compiles, installs production dependencies only, then checks the native modules', () => {
    const fullInstall = indexOf(/^npm ci(?!.*--omit=dev)/);
    const compile = indexOf(/^npm run build$/);
    const production = indexOf(/^npm ci .*--omit=dev/);
    const check = indexOf(/^node dist\/src\/cli\/main\.js check-runtime /);
    expect(fullInstall).toBeGreaterThanOrEqual(0);
    expect([fullInstall < compile, compile < production, production < check]).toEqual([true, true, true]);
    // npm ci after the production install would bring dev dependencies back.
    expect(commands.slice(production + 1).some((c) => /^npm (ci|install|i)\b/.test(c))).toBe(false);
  });

  it('never omits optional dependencies (sharp and the native tfjs package are optional)', () => {
    const all = dockerfile.stages.flatMap((s) => runCommands(s)).map((c) => c.text);
    expect(all.filter((c) => c.includes('--omit=optional') || c.includes('--no-optional'))).toEqual([]);
  });

  it('has the compiler tools node-gyp needs and node headers for an offline addon build', () => {
    const apt = commands.find((c) => c.startsWith('apt-get install')) ?? '';
    expect(shellWords(apt)).toEqual(expect.arrayContaining(['python3', 'make', 'g++']));
    const env = inheritedEnv(stage, 'gpu');
    const headers = copySpecs(stage).find((c) => c.destination === env.npm_config_nodedir + '/include/node');
    expect(headers?.from).toBe('node');
  });

  it.each(VARIANTS)('the %s variant sets TFJS_NODE_PACKAGE to its native package', (v) => {
    const expected = v === 'gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
    expect(inheritedEnv(stage, v).TFJS_NODE_PACKAGE).toBe(expected);
    expect(inheritedEnv(runtime, v).TFJS_NODE_PACKAGE).toBe(expected);
  });

  it('package.json declares the gpu package as an optional dependency', () => {
    expect(Object.keys(packageJson.optionalDependencies)).toContain('@tensorflow/tfjs-node-gpu');
  });
});

describe('the runtime check (sly-nn check-runtime) fails the build unless the backend BACKEND asks for runs', () => {
  const CHECK = /^(node dist\/src\/cli\/main\.js|sly-nn) check-runtime --backend "\$BACKEND"$/;
  const check = plainCommands(buildStage()).find((c) => CHECK.test(c.text));
  let dir: string;

  /**
   * The build stage's check run on the checkout's build and node_modules (no native tfjs package installed
   * here), with `fake` standing for @tensorflow/tfjs-node when given: found through NODE_PATH, as an installed
   * package would be found in node_modules.
   */
  function runCheck(backend: string, fake?: string): { status: number | null; out: string } {
    builtFile('src/cli/commands/check-runtime.ts');
    fs.rmSync(path.join(dir, '@tensorflow'), { recursive: true, force: true });
    if (fake !== undefined) {
      fs.mkdirSync(path.join(dir, '@tensorflow', 'tfjs-node'), { recursive: true });
      fs.writeFileSync(path.join(dir, '@tensorflow', 'tfjs-node', 'index.js'), fake);
    }
    const argv = shellWords((check as ShellCommand).text.replace('"$BACKEND"', backend));
    const result = spawnSync(argv[0] as string, argv.slice(1), {
      cwd: ROOT,
      // The fake's own requires (tfjs) resolve to the checkout's node_modules, the same modules the CLI loads.
      env: {
        ...process.env,
        NODE_PATH: [dir, path.join(ROOT, 'node_modules')].join(path.delimiter),
        TFJS_BACKEND: '',
      },
      encoding: 'utf8',
    });
    return { status: result.status, out: result.stdout + result.stderr };
  }

  /** A "native" package that registers the cpu kernels under the name tfjs-node uses, "tensorflow". */
  const WORKING_NATIVE = `const tf = require('@tensorflow/tfjs');
    const { MathBackendCPU } = require('@tensorflow/tfjs-backend-cpu');
    tf.registerBackend('tensorflow', () => new MathBackendCPU(), 0);
    for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'tensorflow' });
    module.exports = tf;`;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'packaging-check-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('BACKEND defaults to native in the Dockerfile, and both stages take it', () => {
    expect(check).toBeDefined();
    expect(dockerfile.globalArgs.BACKEND).toBe('native');
    for (const stage of [buildStage(), runtime]) {
      expect(stage.instructions.some((i) => i.keyword === 'ARG' && i.args === 'BACKEND')).toBe(true);
    }
  });

  it('native: passes when the native package loads, computes, and says so', () => {
    const r = runCheck('native', WORKING_NATIVE);
    expect([r.status, r.out]).toEqual([0, expect.stringContaining('tfjs backend: node')]);
  }, 60000);

  it('native: fails when the optional package was silently not installed (wasm would run)', () => {
    const r = runCheck('native');
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/tfjs backend: wasm \(node-gpu: not installed; node: not installed\)/);
    expect(r.out).toMatch(/--backend native accepts only node-gpu, node/);
  }, 60000);

  it('native: fails when the package loads but its backend does not start', () => {
    const r = runCheck('native', 'module.exports = {};');
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/node: failed to start/);
  }, 60000);

  it('best: passes on wasm where no native package is installed, and names it in the build log', () => {
    const r = runCheck('best');
    expect([r.status, r.out]).toEqual([0, expect.stringMatching(/^tfjs backend: wasm /m)]);
    expect(r.out).toMatch(/^onnxruntime-node: loaded, ran a graph$/m);
  }, 60000);

  it('runs after the production install and prune.sh, and the runtime stage runs it again', () => {
    const texts = plainCommands(buildStage()).map((c) => c.text);
    const prune = texts.indexOf('sh plugin/prune.sh');
    expect(prune).toBeGreaterThan(texts.findIndex((c) => /^npm ci .*--omit=dev/.test(c)));
    expect(texts.indexOf((check as ShellCommand).text)).toBeGreaterThan(prune);
    expect(plainCommands(runtime).some((c) => CHECK.test(c.text))).toBe(true);
  });
});

describe('the cpu variant swaps tfjs-node-gpu for tfjs-node at the same version', () => {
  const switchRun = buildStage().instructions.find(
    (i) =>
      i.keyword === 'RUN' && runCommands({ ...buildStage(), instructions: [i] }).some((c) => c.conditional),
  );
  let dir: string;
  let log: string;

  /** Runs the RUN's script as Docker would (/bin/sh -c), with npm's network commands recorded, not run. */
  function runSwitch(tfjsPackage: string): { packageJson: Record<string, unknown>; npmCalls: string[] } {
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
    fs.writeFileSync(log, '');
    const result = spawnSync('/bin/sh', ['-c', (switchRun as { args: string }).args], {
      cwd: dir,
      env: {
        ...process.env,
        PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`,
        TFJS_NODE_PACKAGE: tfjsPackage,
      },
      encoding: 'utf8',
    });
    expect([result.status, result.stderr]).toEqual([0, expect.any(String)]);
    return {
      packageJson: JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<
        string,
        unknown
      >,
      npmCalls: fs.readFileSync(log, 'utf8').split('\n').filter(Boolean),
    };
  }

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'packaging-variant-'));
    log = path.join(dir, 'npm-calls.log');
    const realNpm = execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
    fs.mkdirSync(path.join(dir, 'bin'));
    // `npm pkg` edits package.json offline: run it. Anything else (install) would need the registry: record it.
    fs.writeFileSync(
      path.join(dir, 'bin', 'npm'),
      `#!/bin/sh\nif [ "$1" = pkg ]; then exec ${JSON.stringify(realNpm)} "$@"; fi\necho "$*" >> ${JSON.stringify(log)}\n`,
      { mode: 0o755 },
    );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('cpu: package.json declares @tensorflow/tfjs-node at the gpu package version, and the lock is updated', () => {
    expect(switchRun).toBeDefined();
    const { packageJson: result, npmCalls } = runSwitch('@tensorflow/tfjs-node');
    const optional = result.optionalDependencies as Record<string, string>;
    expect(optional).toEqual({
      '@tensorflow/tfjs-node': packageJson.optionalDependencies['@tensorflow/tfjs-node-gpu'],
    });
    expect(result.dependencies).toEqual(
      (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>)
        .dependencies,
    );
    expect(npmCalls).toHaveLength(1);
    expect(npmCalls[0]).toMatch(/^install .*--package-lock-only/);
  }, 60000);

  it('gpu: package.json is left as it is and npm is not called', () => {
    const { packageJson: result, npmCalls } = runSwitch('@tensorflow/tfjs-node-gpu');
    expect(result).toEqual(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')));
    expect(npmCalls).toEqual([]);
  });
});

describe('the runtime stage (spec H.1)', () => {
  const env = inheritedEnv(runtime, 'gpu');
  const commands = plainCommands(runtime).map((c) => c.text);

  it('is the last stage (the default build target)', () => {
    expect(runtime.name).toBe('runtime');
  });

  it('sets the GPU, cache and locale environment', () => {
    expect(env.NVIDIA_VISIBLE_DEVICES).toBe('all');
    expect(env.NVIDIA_DRIVER_CAPABILITIES?.split(',').sort()).toEqual(['compute', 'utility']);
    expect(env.TF_FORCE_GPU_ALLOW_GROWTH).toBe('true');
    expect(env.CUDA_CACHE_PATH).toMatch(/^\//);
    // CUDA accepts at most 4 GiB; the default 256 MiB does not hold TensorFlow's JIT-compiled kernels.
    expect(Number(env.CUDA_CACHE_MAXSIZE)).toBeGreaterThan(256 * 2 ** 20);
    expect(Number(env.CUDA_CACHE_MAXSIZE)).toBeLessThanOrEqual(4 * 2 ** 30);
    expect(env.LANG).toBe('C.UTF-8');
  });

  it('provides python (python-is-python3), tini, ffmpeg (videos for tracking), and an exec-ing /bin/sh', () => {
    const apt = commands.find((c) => c.startsWith('apt-get install')) ?? '';
    expect(shellWords(apt)).toEqual(
      expect.arrayContaining(['python3', 'python-is-python3', 'tini', 'ffmpeg']),
    );
    expect(commands.some((c) => /^ln -sf (\/usr\/bin\/)?bash (\/usr)?\/bin\/sh$/.test(c))).toBe(true);
    const entrypoint = runtime.instructions.filter((i) => i.keyword === 'ENTRYPOINT').pop();
    expect(JSON.parse(entrypoint?.args ?? '[]')).toEqual(['/usr/bin/tini', '--']);
  });

  it('has node on PATH, and from the build stage only package.json, node_modules and dist', () => {
    const copies = copySpecs(runtime);
    expect(copies.find((c) => c.from === 'node')?.destination).toBe('/usr/local/bin/node');
    const fromBuild = copies.filter((c) => c.from === buildStage().name).flatMap((c) => c.sources);
    const buildDir = workdirAt(
      buildStage(),
      buildStage().instructions[buildStage().instructions.length - 1]!,
    );
    expect(fromBuild.sort()).toEqual(['dist', 'node_modules', 'package.json'].map((p) => `${buildDir}/${p}`));
    expect(runtime.instructions.filter((i) => i.keyword === 'RUN').some((i) => /npm /.test(i.args))).toBe(
      false,
    );
  });

  it('works in /workdir/src, as the stock plugins do', () => {
    expect(runtime.instructions.filter((i) => i.keyword === 'WORKDIR').pop()?.args).toBe('/workdir/src');
  });
});

describe('README "Build the image" lists the build stage commands', () => {
  // Throws (the test fails) when README.md or its marker comments are missing.
  const readmeBuildCommands = (): string[] =>
    documentedBuildCommands(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));

  it('the npm and node commands between the markers are the build stage ones, in order', () => {
    const built = plainCommands(buildStage())
      .map((c) => c.text)
      .filter((c) => /^(npm|node) /.test(c) && !/^(node|npm) --version$/.test(c));
    expect(readmeBuildCommands()).toEqual(built);
  });
});
