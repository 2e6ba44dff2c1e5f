import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { TaskError } from '../../src/errors';
import { decodeImage, decodeImageBytes, jpegHeader } from '../../src/image/decode';
import { decideOrientation } from '../../src/image/orientation';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'decode-test-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function write(name: string, bytes: Buffer): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, bytes);
  return file;
}

/** A 4 x 2 image whose left column is red and the rest blue. */
function redLeftColumn(): Buffer {
  const raw = Buffer.alloc(4 * 2 * 3);
  for (let y = 0; y < 2; y++)
    for (let x = 0; x < 4; x++) raw.set(x === 0 ? [255, 0, 0] : [0, 0, 255], (y * 4 + x) * 3);
  return raw;
}

const isRed = (data: Uint8Array, i: number) => data[i * 3] > 200 && data[i * 3 + 2] < 60;

async function decodeError(promise: Promise<unknown>): Promise<TaskError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a TaskError');
}

describe('image decoding (spec B.1 formats; cv2.imread IMREAD_COLOR semantics)', () => {
  it('decodes PNG exactly, dropping alpha and expanding grey to RGB', async () => {
    const rgba = Buffer.from([10, 20, 30, 0, 40, 50, 60, 255, 70, 80, 90, 128]);
    const png = await write(
      'rgba.png',
      await sharp(rgba, { raw: { width: 3, height: 1, channels: 4 } })
        .png()
        .toBuffer(),
    );
    const image = await decodeImage(png);
    expect([...image.data]).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    const grey = await write(
      'grey.png',
      await sharp(Buffer.from([0, 128, 255]), { raw: { width: 3, height: 1, channels: 1 } })
        .png()
        .toBuffer(),
    );
    expect([...(await decodeImage(grey)).data]).toEqual([0, 0, 0, 128, 128, 128, 255, 255, 255]);
  });

  it('decodes 16-bit PNG to 8 bits (value >> 8, as OpenCV)', async () => {
    const values = new Uint16Array([0, 5000, 65535]);
    const png = await write(
      'g16.png',
      await sharp(values, { raw: { width: 3, height: 1, channels: 1 } })
        .toColourspace('grey16')
        .png()
        .toBuffer(),
    );
    expect([...(await decodeImage(png)).data]).toEqual([0, 0, 0, 19, 19, 19, 255, 255, 255]);
  });

  it('decodes JPEG, WebP and BMP', async () => {
    const raw = redLeftColumn();
    const input = sharp(raw, { raw: { width: 4, height: 2, channels: 3 } });
    const jpeg = await write(
      'a.jpg',
      await input.clone().jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer(),
    );
    const webp = await write('a.webp', await input.clone().webp({ lossless: true }).toBuffer());
    const bmp = await write(
      'a.bmp',
      await fs.readFile(path.join(__dirname, 'fixtures', 'bmp', 'pil-rgb24.bmp')),
    );
    const j = await decodeImage(jpeg);
    expect([j.width, j.height, isRed(j.data, 0), isRed(j.data, 1)]).toEqual([4, 2, true, false]);
    expect([...(await decodeImage(webp)).data]).toEqual([...raw]);
    const b = await decodeImage(bmp, { expectedSize: { width: 7, height: 5 } });
    expect([b.width, b.height, b.data.length]).toEqual([7, 5, 105]);
  });

  it('resizes in the same call (bilinear, aspect not kept), also for BMP', async () => {
    const flat = await write(
      'flat.png',
      await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 9, g: 99, b: 199 } } })
        .png()
        .toBuffer(),
    );
    const small = await decodeImage(flat, {
      resize: { width: 16, height: 8 },
      expectedSize: { width: 40, height: 30 },
    });
    expect([small.width, small.height, small.data.length]).toEqual([16, 8, 16 * 8 * 3]);
    expect(small.sourceSize).toEqual({ width: 40, height: 30 });
    expect(new Set(small.data)).toEqual(new Set([9, 99, 199]));
    const bmp = await decodeImage(path.join(__dirname, 'fixtures', 'bmp', 'hand-rle8.bmp'), {
      resize: { width: 14, height: 10 },
    });
    expect([bmp.width, bmp.height]).toEqual([14, 10]);
  });

  describe('EXIF orientation against the annotation size (the annotation size is the truth)', () => {
    let rotated: string;
    beforeAll(async () => {
      // Stored 4 x 2 with the red column on the left; EXIF 6 says "rotate 90 degrees clockwise to view".
      const jpeg = await sharp(redLeftColumn(), { raw: { width: 4, height: 2, channels: 3 } })
        .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
        .withMetadata({ orientation: 6 })
        .toBuffer();
      rotated = await write('exif6.jpg', jpeg);
    });

    it('applies EXIF when the annotation has the rotated size (what cv2.imread shows the SDK)', async () => {
      const image = await decodeImage(rotated, { expectedSize: { width: 2, height: 4 } });
      expect([image.width, image.height, image.exif]).toEqual([2, 4, 'applied']);
      // The left column became the top row.
      expect([isRed(image.data, 0), isRed(image.data, 1), isRed(image.data, 2)]).toEqual([true, true, false]);
    });

    it('applies EXIF when there is no annotation to compare with', async () => {
      expect((await decodeImage(rotated)).exif).toBe('applied');
    });

    it('ignores EXIF when the annotation has the stored size: labels were drawn on the stored pixels', async () => {
      const image = await decodeImage(rotated, { expectedSize: { width: 4, height: 2 } });
      expect([image.width, image.height, image.exif]).toEqual([4, 2, 'ignored']);
      expect([isRed(image.data, 0), isRed(image.data, 1), isRed(image.data, 4)]).toEqual([true, false, true]);
    });

    it('fails when neither size matches, naming the file and both sizes', async () => {
      const e = await decodeError(
        decodeImage(rotated, { expectedSize: { width: 3, height: 3 }, displayName: 'p/ds/img/exif6.jpg' }),
      );
      expect(e.kind).toBe('data');
      expect(e.message).toBe(
        'p/ds/img/exif6.jpg: the image is 4x2 (EXIF orientation 6) but its annotation says 3x3 (width x height)',
      );
    });

    it('keeps the size for flips and 180 degrees, so they are applied', () => {
      for (const orientation of [2, 3, 4]) {
        expect(
          decideOrientation({
            stored: { width: 4, height: 2 },
            orientation,
            expected: { width: 4, height: 2 },
          }),
        ).toEqual({
          exif: 'applied',
          size: { width: 4, height: 2 },
        });
      }
    });
  });

  it('an annotation size that does not match the image is an error naming the file', async () => {
    const png = await write(
      's.png',
      await sharp({ create: { width: 5, height: 4, channels: 3, background: '#000' } })
        .png()
        .toBuffer(),
    );
    const e = await decodeError(decodeImage(png, { expectedSize: { width: 4, height: 5 } }));
    expect(e.message).toBe(`${png}: the image is 5x4 but its annotation says 4x5 (width x height)`);
  });

  it.each([
    [
      'garbage with an image extension',
      'garbage.png',
      async () => Buffer.from('this is not an image at all'),
    ],
    [
      'a JPEG cut in half',
      'cut.jpg',
      async () => {
        const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
          .jpeg()
          .toBuffer();
        return jpeg.subarray(0, jpeg.length >> 1);
      },
    ],
    ['a damaged BMP', 'bad.bmp', async () => Buffer.from('BM not really')],
  ])('%s is an error naming the file', async (_what, name, make) => {
    const file = await write(name, await make());
    const e = await decodeError(decodeImage(file, { displayName: `proj/ds/img/${name}` }));
    expect(e.kind).toBe('data');
    expect(e.message).toMatch(
      new RegExp(`^proj/ds/img/${name.replace('.', '\\.')}: cannot decode the image: \\S`),
    );
    expect(e.message).not.toContain('\n');
  });

  it('an empty (0-byte) image is an error naming the file, read from disk or uploaded', async () => {
    // sharp throws "Input Buffer is empty" synchronously, from its constructor, naming nothing.
    for (const name of ['empty.jpg', 'empty.bmp']) {
      const file = await write(name, Buffer.alloc(0));
      const e = await decodeError(decodeImage(file, { displayName: `proj/ds/img/${name}` }));
      expect(e.kind).toBe('data');
      expect(e.message).toBe(`proj/ds/img/${name}: the image file is empty (0 bytes)`);
    }
    const upload = await decodeError(decodeImageBytes(new Uint8Array(0), { displayName: 'upload.png' }));
    expect(upload.message).toBe('upload.png: the image file is empty (0 bytes)');
  });

  it('a missing file is an error naming it', async () => {
    const e = await decodeError(
      decodeImage(path.join(dir, 'nope.jpg'), { displayName: 'proj/ds/img/nope.jpg' }),
    );
    expect(e.message).toMatch(/^proj\/ds\/img\/nope\.jpg: cannot read the image: .*ENOENT/);
  });
});

