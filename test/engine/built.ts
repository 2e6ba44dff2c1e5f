/**
 * Worker threads run compiled JavaScript. Tests that start workers call `ensureBuilt()`, which runs the build
 * when a compiled file is missing or older than its source.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const DIST = path.join(ROOT, 'dist');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith('.ts') || entry.name.endsWith('.json'))
      newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

export function ensureBuilt(): void {
  const probes = ['src/training/engine/worker.js', 'plugin/unet/index.js'].map((p) => path.join(DIST, p));
  const builtAt = Math.min(...probes.map((p) => (existsSync(p) ? statSync(p).mtimeMs : 0)));
  const sources = Math.max(newestSource(path.join(ROOT, 'src')), newestSource(path.join(ROOT, 'plugin')));
  if (builtAt >= sources) return;
  try {
    execFileSync(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], {
      cwd: ROOT,
      stdio: 'pipe',
    });
  } catch {
    // tsc still emits when some other file has a type error; the probes below decide.
  }
  for (const p of probes) if (!existsSync(p)) throw new Error(`build failed: ${p} is missing`);
}
