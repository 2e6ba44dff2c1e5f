/** Item (image and video) file names in a project (spec B.1, B.8; docs/supervisely-video-format.md V.1.2). */

/** `SUPPORTED_IMG_EXTS`, compared lower-cased. */
export const SUPPORTED_IMAGE_EXTENSIONS: readonly string[] = [
  '.jpg',
  '.jpeg',
  '.mpo',
  '.bmp',
  '.png',
  '.webp',
];

/** Python's `os.path.splitext` on a base name: leading dots do not start an extension (".png" has none). */
export function splitExt(name: string): [stem: string, ext: string] {
  const dot = name.lastIndexOf('.');
  let start = 0;
  while (start < name.length && name[start] === '.') start++;
  if (dot <= start) return [name, ''];
  return [name.slice(0, dot), name.slice(dot)];
}

export function hasSupportedImageExtension(name: string): boolean {
  return SUPPORTED_IMAGE_EXTENSIONS.includes(splitExt(name)[1].toLowerCase());
}

/** The SDK's `ALLOWED_VIDEO_EXTENSIONS` (video format V.1.2), compared lower-cased. */
export const SUPPORTED_VIDEO_EXTENSIONS: readonly string[] = [
  '.avi',
  '.mp4',
  '.3gp',
  '.flv',
  '.webm',
  '.wmv',
  '.mov',
  '.mkv',
];

export function hasSupportedVideoExtension(name: string): boolean {
  return SUPPORTED_VIDEO_EXTENSIONS.includes(splitExt(name)[1].toLowerCase());
}

/** The two annotation names the SDK tries for an image: `<image>.json` (current), then `<stem>.json` (old). */
export function annotationNameCandidates(imageName: string): [current: string, old: string] {
  return [`${imageName}.json`, `${splitExt(imageName)[0]}.json`];
}

/** A dataset or item name that is safe as one path component. */
export function isPlainFileName(name: string): boolean {
  return name.length > 0 && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}
