import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  copySpecs,
  logicalLines,
  parseDockerfile,
  resolveFrom,
  runCommands,
  shellWords,
  stageEnv,
  stageNamed,
  substitute,
  workdirAt,
} from './dockerfile';
import { isExcluded, parseDockerignore } from './dockerignore';
import { BEGIN_MARKER, documentedBuildCommands, END_MARKER } from './readme';
import { packageName, walkRequires } from './require-walk';

const SAMPLE = [
  '# syntax=docker/dockerfile:1',
  'ARG BASE=debian@sha256:abc',
  'ARG FLAVOUR=gpu',
  'FROM ${BASE} AS base-gpu',
  'ENV PKG=gpu-pkg',
  'FROM $BASE AS base-cpu',
  'ENV PKG="cpu pkg" OTHER=1',
  'FROM base-${FLAVOUR} as build',
  'WORKDIR /w',
  'COPY --chown=1:1 a.json "b c.json" ./',
  'RUN if [ "$X" = 1 ]; then \\',
  '      v="$(node -p "require(\'./p.json\').v")" \\',
  '      && npm pkg set "a=$v"; \\',
  '    fi',
  '# a comment between instructions',
  'RUN npm ci --omit=dev \\',
  '    # a comment inside a continued instruction',
  '    && node -e "a && b; c" || echo \'x;y\'',
  'WORKDIR sub',
  'COPY ["x y", "/dst/"]',
  'FROM build',
  'COPY --from=build /w/dist /app/dist',
].join('\n');

describe('Dockerfile reader (test helper)', () => {
  const df = parseDockerfile(SAMPLE);

  it('joins continued lines, drops comments, keeps the first line number', () => {
    const lines = logicalLines(SAMPLE);
    const run = lines.find((l) => l.text.startsWith('RUN npm'));
    expect(run?.line).toBe(16);
    expect(run?.text).not.toContain('comment');
    expect(lines.some((l) => l.text.startsWith('#'))).toBe(false);
  });

  it('reads global ARGs, stages and AS names (either case)', () => {
    expect(df.globalArgs).toEqual({ BASE: 'debian@sha256:abc', FLAVOUR: 'gpu' });
    expect(df.stages.map((s) => s.name)).toEqual(['base-gpu', 'base-cpu', 'build', undefined]);
    expect(df.stages.map((s) => s.from)).toEqual(['${BASE}', '$BASE', 'base-${FLAVOUR}', 'build']);
  });

  it('resolves FROM with defaults and build arguments', () => {
    const build = df.stages[2]!;
    expect(resolveFrom(df, build)).toBe('base-gpu');
    expect(resolveFrom(df, build, { FLAVOUR: 'cpu' })).toBe('base-cpu');
    expect(resolveFrom(df, df.stages[0]!)).toBe('debian@sha256:abc');
    expect(substitute('${MISSING:-fallback}/$BASE', { BASE: 'b' })).toBe('fallback/b');
    expect(stageNamed(df, 'build', 3)?.index).toBe(2);
    expect(stageNamed(df, 'build', 2)).toBeUndefined();
  });

  it('reads COPY sources, destinations and flags in shell and JSON form', () => {
    expect(copySpecs(df.stages[2]!)).toEqual([
      { from: undefined, sources: ['a.json', 'b c.json'], destination: './', line: 10 },
      { from: undefined, sources: ['x y'], destination: '/dst/', line: 20 },
    ]);
    expect(copySpecs(df.stages[3]!)[0]).toMatchObject({ from: 'build', sources: ['/w/dist'] });
  });

  it('reads ENV in the key=value form with quotes', () => {
    expect(stageEnv(df.stages[1]!)).toEqual({ PKG: 'cpu pkg', OTHER: '1' });
  });

  it('tracks WORKDIR, relative ones included', () => {
    const build = df.stages[2]!;
    const lastCopy = build.instructions.filter((i) => i.keyword === 'COPY')[1]!;
    expect(workdirAt(build, lastCopy)).toBe('/w/sub');
  });

  it('splits RUN at && || ; outside quotes and $( ), marking if ... fi as conditional', () => {
    const commands = runCommands(df.stages[2]!).map((c) => [c.text, c.conditional]);
    expect(commands).toEqual([
      ['if [ "$X" = 1 ]', true],
      ['then v="$(node -p "require(\'./p.json\').v")"', true],
      ['npm pkg set "a=$v"', true],
      ['fi', true],
      ['npm ci --omit=dev', false],
      ['node -e "a && b; c"', false],
      ["echo 'x;y'", false],
    ]);
  });

  it('splits shell words with quotes and escapes', () => {
    expect(shellWords(`a "b c" 'd "e"' f\\ g "h\\"i"`)).toEqual(['a', 'b c', 'd "e"', 'f g', 'h"i']);
    expect(() => shellWords('a "b')).toThrow(/unbalanced/);
  });
});

