/**
 * Whole-file reads of images into reused buffers, through fs's callback API as promises (as src/util/atomic.ts
 * writes with fs's callback writeFile, and src/util/regular-file.ts reads). fs.promises' versions go through a
 * FileHandle with a JavaScript step per chunk; with dozens of images in flight that cost measurably more CPU
 * per small file (0.1-0.3 ms per file on the bench machine), for the same syscalls. Only regular files are
 * read (a FIFO would block the read forever).
 */
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { openRegularFile } from '../util/regular-file';

const read = promisify(fs.read);
const close = promisify(fs.close);

/** A whole file's bytes in a reused buffer: valid until `release`, after which the buffer holds another file. */
export interface FileLease {
  readonly bytes: Buffer;
  release(): void;
}

/**
 * Whole-file reads into a few reused buffers. Inference reads hundreds of images of a few hundred KB each; a
 * new buffer per file is external memory that V8 counts towards full collections, for bytes that are dead as
 * soon as the image is decoded.
 */
export class ReusedReadBuffers {
  private readonly free: Buffer[] = [];

  /**
   * @param keep how many free buffers to keep
   * @param maxKeptBytes a buffer larger than this is not kept: for a rare huge file, a new buffer costs little
   *   next to its decoding, and keeping it would hold that memory for the rest of the task
   */
  constructor(
    private readonly keep: number,
    private readonly maxKeptBytes = 8 * 1024 * 1024,
  ) {}

  async read(file: string): Promise<FileLease> {
    const { fd, size } = await openRegularFile(file);
    let buffer: Buffer | undefined;
    try {
      buffer = this.take(size + 1);
      let length = 0;
      // Until EOF: the size is only a hint (a file may grow meanwhile); +1 so EOF is seen without a regrow.
      for (;;) {
        if (length === buffer.length) {
          const bigger = Buffer.allocUnsafeSlow(buffer.length * 2);
          buffer.copy(bigger, 0, 0, length);
          buffer = bigger;
        }
        const { bytesRead } = await read(fd, buffer, length, buffer.length - length, null);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      const held = buffer;
      let released = false;
      return {
        bytes: held.subarray(0, length),
        release: () => {
          if (released) return;
          released = true;
          this.giveBack(held);
        },
      };
    } catch (e) {
      if (buffer !== undefined) this.giveBack(buffer);
      throw e;
    } finally {
      await close(fd);
    }
  }

  private giveBack(buffer: Buffer): void {
    if (this.free.length < this.keep && buffer.length <= this.maxKeptBytes) this.free.push(buffer);
  }

  /** The smallest free buffer of at least `size` bytes, or a new one (rounded up to 64 KiB). */
  private take(size: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      if (this.free[i].length >= size && (best < 0 || this.free[i].length < this.free[best].length)) best = i;
    }
    if (best >= 0) return this.free.splice(best, 1)[0];
    return Buffer.allocUnsafeSlow(Math.ceil(size / 65536) * 65536);
  }
}