describe('the JPEG header read without libvips (jpegHeader: image-size)', () => {
  /** What sharp's metadata says: the size as stored and the EXIF orientation. */
  async function sharpSays(bytes: Buffer) {
    const m = await sharp(bytes).metadata();
    return { stored: { width: m.width, height: m.height }, orientation: m.orientation };
  }

  it('says what sharp says for every EXIF orientation, progressive, grey and CMYK JPEGs', async () => {
    const base = sharp(Buffer.alloc(7 * 5 * 3, 90), { raw: { width: 7, height: 5, channels: 3 } });
    const variants: Buffer[] = [
      await base.clone().jpeg().toBuffer(),
      await base.clone().jpeg({ progressive: true }).toBuffer(),
      await base.clone().greyscale().jpeg().toBuffer(),
      await base.clone().toColourspace('cmyk').jpeg().toBuffer(),
      ...(await Promise.all(
        [1, 2, 3, 4, 5, 6, 7, 8].map((orientation) =>
          base.clone().withMetadata({ orientation }).jpeg().toBuffer(),
        ),
      )),
    ];
    for (const bytes of variants) expect(jpegHeader(bytes)).toEqual(await sharpSays(bytes));
    expect(jpegHeader(variants[9])?.orientation).toBe(6); // not vacuous: orientations are read
  });

  it("says what sharp says for the exported fixture project's JPEGs", async () => {
    const root = path.join(__dirname, '..', 'format', 'fixtures', 'tutorial_project');
    const files: string[] = [];
    for (const ds of await fs.readdir(root, { withFileTypes: true })) {
      if (!ds.isDirectory()) continue;
      const img = path.join(root, ds.name, 'img');
      for (const f of await fs.readdir(img).catch(() => []))
        if (/\.jpe?g$/i.test(f)) files.push(path.join(img, f));
    }
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const bytes = await fs.readFile(f);
      expect(jpegHeader(bytes)).toEqual(await sharpSays(bytes));
    }
  });

  it('leaves other formats and unreadable headers to sharp', async () => {
    const png = await sharp(redLeftColumn(), { raw: { width: 4, height: 2, channels: 3 } })
      .png()
      .toBuffer();
    expect(jpegHeader(png)).toBeNull();
    expect(jpegHeader(Buffer.from([0xff, 0xd8, 0xff]))).toBeNull(); // a JPEG cut inside its header
    expect(jpegHeader(Buffer.from('not an image'))).toBeNull();
  });
});