describe('.dockerignore matcher (test helper)', () => {
  const patterns = parseDockerignore(
    ['# comment', 'node_modules', '**/dist', '/coverage/', '*.log', 'docs/**', '!docs/keep.md', 'a?c'].join(
      '\n',
    ),
  );

  it.each([
    ['node_modules', true],
    ['node_modules/x/index.js', true],
    ['src/node_modules/x', false],
    ['dist/a.js', true],
    ['pkg/sub/dist/a.js', true],
    ['coverage/lcov.info', true],
    ['err.log', true],
    ['logs/err.log', false],
    ['docs/a/b.md', true],
    ['docs/keep.md', false],
    ['abc', true],
    ['abbc', false],
    ['src/train.py', false],
  ])('%s excluded: %s', (path, excluded) => {
    expect(isExcluded(path, patterns)).toBe(excluded);
  });
});

describe('README build-command section (test helper)', () => {
  it('reads the fenced command lines between the markers only', () => {
    const readme = [
      '# Title',
      '```sh',
      'npm test',
      '```',
      BEGIN_MARKER,
      'Some text.',
      '```sh',
      '# a comment',
      'npm ci   --omit=dev',
      '',
      'node -e "a" \\',
      '  --flag',
      '```',
      END_MARKER,
      '```sh',
      'npm publish',
      '```',
    ].join('\n');
    expect(documentedBuildCommands(readme)).toEqual(['npm ci --omit=dev', 'node -e "a" --flag']);
  });

  it('throws, naming the markers, without both of them', () => {
    expect(() => documentedBuildCommands('no section')).toThrow(BEGIN_MARKER);
    expect(() => documentedBuildCommands(`${BEGIN_MARKER}\n\`\`\`sh\nnpm ci\n\`\`\``)).toThrow(END_MARKER);
  });
});

describe('require walk over compiled code (test helper)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'packaging-walk-'));
    const write = (rel: string, text: string): void => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    };
    write(
      'dist/main.js',
      `const a = require("./lib/a"); const fs = require('node:fs'); const p = require("path");
       const later = () => Promise.resolve().then(() => require("./lib/late"));
       const dyn = require(name);`,
    );
    write(
      'dist/lib/a/index.js',
      'require("@scope/pkg/sub"); require("../../schema.json"); require("../../../outside");',
    );
    write('dist/lib/late.js', 'require("dev-only"); require("./missing");');
    write('dist/schema.json', '{}');
    write('outside.js', '');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('follows relative and lazy requires, allows built-ins and listed packages, reports the rest', () => {
    const walk = walkRequires({
      root: path.join(dir, 'dist'),
      entries: [path.join(dir, 'dist', 'main.js')],
      packages: new Set(['@scope/pkg']),
    });
    expect(walk.files.map((f) => path.relative(fs.realpathSync(dir), f)).sort()).toEqual(
      ['dist/lib/a/index.js', 'dist/lib/late.js', 'dist/main.js', 'dist/schema.json'].map((p) =>
        p.split('/').join(path.sep),
      ),
    );
    expect(walk.problems.sort()).toEqual([
      `${path.join('lib', 'a', 'index.js')}: require("../../../outside") leaves ${fs.realpathSync(path.join(dir, 'dist'))}`,
      `${path.join('lib', 'late.js')}: require("./missing") resolves to no file`,
      `${path.join('lib', 'late.js')}: require("dev-only") is not an allowed package`,
    ]);
    expect(packageName('@a/b/c')).toBe('@a/b');
    expect(packageName('fs-extra/lib/x')).toBe('fs-extra');
  });
});
