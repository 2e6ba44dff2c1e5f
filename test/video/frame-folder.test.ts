import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { listFrameFiles, probeFrameFolder, readFrameFolder } from '../../src/video/frame-folder';
import type { RgbFrame } from '../../src/video/frame';
import { smoothFrame, taskError } from './helpers';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'frame-folder-'));
});
afterEach(() => fsp.rm(dir, { recursive: true, force: true }));

async function writeFrame(name: string, frame: RgbFrame): Promise<void> {
  const image = sharp(Buffer.from(frame.rgb), {
    raw: { width: frame.width, height: frame.height, channels: 3 },
  });
  await fsp.writeFile(
    path.join(dir, name),
    await (name.endsWith('.png') ? image.png() : image.jpeg()).toBuffer(),
  );
}

async function readAll(opts: { shortSide?: number } = {}): Promise<RgbFrame[]> {
  const out: RgbFrame[] = [];
  for await (const f of readFrameFolder(dir, opts)) out.push(f);
  return out;
}

describe('readFrameFolder', () => {
  it('reads .jpg, .jpeg and .png frames in name order, other files aside, PNGs exactly', async () => {
    const frames = [0, 1, 2].map((t) => smoothFrame(20, 10, t));
    await writeFrame('00002.png', frames[2]);
    await writeFrame('00000.png', frames[0]);
    await writeFrame('00001.JPEG', frames[1]);
    await fsp.writeFile(path.join(dir, 'notes.txt'), 'not a frame');
    expect(await listFrameFiles(dir)).toEqual(['00000.png', '00001.JPEG', '00002.png']);
    expect(await probeFrameFolder(dir)).toMatchObject({ width: 20, height: 10, frames: 3 });
    const back = await readAll();
    expect(back.map((f) => [f.width, f.height])).toEqual([
      [20, 10],
      [20, 10],
      [20, 10],
    ]);
    expect(back[0].rgb).toEqual(frames[0].rgb);
    expect(back[2].rgb).toEqual(frames[2].rgb);
  });

  it('scales to a short side, keeping the aspect', async () => {
    await writeFrame('a.png', smoothFrame(40, 20, 0));
    await writeFrame('b.png', smoothFrame(40, 20, 1));
    expect((await readAll({ shortSide: 10 })).map((f) => [f.width, f.height, f.rgb.length])).toEqual([
      [20, 10, 600],
      [20, 10, 600],
    ]);
  });

  it('a frame of another size, an empty folder and a missing one are errors naming the file', async () => {
    await writeFrame('a.png', smoothFrame(20, 10, 0));
    await writeFrame('b.png', smoothFrame(22, 10, 0));
    const e = await taskError(readAll());
    expect(e.context.file).toBe(path.join(dir, 'b.png'));
    expect(e.message).toContain('the frame is 22x10, the first frame (a.png) 20x10');
    const empty = path.join(dir, 'empty');
    await fsp.mkdir(empty);
    expect((await taskError(listFrameFiles(empty))).message).toContain('no frames (.jpg, .jpeg, .png)');
    expect((await taskError(listFrameFiles(path.join(dir, 'nope')))).message).toContain('folder not found');
  });
});
