/**
 * Hand-made ustar archives for tests, including the hostile ones node-tar refuses to create (absolute paths,
 * "..", devices, fifos, links anywhere). Each header is written byte by byte after POSIX.1-1988 ustar.
 */

export type RawEntryType =
  | 'file'
  | 'dir'
  | 'symlink'
  | 'hardlink'
  | 'chardev'
  | 'blockdev'
  | 'fifo'
  /** GNU's old sparse file (type S); its sparse map is left empty. */
  | 'sparse'
  /** A pax extended header (type x) for the next entry; `content` is its records (see `paxRecord`). */
  | 'pax';

export interface RawEntry {
  path: string;
  type?: RawEntryType;
  content?: Buffer | string;
  linkpath?: string;
}

const TYPE_FLAGS: Record<RawEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  chardev: '3',
  blockdev: '4',
  dir: '5',
  fifo: '6',
  sparse: 'S',
  pax: 'x',
};

/** Types whose entries carry data after the header. */
const WITH_DATA: ReadonlySet<RawEntryType> = new Set(['file', 'sparse', 'pax']);

/** One pax record, `<length> <key>=<value>\n`, the length counting itself. */
export function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(rest) + 1;
  while (String(length).length + Buffer.byteLength(rest) !== length) length += 1;
  return `${length}${rest}`;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(entry: RawEntry, size: number): Buffer {
  const h = Buffer.alloc(512, 0);
  const type = entry.type ?? 'file';
  if (Buffer.byteLength(entry.path) > 100) throw new Error('tar-builder: path longer than 100 bytes');
  h.write(entry.path, 0, 100, 'utf8');
  h.write(octal(type === 'dir' ? 0o755 : 0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(1_700_000_000, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(TYPE_FLAGS[type], 156, 'ascii');
  h.write(entry.linkpath ?? '', 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** A tar archive of `entries`, ended by two zero blocks. */
export function buildTar(entries: readonly RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = WITH_DATA.has(entry.type ?? 'file') ? Buffer.from(entry.content ?? '') : Buffer.alloc(0);
    parts.push(header(entry, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512, 0));
  }
  parts.push(Buffer.alloc(1024, 0));
  return Buffer.concat(parts);
}
