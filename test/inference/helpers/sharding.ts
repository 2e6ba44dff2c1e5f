/** Shared by the sharded inference tests: a small project to split, and byte-for-byte comparison of results. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { SyntheticProjectOptions } from '../../../src/example/synthetic-project';

/** Two datasets of `counts` images each (small ones: the runs are about which items go where, not the network). */
export function smallProject(
  projectName: string,
  counts: readonly [number, number],
  seed: number,
): Omit<SyntheticProjectOptions, 'dir'> {
  return {
    projectName,
    datasets: [
      { name: 'ds1', count: counts[0] },
      { name: 'ds2', count: counts[1] },
    ],
    width: 40,
    height: 32,
    seed,
  };
}

/** Every file of a folder, by path relative to it, with its bytes. */
export async function projectFiles(dir: string, prefix = ''): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await fs.readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, entry.name);
    if (entry.isDirectory()) for (const [f, b] of await projectFiles(dir, rel)) files.set(f, b);
    else files.set(rel, await fs.readFile(path.join(dir, rel)));
  }
  return files;
}

/** The two folders hold the same files, byte for byte (a merged project and a single run's). */
export async function expectSameFiles(actualDir: string, expectedDir: string): Promise<void> {
  const actual = await projectFiles(actualDir);
  const expected = await projectFiles(expectedDir);
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [file, bytes] of expected) expect([file, actual.get(file)?.equals(bytes)]).toEqual([file, true]);
}
