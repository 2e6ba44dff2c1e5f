/**
 * fs's callback readFile and writeFile, as promises. fs.promises' versions go through a FileHandle with a
 * JavaScript step per chunk; with dozens of images in flight that cost measurably more CPU per small file
 * (0.1-0.3 ms per file on the bench machine), for the same syscalls.
 */
import { readFile as readFileCallback, writeFile as writeFileCallback } from 'node:fs';
import { promisify } from 'node:util';

export const readFile = promisify(readFileCallback);
export const writeFile = promisify(writeFileCallback);
