import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  copyFileAtomic,
  hiddenName,
  syncTreeAndMeasure,
  temporarySibling,
  writeAtomically,
  writeFileAtomic,
  writeFolderAtomically,
  WriteFailure,
  probeWritable,
} from '../../src/util/atomic';

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'atomic-test-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const boom = new Error('boom');

describe('writeAtomically', () => {
  it('writes under a hidden temporary name beside the target, then renames it', async () => {
    const target = path.join(tmp, 'out.bin');
    let seen = '';
    const result = await writeAtomically(target, async (temp) => {
      seen = temp;
      await fs.writeFile(temp, 'whole');
      await expect(fs.access(target)).rejects.toThrow(); // not under the final name yet
      return 42;
    });
    expect(result).toBe(42);
    expect(path.dirname(seen)).toBe(tmp);
    expect(path.basename(seen).startsWith('.out.bin.')).toBe(true);
    expect(await fs.readFile(target, 'utf8')).toBe('whole');
    expect(await fs.readdir(tmp)).toEqual(['out.bin']);
  });

  it('a write that fails leaves no file under the final name, and no temporary', async () => {
    const target = path.join(tmp, 'out.bin');
    await expect(
      writeAtomically(target, async (temp) => {
        await fs.writeFile(temp, 'half');
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await fs.readdir(tmp)).toEqual([]);
  });

  it('a write that fails leaves an existing file as it was', async () => {
    const target = path.join(tmp, 'out.bin');
    await fs.writeFile(target, 'old');
    await expect(
      writeAtomically(target, async (temp) => {
        await fs.writeFile(temp, 'new, half');
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await fs.readFile(target, 'utf8')).toBe('old');
    expect(await fs.readdir(tmp)).toEqual(['out.bin']);
  });

  it('a failed rename removes the temporary too', async () => {
    const target = path.join(tmp, 'full');
    await fs.mkdir(target);
    await fs.writeFile(path.join(target, 'keep'), 'x');
    // A folder cannot be renamed over a non-empty folder.
    await expect(
      writeFolderAtomically(target, (dir) => fs.writeFile(path.join(dir, 'new'), 'y')),
    ).rejects.toThrow(/ENOTEMPTY|EEXIST/);
    expect(await fs.readdir(tmp)).toEqual(['full']);
    expect(await fs.readdir(target)).toEqual(['keep']);
  });

  it('a full disk names the file being written (a failed write() names no path of its own)', async () => {
    const target = path.join(tmp, 'weights.bin');
    // /dev/full answers every write with ENOSPC, as a full disk does: "ENOSPC: no space left on device, write".
    const e = await writeAtomically(target, async (temp) => {
      await fs.writeFile(temp, 'x');
      await fs.writeFile('/dev/full', 'weights');
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WriteFailure);
    expect(e).toMatchObject({
      code: 'ENOSPC',
      path: target,
      message: `cannot write ${target}: no space left on the device (ENOSPC)`,
    });
    expect(await fs.readdir(tmp)).toEqual([]);
  });

  it('a folder that cannot be written is said so, naming it', async () => {
    const target = path.join(tmp, 'results', '00000000');
    const denied = Object.assign(new Error(`EACCES: permission denied, mkdir '${target}.tmp'`), {
      code: 'EACCES',
      path: `${target}.tmp`,
    });
    const e = await writeAtomically(target, () => Promise.reject(denied)).catch((x: unknown) => x);
    expect(e).toMatchObject({
      code: 'EACCES',
      message: `cannot write ${target}: the folder ${path.join(tmp, 'results')} is not writable (EACCES)`,
      cause: denied,
    });
  });

  it('uses the temporary name it is given', async () => {
    const temp = path.join(tmp, '.mine');
    await writeAtomically(
      path.join(tmp, 'out'),
      async (t) => {
        expect(t).toBe(temp);
        await fs.writeFile(t, 'x');
      },
      { temp },
    );
    expect(await fs.readdir(tmp)).toEqual(['out']);
  });

  it('gives every call a temporary name of its own', () => {
    const target = path.join(tmp, 'same');
    expect(temporarySibling(target)).not.toBe(temporarySibling(target));
  });
});

describe('temporary names of long names', () => {
  it('fit in 255 bytes when the name itself does (no ENAMETOOLONG), and still write', async () => {
    const name = `${'é'.repeat(120)}.jpg.json`; // 249 bytes
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    const temp = temporarySibling(path.join(tmp, name));
    expect(Buffer.byteLength(path.basename(temp))).toBeLessThanOrEqual(255);
    expect(path.basename(temp).startsWith('.é')).toBe(true);
    await writeFileAtomic(path.join(tmp, name), 'ok');
    expect(await fs.readFile(path.join(tmp, name), 'utf8')).toBe('ok');
    expect(hiddenName('short', '.x.tmp')).toBe('.short.x.tmp');
  });
});

describe('writeFileAtomic', () => {
  it('replaces an existing file whole: a longer old file leaves nothing behind', async () => {
    const file = path.join(tmp, 'ann.json');
    await fs.writeFile(file, 'x'.repeat(10_000));
    await writeFileAtomic(file, '{"short":true}');
    expect(await fs.readFile(file, 'utf8')).toBe('{"short":true}');
    await writeFileAtomic(file, Uint8Array.from([1, 2, 3]));
    expect([...(await fs.readFile(file))]).toEqual([1, 2, 3]);
    expect(await fs.readdir(tmp)).toEqual(['ann.json']);
  });

  it('replaces a file atomically: a concurrent reader sees the old or the new content, never a part', async () => {
    const file = path.join(tmp, 'ann.json');
    const versions = ['a', 'b'].map((c) => JSON.stringify({ fill: c.repeat(1 << 20) }));
    await writeFileAtomic(file, versions[0]);
    let writing = true;
    const writes = (async () => {
      for (let i = 1; i <= 20; i++) await writeFileAtomic(file, versions[i % 2]);
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      const text = await fs.readFile(file, 'utf8');
      expect(versions.includes(text)).toBe(true);
      reads++;
    }
    await writes;
    expect(reads).toBeGreaterThan(0);
    expect(await fs.readdir(tmp)).toEqual(['ann.json']);
  });

  it('into a missing folder fails and leaves nothing', async () => {
    await expect(writeFileAtomic(path.join(tmp, 'no', 'file'), 'x')).rejects.toThrow(/ENOENT/);
    expect(await fs.readdir(tmp)).toEqual([]);
  });
});

describe('copyFileAtomic', () => {
  it('copies, replacing the target whole', async () => {
    const source = path.join(tmp, 'a');
    const target = path.join(tmp, 'b');
    await fs.writeFile(source, 'new');
    await fs.writeFile(target, 'older and longer');
    await copyFileAtomic(source, target);
    expect(await fs.readFile(target, 'utf8')).toBe('new');
    expect((await fs.readdir(tmp)).sort()).toEqual(['a', 'b']);
  });

  it('a copy that fails leaves no file under the final name', async () => {
    await expect(copyFileAtomic(path.join(tmp, 'missing'), path.join(tmp, 'b'))).rejects.toThrow(/ENOENT/);
    expect(await fs.readdir(tmp)).toEqual([]);
  });
});

describe('writeFolderAtomically', () => {
  it('creates the temporary folder, fills it, renames it; a failure removes it with its content', async () => {
    const target = path.join(tmp, 'model');
    const bytes = await writeFolderAtomically(target, async (dir) => {
      await fs.mkdir(path.join(dir, 'sub'));
      await fs.writeFile(path.join(dir, 'config.json'), '{}');
      await fs.writeFile(path.join(dir, 'sub', 'w.bin'), Buffer.alloc(10));
      return syncTreeAndMeasure(dir);
    });
    expect(bytes).toBe(12);
    expect((await fs.readdir(target)).sort()).toEqual(['config.json', 'sub']);

    const other = path.join(tmp, 'other');
    await expect(
      writeFolderAtomically(other, async (dir) => {
        await fs.writeFile(path.join(dir, 'config.json'), '{}');
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await fs.readdir(tmp)).toEqual(['model']);
  });
});

describe('probeWritable', () => {
  it('writes and removes a probe in the folder, creating the folder if missing', async () => {
    await probeWritable(tmp);
    expect(await fs.readdir(tmp)).toEqual([]);
    await probeWritable(path.join(tmp, 'results'));
    expect(await fs.readdir(path.join(tmp, 'results'))).toEqual([]);
  });

  it('names the folder when no probe can be written there', async () => {
    await fs.writeFile(path.join(tmp, 'results'), 'a file, not a folder');
    await expect(probeWritable(path.join(tmp, 'results'))).rejects.toMatchObject({
      path: path.join(tmp, 'results'),
      message: expect.stringMatching(/^cannot write .*results: a probe file could not be written in it \(/),
    });
  });
});
