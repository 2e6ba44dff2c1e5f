import { existsSync } from 'node:fs';
import * as path from 'node:path';

/**
 * A worker script, compiled: `srcRel` (e.g. `src/onnx/session-thread-worker`) as dist/ holds it. Worker threads
 * run JavaScript, so code running from TypeScript sources (ts-jest) still finds the build; null when not built.
 */
export function compiledScript(srcRel: string): string | null {
  const file = `${srcRel}.js`;
  // This module is dist/src/threads/script.js when compiled, src/threads/script.ts under ts-jest.
  const candidates = [path.resolve(__dirname, '../..', file), path.resolve(__dirname, '../../dist', file)];
  return candidates.find((c) => existsSync(c)) ?? null;
}
