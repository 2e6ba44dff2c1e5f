/** Reading a previous mask for refinement: a PNG of the image's size, any pixel above 127 on the object. */
import sharp, { type OutputInfo } from 'sharp';
import { dataError, errorMessage } from '../../errors';
import type { Grid } from './clicks';

export async function readPreviousMask(file: string, image: Grid): Promise<Uint8Array> {
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await sharp(file).greyscale().raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw dataError(`cannot read the previous mask: ${errorMessage(e).split('\n')[0]}`, { file });
  }
  const { width, height, channels } = raw.info;
  if (width !== image.width || height !== image.height) {
    throw dataError(`the previous mask is ${width}x${height}, the image ${image.width}x${image.height}`, {
      file,
    });
  }
  const mask = new Uint8Array(width * height);
  for (let i = 0; i < mask.length; i++) mask[i] = raw.data[i * channels] > 127 ? 1 : 0;
  return mask;
}
