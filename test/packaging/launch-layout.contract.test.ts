/**
 * The agent's launch commands (spec H.1: `python -u /workdir/src/train.py`, inference.py) against the image's
 * layout, rebuilt here without Docker from the Dockerfile itself: the build stage's context COPYs are staged in a
 * folder, `npm ci` stands as a link to our node_modules, the output of the package's build script stands as a
 * link to the checkout's dist/ (built before the contract tests: no test compiles), and the runtime stage's COPYs
 * assemble /workdir. The launchers then run with a fake `node` that records what it was asked to start, and the
 * compiled entry points' requires are walked: they must stay inside dist/ or name a production dependency (the
 * image has no dev dependencies), and every compiled file the image may load must have its source in the staged
 * build context, so that the image's own compile sees what the checkout's did.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { builtFile, DIST, REPO_ROOT as ROOT } from '../contract/built';
import type { Stage } from './dockerfile';
import { copySpecs, parseDockerfile, stageNamed, workdirAt } from './dockerfile';
import { isExcluded, parseDockerignore } from './dockerignore';
import { walkRequires } from './require-walk';

const dockerfile = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const ignore = parseDockerignore(fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8'));
const runtime = dockerfile.stages[dockerfile.stages.length - 1] as Stage;
/** The agent's entry points for the modes this plugin offers (spec H.1). */
const ENTRIES = ['train', 'inference'] as const;
const IMAGE_ROOT = '/workdir';

let tmp: string;
/** Stands for the build stage's /workdir. */
let buildDir: string;
/** Stands for the runtime image's /workdir. */
let imageDir: string;

function buildStage(): Stage {
  const copy = copySpecs(runtime).find((c) => c.sources.some((s) => s.endsWith('/node_modules')));
  const stage = copy?.from === undefined ? undefined : stageNamed(dockerfile, copy.from, runtime.index);
  if (stage === undefined) throw new Error('the runtime stage copies node_modules from no earlier stage');
  return stage;
}

/** An absolute image path, `dest` resolved against the WORKDIR in effect. */
function imagePath(dest: string, workdir: string): string {
  return path.posix.resolve(workdir, dest);
}

/** Where an image path under `root` lives in the folder `dir` standing for that root. */
function under(root: string, imageAbs: string, dir: string): string {
  const rel = path.posix.relative(root, imageAbs);
  if (rel.startsWith('..') || path.posix.isAbsolute(rel)) throw new Error(`${imageAbs} is outside ${root}`);
  return path.join(dir, rel);
}

/** Copies a context file or folder (minus what .dockerignore leaves out) to `target`. */
function copyFromContext(source: string, target: string): void {
  fs.cpSync(path.join(ROOT, source), target, {
    recursive: true,
    filter: (src) => !isExcluded(path.relative(ROOT, src), ignore),
  });
}

/**
 * Docker COPY semantics for one instruction: with several sources or a destination ending in "/", each file
 * goes into the destination folder under its own name; a folder's contents go into the destination.
 */
function copyInto(
  sources: readonly { from: string; isDir: boolean; name: string }[],
  destination: string,
  destIsDir: boolean,
  copy: (from: string, to: string, isDir: boolean) => void,
): void {
  for (const source of sources) {
    const target = source.isDir || !destIsDir ? destination : path.join(destination, source.name);
    fs.mkdirSync(source.isDir ? path.dirname(target) : path.dirname(target), { recursive: true });
    copy(source.from, target, source.isDir);
  }
}

