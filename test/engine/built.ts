/**
 * Worker threads run compiled JavaScript. Tests that start workers call `ensureBuilt()`, which checks (through
 * test/contract/built.ts) that the worker and the U-Net plugin are compiled and that dist/ is not older than
 * its sources; it never compiles: a missing or stale build fails with the instruction to run `npm run build`.
 */
import { builtFile, DIST, REPO_ROOT } from '../contract/built';

export { DIST };
export const ROOT = REPO_ROOT;

export function ensureBuilt(): void {
  builtFile('src/training/engine/worker.ts');
  builtFile('plugin/unet/index.ts');
}
