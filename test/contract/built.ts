/**
 * Paths of the compiled code that contract tests run as real processes. They need `npx tsc -p
 * tsconfig.build.json` first; a missing or stale build fails the test with that instruction rather than
 * testing old code.
 */

import fs from 'fs';
import path from 'path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** dist/<rel>.js for src file <rel>.ts, checked to exist and to be newer than its source. */
export function builtFile(relTs: string): string {
  const source = path.join(REPO_ROOT, relTs);
  const built = path.join(REPO_ROOT, 'dist', relTs.replace(/\.ts$/, '.js'));
  if (!fs.existsSync(built)) {
    throw new Error(
      `${path.relative(REPO_ROOT, built)} is missing: run \`npx tsc -p tsconfig.build.json\` first`,
    );
  }
  if (fs.existsSync(source) && fs.statSync(source).mtimeMs > fs.statSync(built).mtimeMs + 1000) {
    throw new Error(
      `${path.relative(REPO_ROOT, built)} is older than ${relTs}: run \`npx tsc -p tsconfig.build.json\``,
    );
  }
  return built;
}
