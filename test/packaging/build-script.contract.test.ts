/**
 * plugin/build.sh prints the `docker build` command with the labels the platform reads (spec H.2). The printed
 * command is run by sh with a fake `docker` that records its arguments, and each label is decoded back to the
 * exact bytes of its file.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');
const LABELS = ['VERSION', 'INFO', 'MODES', 'README', 'CONFIGS'];

interface DockerCall {
  argv: string[];
  labels: Record<string, string>;
  option: (name: string) => string | undefined;
}

let tmp: string;
let fakeBin: string;

/** Runs build.sh in `root` (its copy or the repo), then its output through sh with the fake docker. */
function buildCommand(
  root: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { status: number | null; stderr: string; call?: DockerCall } {
  const script = spawnSync('sh', [path.join(root, 'plugin', 'build.sh'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, REGISTRY: '', ...env },
  });
  if (script.status !== 0) return { status: script.status, stderr: script.stderr };
  const record = path.join(tmp, 'docker-argv');
  const run = spawnSync('sh', ['-c', script.stdout], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${fakeBin}:${process.env.PATH}`, DOCKER_ARGV: record },
  });
  expect([run.status, run.stderr]).toEqual([0, '']);
  const argv = fs.readFileSync(record, 'utf8').split('\0').slice(0, -1);
  const labels: Record<string, string> = {};
  argv.forEach((a, i) => {
    if (a === '--label') {
      const value = argv[i + 1] as string;
      const eq = value.indexOf('=');
      labels[value.slice(0, eq)] = value.slice(eq + 1);
    }
  });
  const option = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i < 0 ? undefined : argv[i + 1];
  };
  return { status: 0, stderr: script.stderr, call: { argv, labels, option } };
}

function decoded(value: string | undefined): Buffer {
  // GNU base64 with the line breaks removed: the standard alphabet with padding, nothing else.
  expect(value).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
  return Buffer.from(value as string, 'base64');
}

/** A copy of the files build.sh reads, under a folder whose name needs quoting. */
function makeTree(name: string, entries: string[], readme: Buffer): string {
  const root = path.join(tmp, name);
  fs.mkdirSync(path.join(root, 'plugin'), { recursive: true });
  fs.mkdirSync(path.join(root, 'src'), { recursive: true });
  for (const file of ['Dockerfile', 'VERSION', 'plugin_info.json', 'predefined_run_configs.json']) {
    fs.copyFileSync(path.join(ROOT, file), path.join(root, file));
  }
  fs.copyFileSync(path.join(ROOT, 'plugin', 'build.sh'), path.join(root, 'plugin', 'build.sh'));
  fs.writeFileSync(path.join(root, 'README.md'), readme);
  for (const entry of entries) fs.writeFileSync(path.join(root, 'src', `${entry}.py`), '');
  return root;
}

// Non-ASCII, long lines (GNU base64 wraps at 76 columns), no final newline.
const README = Buffer.from(
  `# Plugin — démo 日本語\n\n${'A long line of text that goes well past seventy-six columns. '.repeat(5)}\n` +
    'quotes \' " $HOME `x` \\ end',
  'utf8',
);

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'packaging-build-sh-'));
  fakeBin = path.join(tmp, 'bin');
  fs.mkdirSync(fakeBin);
  fs.writeFileSync(
    path.join(fakeBin, 'docker'),
    '#!/bin/sh\n: > "$DOCKER_ARGV"\nfor a in "$@"; do printf "%s\\0" "$a" >> "$DOCKER_ARGV"; done\n',
    { mode: 0o755 },
  );
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('plugin/build.sh labels (spec H.2)', () => {
  it('prints a docker build whose labels decode to the exact files, in a folder that needs quoting', () => {
    const root = makeTree("a dir with 'quotes' and $dollar", ['train', 'deploy'], README);
    const { status, call } = buildCommand(root, ['registry.example.com/sly/']);
    expect(status).toBe(0);
    const version = fs.readFileSync(path.join(root, 'VERSION'), 'utf8').trim();
    expect(call?.argv[0]).toBe('build');
    expect(Object.keys(call?.labels ?? {}).sort()).toEqual([...LABELS].sort());
    expect(call?.labels.VERSION).toBe(`registry.example.com/sly/${version}`);
    expect(call?.option('--tag')).toBe(call?.labels.VERSION);
    expect(call?.labels.MODES).toBe('train deploy');
    expect(decoded(call?.labels.INFO)).toEqual(fs.readFileSync(path.join(root, 'plugin_info.json')));
    expect(decoded(call?.labels.README)).toEqual(README);
    expect(decoded(call?.labels.CONFIGS)).toEqual(
      fs.readFileSync(path.join(root, 'predefined_run_configs.json')),
    );
    expect(call?.option('--file')).toBe(path.join(root, 'Dockerfile'));
    expect(call?.option('--build-arg')).toBe('VARIANT=gpu');
    expect(call?.argv[call.argv.length - 1]).toBe(root);
  });

  it('--variant cpu builds the cpu variant under a "-cpu" tag; REGISTRY comes from the environment', () => {
    const root = makeTree('cpu', ['train', 'inference'], README);
    const { status, call } = buildCommand(root, ['--variant', 'cpu'], { REGISTRY: 'reg.local:5000' });
    expect(status).toBe(0);
    const version = fs.readFileSync(path.join(root, 'VERSION'), 'utf8').trim();
    expect(call?.labels.VERSION).toBe(`reg.local:5000/${version}-cpu`);
    expect(call?.option('--build-arg')).toBe('VARIANT=cpu');
    expect(call?.labels.MODES).toBe('train inference');
  });

  it.each([
    ['no registry', [], () => undefined, /no registry/],
    ['an unknown variant', ['--variant', 'tpu', 'r'], () => undefined, /unknown variant/],
    [
      'no README.md',
      ['r'],
      (root: string) => fs.rmSync(path.join(root, 'README.md')),
      /README\.md is missing/,
    ],
    [
      'no entry point',
      ['r'],
      (root: string) => fs.rmSync(path.join(root, 'src'), { recursive: true }),
      /no entry/,
    ],
    [
      'a VERSION of two lines',
      ['r'],
      (root: string) => fs.writeFileSync(path.join(root, 'VERSION'), 'a:1\nb:2\n'),
      /VERSION must hold one line/,
    ],
    [
      'a VERSION without a tag',
      ['r'],
      (root: string) => fs.writeFileSync(path.join(root, 'VERSION'), 'image\n'),
      /VERSION must hold one line/,
    ],
    [
      'a README too large for one docker argument (the kernel allows 131072 bytes)',
      ['r'],
      (root: string) => fs.writeFileSync(path.join(root, 'README.md'), 'x'.repeat(99_000)),
      /README\.md is too large for a docker label: 1320\d\d bytes/,
    ],
  ])('fails with a message on %s', (name, args, spoil, message) => {
    const root = makeTree(`bad ${name}`, ['train'], README);
    spoil(root);
    const { status, stderr, call } = buildCommand(root, args);
    expect(call).toBeUndefined();
    expect(status).not.toBe(0);
    expect(stderr).toMatch(message);
  });
});

describe('plugin/build.sh on this repository', () => {
  it('labels the image with this repo files and the modes "train inference"', () => {
    const { status, call } = buildCommand(ROOT, ['registry.example.com']);
    expect(status).toBe(0);
    expect(call?.labels.MODES).toBe('train inference');
    for (const [label, file] of [
      ['INFO', 'plugin_info.json'],
      ['README', 'README.md'],
      ['CONFIGS', 'predefined_run_configs.json'],
    ] as const) {
      expect(decoded(call?.labels[label])).toEqual(fs.readFileSync(path.join(ROOT, file)));
    }
  });
});
