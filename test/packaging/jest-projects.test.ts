/**
 * The jest projects of jest.config.js: every test file belongs to exactly one, and unit tests stay in process.
 * A unit test file, and the test helpers it imports (followed through test/, not into src/), may not import
 * child_process or worker_threads nor use builtFile (compiled code in dist/): such a test runs processes or
 * the build, and is named *.contract.test.ts, or *.e2e.test.ts when it trains networks end to end.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');
const TEST = path.join(ROOT, 'test');
const PROJECTS = ['unit', 'contract', 'e2e'];

interface Project {
  displayName: string;
  roots?: string[];
  testRegex?: string | string[];
  testMatch?: string[];
  testPathIgnorePatterns?: string[];
}

const config = jest.requireActual<{ projects: Project[]; testRegex?: unknown; testMatch?: unknown }>(
  path.join(ROOT, 'jest.config.js'),
);

/** Anything under test/ named like a test file, whichever extension jest might be told to pick up. */
const LOOKS_LIKE_A_TEST = /\.(test|spec)\.[cm]?[jt]sx?$/;

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : filesUnder(p);
    return [p];
  });
}

const rootDir = (s: string): string => s.split('<rootDir>').join(ROOT);

/** Whether jest puts `file` in `project`: under one of its roots, matching a testRegex and no ignore pattern. */
function inProject(project: Project, file: string): boolean {
  if (project.testMatch !== undefined)
    throw new Error(`${project.displayName}: this check reads testRegex only`);
  const roots = (project.roots ?? ['<rootDir>']).map(rootDir);
  if (!roots.some((r) => !path.relative(r, file).startsWith('..'))) return false;
  const regexes = [project.testRegex ?? []].flat();
  const ignored = (project.testPathIgnorePatterns ?? ['/node_modules/']).map(rootDir);
  return regexes.some((r) => new RegExp(r).test(file)) && !ignored.some((r) => new RegExp(r).test(file));
}

const testFiles = filesUnder(TEST).filter((f) => LOOKS_LIKE_A_TEST.test(path.basename(f)));
const rel = (f: string): string => path.relative(ROOT, f);
const projectsOf = (file: string): string[] =>
  config.projects.filter((p) => inProject(p, file)).map((p) => p.displayName);

describe('jest projects', () => {
  it('are unit, contract and e2e, each configured by its own testRegex', () => {
    expect(config.projects.map((p) => p.displayName)).toEqual(PROJECTS);
    expect([config.testRegex, config.testMatch]).toEqual([undefined, undefined]);
  });

  it('hold every test file exactly once', () => {
    expect(testFiles.length).toBeGreaterThan(50);
    const wrong = testFiles
      .map((f) => ({ file: rel(f), projects: projectsOf(f) }))
      .filter((f) => f.projects.length !== 1);
    expect(wrong).toEqual([]);
    for (const name of PROJECTS)
      expect(testFiles.filter((f) => projectsOf(f)[0] === name).length).toBeGreaterThan(0);
  });

  it('keep unit tests in process: no child_process, worker_threads or builtFile, helpers included', () => {
    // This file names those modules on purpose, in the fixtures of the next test.
    const unit = testFiles.filter((f) => projectsOf(f).join() === 'unit' && f !== __filename);
    expect(unit.length).toBeGreaterThan(50);
    const problems = unit.flatMap((f) =>
      outOfProcessUses(f, TEST).map(
        (use) => `${rel(f)}: ${use}; a unit test may not (name it *.contract.test.ts or *.e2e.test.ts)`,
      ),
    );
    expect(problems).toEqual([]);
  });

  it('the check finds such uses, directly and through a helper', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jest-projects-'));
    try {
      const write = (name: string, text: string): string => {
        fs.writeFileSync(path.join(dir, name), text);
        return path.join(dir, name);
      };
      write('helper.ts', "import { spawnSync } from 'node:child_process';\nexport const h = spawnSync;\n");
      write('typed.ts', "import { Worker } from 'worker_threads';\nexport type W = Worker;\n");
      const direct = write('a.test.ts', "const cp = require('child_process');\nbuiltFile('src/x.ts');\n");
      const indirect = write(
        'b.test.ts',
        "import type { W } from './typed';\nimport {\n  h,\n} from './helper';\nexport { h };\n",
      );
      expect(outOfProcessUses(direct, dir)).toEqual(['imports child_process', 'uses builtFile (dist/)']);
      expect(outOfProcessUses(indirect, dir)).toEqual([
        `imports node:child_process (through ${rel(path.join(dir, 'helper.ts'))})`,
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Modules whose import means another process or thread. */
const BANNED = new Set(['child_process', 'worker_threads'].flatMap((m) => [m, `node:${m}`]));

/**
 * What `file`, or a helper under `scope` it imports (type-only imports aside), uses that starts a process or a
 * thread or needs the build.
 */
function outOfProcessUses(
  file: string,
  scope: string,
  via: string[] = [],
  seen = new Set<string>(),
): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  const text = fs.readFileSync(file, 'utf8');
  const through = via.length === 0 ? '' : ` (through ${via.join(' -> ')})`;
  const uses: string[] = [];
  const helpers: string[] = [];
  for (const { specifier, typeOnly } of importsOf(text)) {
    if (BANNED.has(specifier)) uses.push(`imports ${specifier}${through}`);
    else if (specifier.startsWith('.') && !typeOnly) {
      const target = resolveWithin(scope, path.resolve(path.dirname(file), specifier));
      if (target !== undefined) helpers.push(target);
    }
  }
  if (/\bbuiltFile\b/.test(text)) uses.push(`uses builtFile (dist/)${through}`);
  for (const helper of helpers) uses.push(...outOfProcessUses(helper, scope, [...via, rel(helper)], seen));
  return uses;
}

/** Module specifiers of import/export ... from, bare imports, require() and import(). */
function importsOf(text: string): { specifier: string; typeOnly: boolean }[] {
  const out: { specifier: string; typeOnly: boolean }[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^;'"]*?\bfrom\s+['"]([^'"]+)['"]/gm))
    out.push({ specifier: m[2] as string, typeOnly: m[1] !== undefined });
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm))
    out.push({ specifier: m[1] as string, typeOnly: false });
  for (const m of text.matchAll(/\b(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)/g))
    out.push({ specifier: m[1] as string, typeOnly: false });
  return out;
}

/** A relative import resolved to a file under `scope` (test/: src/ and packages are not followed). */
function resolveWithin(scope: string, base: string): string | undefined {
  if (path.relative(scope, base).startsWith('..')) return undefined;
  for (const candidate of [base, `${base}.ts`, `${base}.js`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}
