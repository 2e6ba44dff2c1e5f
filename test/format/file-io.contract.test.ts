import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReusedReadBuffers } from '../../src/format/file-io';

let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'file-io-'));
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function bytesOf(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 255;
  return out;
}

async function fileOf(name: string, bytes: Buffer): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, bytes);
  return file;
}

describe('ReusedReadBuffers', () => {
  test('reads whole files of any size exactly, the empty file included', async () => {
    const reads = new ReusedReadBuffers(4);
    for (const length of [0, 1, 65535, 65536, 65537, 300_000]) {
      const want = bytesOf(length, length);
      const lease = await reads.read(await fileOf(`f${length}`, want));
      expect(lease.bytes.length).toBe(length);
      expect(Buffer.compare(lease.bytes, want)).toBe(0);
      lease.release();
    }
  });

  test('a released buffer serves the next read; a held one never does', async () => {
    const reads = new ReusedReadBuffers(4);
    const a = await fileOf('a', bytesOf(100_000, 1));
    const b = await fileOf('b', bytesOf(90_000, 2));
    const first = await reads.read(a);
    const held = await reads.read(b);
    expect(held.bytes.buffer).not.toBe(first.bytes.buffer);
    const firstBuffer = first.bytes.buffer;
    first.release();
    first.release(); // twice is harmless: the buffer is not handed out twice
    const second = await reads.read(b);
    const third = await reads.read(b);
    expect(second.bytes.buffer).toBe(firstBuffer);
    expect(third.bytes.buffer).not.toBe(firstBuffer);
    // The held lease's bytes were not touched by the reads that reused the other buffer.
    expect(Buffer.compare(held.bytes, bytesOf(90_000, 2))).toBe(0);
    expect(Buffer.compare(second.bytes, bytesOf(90_000, 2))).toBe(0);
  });

  test('a buffer too small for the next file is not reused for it', async () => {
    const reads = new ReusedReadBuffers(4);
    const small = await reads.read(await fileOf('small', bytesOf(10, 3)));
    const smallBuffer = small.bytes.buffer;
    small.release();
    const big = await reads.read(await fileOf('big', bytesOf(200_000, 4)));
    expect(big.bytes.buffer).not.toBe(smallBuffer);
    expect(Buffer.compare(big.bytes, bytesOf(200_000, 4))).toBe(0);
  });

  test('keeps at most `keep` buffers', async () => {
    const reads = new ReusedReadBuffers(1);
    const file = await fileOf('k', bytesOf(1000, 5));
    const x = await reads.read(file);
    const y = await reads.read(file);
    x.release();
    y.release(); // not kept: the pool is full
    const z = await reads.read(file);
    const w = await reads.read(file);
    expect(z.bytes.buffer).toBe(x.bytes.buffer);
    expect(w.bytes.buffer).not.toBe(y.bytes.buffer);
  });

  test('does not keep a buffer larger than maxKeptBytes', async () => {
    const reads = new ReusedReadBuffers(4, 100_000);
    const big = await reads.read(await fileOf('over', bytesOf(150_000, 8)));
    big.release();
    const small = await reads.read(await fileOf('under', bytesOf(10, 9)));
    expect(small.bytes.buffer).not.toBe(big.bytes.buffer);
    small.release();
    const again = await reads.read(await fileOf('under', bytesOf(10, 9)));
    expect(again.bytes.buffer).toBe(small.bytes.buffer);
  });

  test('refuses a FIFO before reading it (a read would wait for a writer forever), and the pool still works', async () => {
    const fifo = path.join(dir, 'fifo');
    try {
      execFileSync('mkfifo', [fifo]);
    } catch {
      return; // no mkfifo here (not Linux): nothing to test with
    }
    const reads = new ReusedReadBuffers(2);
    await expect(reads.read(fifo)).rejects.toMatchObject({
      code: 'ENOTREG',
      message: `'${fifo}' is a FIFO (named pipe), not a regular file`,
    });
    const lease = await reads.read(await fileOf('after-fifo', bytesOf(5, 7)));
    expect(Buffer.compare(lease.bytes, bytesOf(5, 7))).toBe(0);
  });

  test('a missing file rejects with its error, and the pool still works', async () => {
    const reads = new ReusedReadBuffers(2);
    await expect(reads.read(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    const lease = await reads.read(await fileOf('after', bytesOf(5, 7)));
    expect(Buffer.compare(lease.bytes, bytesOf(5, 7))).toBe(0);
  });
});
