/**
 * Paths of the compiled code that contract and e2e tests run (as processes, worker threads or required from
 * dist/). No test compiles: `npm test`, `npm run test:contract` and `npm run test:e2e` build first, and a
 * missing or stale build fails the test with the instruction to build rather than testing old code.
 */

import fs from 'fs';
import path from 'path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const DIST = path.join(REPO_ROOT, 'dist');

const BUILD = '`npm run build`';
/** The folders of tsconfig.build.json whose compiled code tests run (of bench/, only track-quality, checked alone). */
const SOURCE_FOLDERS = ['src', 'plugin'];
/** Slack for file systems that round modification times. */
const SLACK_MS = 1000;

/** dist/<rel>.js for src file <rel>.ts, checked to exist and, with the rest of the build, to be fresh. */
export function builtFile(relTs: string): string {
  const source = path.join(REPO_ROOT, relTs);
  const built = path.join(DIST, relTs.replace(/\.ts$/, '.js'));
  if (!fs.existsSync(built)) {
    throw new Error(`${path.relative(REPO_ROOT, built)} is missing: run ${BUILD} first`);
  }
  if (fs.existsSync(source) && fs.statSync(source).mtimeMs > fs.statSync(built).mtimeMs + SLACK_MS) {
    throw new Error(`${path.relative(REPO_ROOT, built)} is older than ${relTs}: run ${BUILD}`);
  }
  const stale = staleOutputs();
  if (stale.length > 0) {
    const more = stale.length > 3 ? ` and ${stale.length - 3} more` : '';
    throw new Error(`the build in dist/ is stale (${stale.slice(0, 3).join('; ')}${more}): run ${BUILD}`);
  }
  return built;
}

let staleCache: string[] | undefined;

/**
 * What the compiled code in dist/ may be missing: every .ts of src/ and plugin/ (declaration files aside) must
 * have its .js, no older than itself, and every .json that tsc copied must be no older than its source. Compiled
 * code loads other compiled files (worker scripts, plugins, their imports), so one fresh file is not enough.
 * Read once per test file.
 */
function staleOutputs(): string[] {
  if (staleCache !== undefined) return staleCache;
  const stale: string[] = [];
  const visit = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const source = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') visit(source);
        continue;
      }
      const rel = path.relative(REPO_ROOT, source);
      const isTs = entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts');
      if (!isTs && !entry.name.endsWith('.json')) continue;
      const built = path.join(DIST, isTs ? rel.replace(/\.ts$/, '.js') : rel);
      if (!fs.existsSync(built)) {
        if (isTs) stale.push(`${path.relative(REPO_ROOT, built)} is missing`);
      } else if (fs.statSync(source).mtimeMs > fs.statSync(built).mtimeMs + SLACK_MS) {
        stale.push(`${path.relative(REPO_ROOT, built)} is older than ${rel}`);
      }
    }
  };
  for (const folder of SOURCE_FOLDERS) visit(path.join(REPO_ROOT, folder));
  staleCache = stale;
  return stale;
}