describe('decoding many images at once (file bytes are read into reused buffers)', () => {
  it('gives every image its own pixels, as decoding each alone does', async () => {
    // Distinct noisy JPEGs and PNGs of different sizes, so a buffer reused too early shows as wrong pixels or a
    // decode error.
    const files: string[] = [];
    for (let k = 0; k < 16; k++) {
      const width = 320 + 16 * k;
      const height = 240 + 8 * k;
      const raw = Buffer.alloc(width * height * 3);
      for (let i = 0; i < raw.length; i++) raw[i] = (i * (k + 7) + ((i * 2654435761) >>> 24)) & 255;
      const image = sharp(raw, { raw: { width, height, channels: 3 } });
      const bytes = k % 2 === 0 ? await image.jpeg({ quality: 95 }).toBuffer() : await image.png().toBuffer();
      files.push(await write(`many-${k}.${k % 2 === 0 ? 'jpg' : 'png'}`, bytes));
    }
    const alone: Uint8Array[] = [];
    for (const file of files) alone.push((await decodeImage(file)).data);
    // As inference runs them: a few workers, each starting its next read as soon as its decode ends, so reads
    // of some images overlap decodes of others.
    const order = Array.from({ length: 6 * files.length }, (_, i) => (i * 7) % files.length);
    const got: { k: number; data: Uint8Array }[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < order.length) {
        const k = order[next++];
        got.push({ k, data: (await decodeImage(files[k])).data });
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    expect(got).toHaveLength(order.length);
    for (const { k, data } of got) expect(Buffer.compare(data, alone[k])).toBe(0);
  });
});
