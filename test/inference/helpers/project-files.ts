/** Every file of a folder, by path relative to it, with its bytes: for comparing results projects byte for byte. */
import { promises as fs } from 'node:fs';
import path from 'node:path';

export async function projectFiles(dir: string, prefix = ''): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await fs.readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, entry.name);
    if (entry.isDirectory()) for (const [f, b] of await projectFiles(dir, rel)) files.set(f, b);
    else files.set(rel, await fs.readFile(path.join(dir, rel)));
  }
  return files;
}