function stageBuild(): void {
  const stage = buildStage();
  const workdir = workdirAt(stage, stage.instructions[stage.instructions.length - 1]!);
  for (const copy of copySpecs(stage).filter((c) => c.from === undefined)) {
    const instruction = stage.instructions.find((i) => i.line === copy.line)!;
    const dest = imagePath(copy.destination, workdirAt(stage, instruction));
    const sources = copy.sources.map((s) => ({
      from: s,
      isDir: fs.statSync(path.join(ROOT, s)).isDirectory(),
      name: path.basename(s),
    }));
    const destIsDir = copy.sources.length > 1 || copy.destination.endsWith('/');
    copyInto(sources, under(workdir, dest, buildDir), destIsDir, (from, to) => copyFromContext(from, to));
  }
  // `npm ci` in the image; our installed node_modules stands for it.
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(buildDir, 'node_modules'));
  // `npm run build`: the package's own build script, `tsc -p <config>`. Its output is the checkout's dist/, made
  // by the same script from the same files; the test 'every compiled file ... has its source in the build
  // context' checks that the staged context holds what that compile read.
  const pkg = JSON.parse(fs.readFileSync(path.join(buildDir, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const args = (pkg.scripts.build ?? '').split(/\s+/);
  expect(args[0]).toBe('tsc');
  const p = args.findIndex((a) => a === '-p' || a === '--project');
  const project = p < 0 ? 'tsconfig.json' : (args[p + 1] as string);
  const outDir = compilerOutDir(buildDir, project);
  expect(path.resolve(ROOT, outDir)).toBe(DIST);
  for (const entry of ENTRIES) builtFile(`src/${entry}.ts`); // fails with the build instruction when stale
  fs.symlinkSync(DIST, path.join(buildDir, outDir));
}

/**
 * outDir of a tsconfig in the staged build context, following `extends` there: a config missing from the
 * context fails here as it would fail the image's `npm run build`.
 */
function compilerOutDir(dir: string, config: string): string {
  const file = path.join(dir, config);
  if (!fs.existsSync(file)) throw new Error(`${config} is not in the build stage's context`);
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    extends?: string;
    compilerOptions?: { outDir?: string };
  };
  const outDir = json.compilerOptions?.outDir;
  if (outDir !== undefined) return path.relative(dir, path.resolve(path.dirname(file), outDir));
  if (json.extends === undefined) throw new Error(`${config} sets no outDir`);
  return compilerOutDir(dir, path.relative(dir, path.resolve(path.dirname(file), json.extends)));
}

function assembleRuntime(): void {
  const build = buildStage();
  const buildWorkdir = workdirAt(build, build.instructions[build.instructions.length - 1]!);
  for (const copy of copySpecs(runtime)) {
    const instruction = runtime.instructions.find((i) => i.line === copy.line)!;
    const dest = imagePath(copy.destination, workdirAt(runtime, instruction));
    if (copy.from !== undefined && copy.from !== build.name) {
      // Files from other images (the node binary) live outside /workdir; we use the node on our PATH.
      expect(dest.startsWith(`${IMAGE_ROOT}/`)).toBe(false);
      continue;
    }
    const fromBuild = copy.from === build.name;
    const sources = copy.sources.map((s) => {
      const host = fromBuild ? under(buildWorkdir, s, buildDir) : path.join(ROOT, s);
      return { from: host, isDir: fs.statSync(host).isDirectory(), name: path.basename(s) };
    });
    const destIsDir = copy.sources.length > 1 || copy.destination.endsWith('/');
    copyInto(sources, under(IMAGE_ROOT, dest, imageDir), destIsDir, (from, to, isDir) => {
      if (fromBuild && isDir) fs.symlinkSync(from, to);
      else if (fromBuild) fs.copyFileSync(from, to);
      else copyFromContext(path.relative(ROOT, from), to);
    });
  }
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'packaging-layout-'));
  buildDir = path.join(tmp, 'build');
  imageDir = path.join(tmp, 'image');
  fs.mkdirSync(buildDir);
  fs.mkdirSync(imageDir);
  stageBuild();
  assembleRuntime();
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the agent launch commands in the image layout (spec H.1)', () => {
  const workdir = (): string => {
    const last = runtime.instructions.filter((i) => i.keyword === 'WORKDIR').pop();
    return under(IMAGE_ROOT, last?.args ?? IMAGE_ROOT, imageDir);
  };

  it.each(ENTRIES)('python -u /workdir/src/%s.py execs node on a compiled entry point in dist/', (entry) => {
    const launcher = under(IMAGE_ROOT, `${IMAGE_ROOT}/src/${entry}.py`, imageDir);
    expect(fs.existsSync(launcher)).toBe(true);
    const bin = path.join(tmp, 'bin');
    const log = path.join(tmp, `${entry}-node-argv.txt`);
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, 'node'), '#!/bin/sh\nprintf "%s\\n" "$@" > "$FAKE_NODE_LOG"\n', {
      mode: 0o755,
    });
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_NODE_LOG: log };
    delete env.SLY_NODE;
    const result = spawnSync('python3', ['-u', launcher], { cwd: workdir(), env, encoding: 'utf8' });
    expect([result.status, result.stdout, result.stderr]).toEqual([0, '', '']);
    const [script] = fs.readFileSync(log, 'utf8').split('\n');
    expect(path.relative(imageDir, script as string)).toBe(path.join('dist', 'src', `${entry}.js`));
    expect(fs.statSync(script as string).isFile()).toBe(true);
  });

  it('the launchers are valid Python 3.10 (Ubuntu 22.04)', () => {
    const files = ENTRIES.map((e) => under(IMAGE_ROOT, `${IMAGE_ROOT}/src/${e}.py`, imageDir));
    const check =
      'import ast,sys\nfor f in sys.argv[1:]: ast.parse(open(f).read(), f, feature_version=(3, 10))';
    const result = spawnSync('python3', ['-c', check, ...files], { encoding: 'utf8' });
    expect([result.status, result.stderr]).toEqual([0, '']);
  });

  it('compiled code requires only files in dist/ and production dependencies', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(imageDir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    const production = new Set([
      ...Object.keys(pkg.dependencies ?? {}),
      ...Object.keys(pkg.optionalDependencies ?? {}),
    ]);
    const walk = walkRequires({
      root: path.join(imageDir, 'dist'),
      entries: ENTRIES.map((e) => path.join(imageDir, 'dist', 'src', `${e}.js`)),
      packages: production,
    });
    const { problems, files: seen } = walk;
    expect(problems).toEqual([]);
    // The walk really went through the program, JSON schemas included.
    expect(seen.filter((f) => f.endsWith('.json')).length).toBeGreaterThan(0);
    expect(seen.length).toBeGreaterThan(10);
  });

  it('every compiled file the image may load has its source in the build context', () => {
    // The image compiles src/ and plugin/ as staged; any of their compiled files may run (worker scripts and
    // network plugins are loaded by path), and so may whatever they require, wherever it lives.
    const context = fs.realpathSync(buildDir);
    const dist = fs.realpathSync(DIST);
    const compiled = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) return compiled(p);
        // Files whose source is gone from the checkout are leftovers of an earlier build, not part of this one.
        const source = path.relative(dist, p).replace(/\.js$/, '.ts');
        return e.name.endsWith('.js') && fs.existsSync(path.join(ROOT, source)) ? [p] : [];
      });
    const entries = ['src', 'plugin'].flatMap((d) => compiled(path.join(dist, d)));
    expect(entries.length).toBeGreaterThan(10);
    const { files, problems } = walkRequires({ root: dist, entries, packages: new Set() });
    // Which packages may be required is the previous test's business; here only files count.
    expect(problems.filter((p) => !p.endsWith('is not an allowed package'))).toEqual([]);
    const missing = files
      .map((f) => path.relative(dist, f))
      .map((rel) => (rel.endsWith('.js') ? rel.replace(/\.js$/, '.ts') : rel))
      .filter((source) => !fs.existsSync(path.join(context, source)));
    expect(missing).toEqual([]);
  });
});
