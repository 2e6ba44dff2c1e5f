/** The reproducibility manifest: the data digest follows the bytes and the names, not the listing order. */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dataDigest, runManifest } from '../../src/model-state/manifest';

let dir: string;
beforeAll(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'digest-'));
  for (const n of ['a', 'b', 'c']) await fsp.writeFile(path.join(dir, n), `bytes of ${n}`);
});
afterAll(() => fsp.rm(dir, { recursive: true, force: true }));

const items = (names: string[], files = names) =>
  names.map((n, i) => ({ name: `ds/${n}`, files: [path.join(dir, files[i])] }));

describe('dataDigest', () => {
  it('is the same for the same items in any order, and counts items and bytes', async () => {
    const one = await dataDigest(items(['a', 'b', 'c']));
    const other = await dataDigest(items(['c', 'a', 'b']));
    expect(one.sha256).toBe(other.sha256);
    expect(one).toMatchObject({ items: 3, bytes: 3 * 'bytes of a'.length });
    expect(one.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes when a byte changes or an item is renamed', async () => {
    const before = await dataDigest(items(['a', 'b']));
    const renamed = await dataDigest(items(['a', 'x'], ['a', 'b']));
    expect(renamed.sha256).not.toBe(before.sha256);
    await fsp.writeFile(path.join(dir, 'b'), 'bytes of B');
    const changed = await dataDigest(items(['a', 'b']));
    expect(changed.sha256).not.toBe(before.sha256);
  });

  it('names a file it cannot read', async () => {
    await expect(dataDigest(items(['gone']))).rejects.toThrow(/gone/);
  });
});

describe('runManifest', () => {
  it('records the seed, config, data, engine, versions and machine', async () => {
    const data = await dataDigest(items(['a']));
    const m = runManifest(
      { seed: 7, config: { lr: 0.1 }, data, engine: 'onnxruntime', backend: 'wasm', network: 'unet' },
      new Date('2026-12-07T00:00:00Z'),
    );
    expect(m).toMatchObject({
      seed: 7,
      config: { lr: 0.1 },
      data,
      engine: 'onnxruntime',
      created_at: '2026-12-07T00:00:00.000Z',
    });
    expect(m.versions.node).toBe(process.versions.node);
    expect(m.versions['@tensorflow/tfjs']).toMatch(/^\d+\.\d+\.\d+/);
    expect(m.versions.package).toMatch(/^\d+\.\d+\.\d+/);
    expect(m.machine.cores).toBeGreaterThan(0);
  });
});
