import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readRegularFile } from '../../src/util/regular-file';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'regular-file-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('reading only regular files (a FIFO or a device would block or never end)', () => {
  it('reads a regular file, through a link too, as bytes or text', async () => {
    const file = path.join(dir, 'a.json');
    await fs.writeFile(file, '{"a": 1}');
    await fs.symlink(file, path.join(dir, 'link.json'));
    expect((await readRegularFile(file)).toString()).toBe('{"a": 1}');
    expect(await readRegularFile(path.join(dir, 'link.json'), 'utf8')).toBe('{"a": 1}');
  });

  it('refuses a character device behind a link, and a directory, saying what they are', async () => {
    const device = path.join(dir, 'weights.bin');
    await fs.symlink('/dev/null', device);
    await expect(readRegularFile(device)).rejects.toMatchObject({
      code: 'ENOTREG',
      message: `'${device}' is a character device, not a regular file`,
    });
    await expect(readRegularFile(dir, 'utf8')).rejects.toMatchObject({
      code: 'ENOTREG',
      message: `'${dir}' is a directory, not a regular file`,
    });
  });

  it('leaves a missing file to Node (ENOENT)', async () => {
    await expect(readRegularFile(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
