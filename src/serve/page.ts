/**
 * The web page's files (web/ at the repository root: index.html, app.js, style.css), read once and kept. They
 * are plain files with no build step and no external requests, so the page works offline.
 */
import { promises as fsp, existsSync } from 'node:fs';
import path from 'node:path';
import { notFound } from './http-error';

const cache = new Map<string, Buffer>();

/** web/ found from this module, whether it runs from src/ (ts-jest) or dist/src/ (the build). */
function webDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'web');
    if (existsSync(path.join(candidate, 'index.html'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`no web/index.html above ${__dirname}`);
  }
}

export async function readPage(file: string): Promise<Buffer> {
  let bytes = cache.get(file);
  if (bytes === undefined) {
    try {
      bytes = await fsp.readFile(path.join(webDir(), path.basename(file)));
    } catch {
      throw notFound(`no page file ${file}`);
    }
    cache.set(file, bytes);
  }
  return bytes;
}
