import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { gzipSync } from 'zlib';
import { TaskError } from '../../src/errors';
import { listTarEntries, packModelDir, unpackModelTar, unsafeEntries } from '../../src/model-state/tar';
import { buildTar, paxRecord } from './tar-builder';
import type { RawEntry } from './tar-builder';

let work: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'model-tar-'));
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

function makeModelDir(name = 'ckpt'): { dir: string; weights: Buffer } {
  const dir = path.join(work, name);
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  const weights = randomBytes(70_000);
  fs.writeFileSync(path.join(dir, 'config.json'), '{"settings": {}}');
  fs.writeFileSync(path.join(dir, 'weights.bin'), weights);
  fs.writeFileSync(path.join(dir, 'sub', 'model.json'), '{"a": 1}');
  return { dir, weights };
}

function writeTar(name: string, entries: readonly RawEntry[]): string {
  const file = path.join(work, name);
  fs.writeFileSync(file, buildTar(entries));
  return file;
}

/** The TaskError `work` rejects with (anything else, or success, fails the test). */
async function taskError(work: Promise<unknown>): Promise<TaskError> {
  try {
    await work;
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a TaskError, but it succeeded');
}

function unpackError(file: string, dir = path.join(work, 'out')): Promise<TaskError> {
  return taskError(unpackModelTar({ file, dir }));
}

function packError(dir: string, file: string): Promise<TaskError> {
  return taskError(packModelDir({ dir, file }));
}

/** Nothing half-written: no destination and no temporary folder left next to it. */
function expectNothingLeft(dir = path.join(work, 'out')): void {
  expect(fs.existsSync(dir)).toBe(false);
  expect(fs.readdirSync(path.dirname(dir)).filter((n) => n.includes('.unpack-'))).toEqual([]);
}

describe('pack (spec C.1)', () => {
  it('writes an uncompressed tar with config.json and the weights at the top level', async () => {
    const { dir } = makeModelDir();
    const file = path.join(work, 'model.tar');
    const result = await packModelDir({ dir, file });
    expect(result.entries[0]).toBe('config.json');
    expect([...result.entries].sort()).toEqual(['config.json', 'sub/', 'sub/model.json', 'weights.bin']);
    const head = fs.readFileSync(file).subarray(257, 262).toString('ascii');
    expect(head).toBe('ustar');
    expect((await listTarEntries(file)).map((e) => e.path)).toEqual(result.entries);
    expect(result.bytes).toBe(fs.statSync(file).size);
  });

  it('is read by Python tarfile the way the agent reads model tars', async () => {
    const { dir, weights } = makeModelDir();
    const file = path.join(work, 'model.tar');
    await packModelDir({ dir, file });
    const out = path.join(work, 'py');
    execFileSync('python3', [
      '-c',
      'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])',
      file,
      out,
    ]);
    expect(fs.readFileSync(path.join(out, 'weights.bin')).equals(weights)).toBe(true);
    expect(fs.readFileSync(path.join(out, 'sub', 'model.json'), 'utf8')).toBe('{"a": 1}');
  });

  it('refuses a folder without config.json, an empty folder, and a tar inside the folder', async () => {
    const empty = path.join(work, 'empty');
    fs.mkdirSync(empty);
    await expect(packModelDir({ dir: empty, file: path.join(work, 'a.tar') })).rejects.toThrow(/empty/);
    fs.writeFileSync(path.join(empty, 'weights.bin'), 'x');
    await expect(packModelDir({ dir: empty, file: path.join(work, 'a.tar') })).rejects.toThrow(
      /no config.json/,
    );
    const { dir } = makeModelDir();
    await expect(packModelDir({ dir, file: path.join(dir, 'self.tar') })).rejects.toThrow(
      /inside the folder/,
    );
    expect(fs.readdirSync(work).filter((n) => n.includes('.pack-'))).toEqual([]);
  });

  it('refuses a FIFO (here after a link to it, which made node-tar stop without a word), naming it', async () => {
    const { dir } = makeModelDir();
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    fs.symlinkSync('pipe', path.join(dir, 'a_link'));
    execFileSync('mkfifo', [path.join(dir, 'sub', 'deeper')]);
    const file = path.join(work, 'model.tar');
    const e = await packError(dir, file);
    expect(e.context.file).toBe(dir);
    expect(e.message).toContain('refusing to pack what unpack would refuse: ');
    expect(e.message).toContain('"pipe" is a FIFO (only files, folders and links are allowed)');
    expect(e.message).toContain('"sub/deeper" is a FIFO');
    expect(fs.existsSync(file)).toBe(false);
  });

  it('refuses links that unpack would refuse, naming them, and packs links inside the folder', async () => {
    const cases: [string, string, RegExp][] = [
      ['abs', '/etc/passwd', /"abs" is a link to "\/etc\/passwd", outside the folder/],
      ['up', '../outside.txt', /"up" is a link to "\.\.\/outside\.txt", outside the folder/],
      ['dangling', 'nothing-here', /the link "dangling" points to nothing/],
    ];
    fs.writeFileSync(path.join(work, 'outside.txt'), 'x');
    for (const [name, target, message] of cases) {
      const { dir } = makeModelDir(`ckpt-${name}`);
      fs.symlinkSync(target, path.join(dir, name));
      const file = path.join(work, `${name}.tar`);
      expect((await packError(dir, file)).message).toMatch(message);
      expect(fs.existsSync(file)).toBe(false);
    }
    // Inside by text, outside in fact: "q" is the folder itself, and "sub/z" climbs out through it.
    const { dir: chained } = makeModelDir('ckpt-chain');
    fs.symlinkSync('.', path.join(chained, 'q'));
    fs.symlinkSync('../q/..', path.join(chained, 'sub', 'z'));
    expect((await packError(chained, path.join(work, 'chain.tar'))).message).toMatch(
      /the link "sub\/z" resolves outside the folder/,
    );
    const { dir, weights } = makeModelDir('ckpt-inside');
    fs.symlinkSync('weights.bin', path.join(dir, 'weights-link.bin'));
    const file = path.join(work, 'inside.tar');
    await packModelDir({ dir, file });
    const out = path.join(work, 'inside-out');
    await unpackModelTar({ file, dir: out });
    expect(fs.readlinkSync(path.join(out, 'weights-link.bin'))).toBe('weights.bin');
    expect(fs.readFileSync(path.join(out, 'weights-link.bin')).equals(weights)).toBe(true);
  });
});

describe('unpack (spec C.1)', () => {
  it('round-trips a packed folder byte for byte', async () => {
    const { dir, weights } = makeModelDir();
    const file = path.join(work, 'model.tar');
    await packModelDir({ dir, file });
    const out = path.join(work, 'out');
    const result = await unpackModelTar({ file, dir: out });
    expect([...result.entries].sort()).toEqual(['config.json', 'sub', 'sub/model.json', 'weights.bin']);
    expect(fs.readFileSync(path.join(out, 'weights.bin')).equals(weights)).toBe(true);
    expect(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).toBe('{"settings": {}}');
    expect(fs.readdirSync(work).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('accepts "./"-prefixed entries and a root entry (tar -C dir . / the agent\'s own tars)', async () => {
    const file = writeTar('dot.tar', [
      { path: './', type: 'dir' },
      { path: './config.json', content: '{}' },
      { path: './w/', type: 'dir' },
      { path: './w/x.bin', content: 'abc' },
      { path: './alias', type: 'symlink', linkpath: 'w/x.bin' },
      { path: './hard', type: 'hardlink', linkpath: './w/x.bin' },
    ]);
    const out = path.join(work, 'out');
    await unpackModelTar({ file, dir: out });
    expect(fs.readFileSync(path.join(out, 'w', 'x.bin'), 'utf8')).toBe('abc');
    expect(fs.readFileSync(path.join(out, 'alias'), 'utf8')).toBe('abc');
    expect(fs.readFileSync(path.join(out, 'hard'), 'utf8')).toBe('abc');
  });

  it("unpacks into an existing empty folder (like the agent's model/)", async () => {
    const file = writeTar('m.tar', [{ path: 'config.json', content: '{}' }]);
    const out = path.join(work, 'out');
    fs.mkdirSync(out);
    await unpackModelTar({ file, dir: out });
    expect(fs.readdirSync(out)).toEqual(['config.json']);
  });

  it('refuses a non-empty destination unless asked to replace it, and then replaces it', async () => {
    const file = writeTar('m.tar', [{ path: 'config.json', content: '{"new": 1}' }]);
    const out = path.join(work, 'out');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'old.txt'), 'old');
    await expect(unpackModelTar({ file, dir: out })).rejects.toThrow(/not empty/);
    expect(fs.readdirSync(out)).toEqual(['old.txt']);
    await unpackModelTar({ file, dir: out, replace: true });
    expect(fs.readdirSync(out)).toEqual(['config.json']);
  });

  it.each<[string, RawEntry[], RegExp]>([
    [
      'an absolute path',
      [
        { path: 'config.json', content: '{}' },
        { path: '/tmp/evil', content: 'x' },
      ],
      /"\/tmp\/evil" is an absolute path/,
    ],
    [
      'a ".." path',
      [
        { path: 'config.json', content: '{}' },
        { path: 'a/../../evil', content: 'x' },
      ],
      /climbs out of the folder/,
    ],
    [
      'a link to an absolute path',
      [
        { path: 'config.json', content: '{}' },
        { path: 'l', type: 'symlink', linkpath: '/etc' },
      ],
      /link to "\/etc", outside/,
    ],
    [
      'a link climbing out',
      [
        { path: 'config.json', content: '{}' },
        { path: 'a/l', type: 'symlink', linkpath: '../../x' },
      ],
      /outside the folder/,
    ],
    [
      'a hard link to a file outside',
      [
        { path: 'config.json', content: '{}' },
        { path: 'h', type: 'hardlink', linkpath: '/etc/passwd' },
      ],
      /hard link/,
    ],
    [
      'a hard link to a later entry',
      [
        { path: 'h', type: 'hardlink', linkpath: 'config.json' },
        { path: 'config.json', content: '{}' },
      ],
      /not an earlier file/,
    ],
    [
      'a file written through a link',
      [
        { path: 'config.json', content: '{}' },
        { path: 'l', type: 'symlink', linkpath: 'd' },
        { path: 'l/x', content: 'x' },
      ],
      /through the link "l"/,
    ],
    [
      'a character device',
      [
        { path: 'config.json', content: '{}' },
        { path: 'tty', type: 'chardev' },
      ],
      /is a CharacterDevice/,
    ],
    [
      'a block device',
      [
        { path: 'config.json', content: '{}' },
        { path: 'sda', type: 'blockdev' },
      ],
      /is a BlockDevice/,
    ],
    [
      'a fifo',
      [
        { path: 'config.json', content: '{}' },
        { path: 'pipe', type: 'fifo' },
      ],
      /is a FIFO/,
    ],
  ])('refuses %s, and leaves nothing behind', async (_name, entries, message) => {
    const e = await unpackError(writeTar('bad.tar', entries));
    expect(e.message).toMatch(/refusing to unpack an unsafe tar/);
    expect(e.message).toMatch(message);
    expect(e.context.file).toBe(path.join(work, 'bad.tar'));
    expectNothingLeft();
  });

  it('refuses GNU sparse entries (type S, and the pax sparse format) instead of leaving the file out', async () => {
    const sparse = writeTar('sparse.tar', [
      { path: 'config.json', content: '{}' },
      { path: 'weights.bin', type: 'sparse', content: Buffer.alloc(512) },
    ]);
    expect((await unpackError(sparse)).message).toContain(
      '"weights.bin" is a sparse file (GNU tar --sparse), which unpack does not write: pack the folder again ' +
        'without --sparse (sly-nn pack <dir> model.tar)',
    );
    expectNothingLeft();
    // GNU tar --format=posix --sparse: a pax header of GNU.sparse records, then a plain file holding the map.
    const pax = writeTar('pax-sparse.tar', [
      { path: 'config.json', content: '{}' },
      {
        path: 'PaxHeaders/weights.bin',
        type: 'pax',
        content: [
          paxRecord('GNU.sparse.major', '1'),
          paxRecord('GNU.sparse.minor', '0'),
          paxRecord('GNU.sparse.name', 'weights.bin'),
          paxRecord('GNU.sparse.realsize', '1048576'),
        ].join(''),
      },
      { path: 'GNUSparseFile.0/weights.bin', content: '1\n0\n0\n' },
    ]);
    expect((await unpackError(pax)).message).toContain('"weights.bin" is a sparse file (GNU tar --sparse)');
    expectNothingLeft();
  });

  it('refuses a chain of links that is inside by text but outside in fact', async () => {
    // "q" → "." is harmless alone; through it, "x/y/z" → "../../q/.." reaches the parent of the folder.
    const file = writeTar('chain.tar', [
      { path: 'config.json', content: '{}' },
      { path: 'q', type: 'symlink', linkpath: '.' },
      { path: 'x/', type: 'dir' },
      { path: 'x/y/', type: 'dir' },
      { path: 'x/y/z', type: 'symlink', linkpath: '../../q/..' },
    ]);
    const e = await unpackError(file);
    expect(e.message).toMatch(/"x\/y\/z" resolves outside the folder/);
    expectNothingLeft();
  });

  it('refuses a dangling link', async () => {
    const file = writeTar('dangling.tar', [
      { path: 'config.json', content: '{}' },
      { path: 'l', type: 'symlink', linkpath: 'missing' },
    ]);
    expect((await unpackError(file)).message).toMatch(/"l" points to nothing/);
    expectNothingLeft();
  });

  it('says clearly when the tar is empty, truncated or not a tar', async () => {
    const good = writeTar('good.tar', [
      { path: 'config.json', content: '{}' },
      { path: 'weights.bin', content: randomBytes(5000) },
    ]);
    const cases: [string, Buffer, RegExp][] = [
      ['zero.tar', Buffer.alloc(0), /empty \(0 bytes\)/],
      ['zeros.tar', Buffer.alloc(10240), /no entries/],
      [
        'truncated.tar',
        fs.readFileSync(good).subarray(0, 3000),
        /truncated \(it ends inside or after "weights.bin"\)/,
      ],
      ['text.tar', Buffer.from('this is not a tar\n'.repeat(100)), /not a tar archive/],
    ];
    for (const [name, data, message] of cases) {
      const file = path.join(work, name);
      fs.writeFileSync(file, data);
      const e = await unpackError(file);
      expect(e.message).toMatch(message);
      expectNothingLeft();
    }
    expect((await unpackError(path.join(work, 'missing.tar'))).message).toMatch(/not found/);
  });

  it.each([
    ['gzip', (tar: Buffer) => gzipSync(tar), 'tar -xzf'],
    ['zstd', (tar: Buffer) => Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tar]), 'tar --zstd -xf'],
    ['bzip2', (tar: Buffer) => Buffer.concat([Buffer.from('BZh91AY&SY'), tar]), 'tar -xjf'],
    ['xz', (tar: Buffer) => Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]), tar]), 'tar -xJf'],
  ])(
    'refuses a %s-compressed tar before inflating anything, saying how to repack it',
    async (name, compress, how) => {
      const tarBytes = buildTar([
        { path: 'config.json', content: '{}' },
        { path: 'weights.bin', content: Buffer.alloc(100_000) },
      ]);
      const file = path.join(work, `model.tar.${name}`);
      fs.writeFileSync(file, compress(tarBytes));
      const e = await unpackError(file);
      expect(e.context.file).toBe(file);
      expect(e.message).toContain(
        `the file is ${name}-compressed, but a model tar must be an uncompressed tar`,
      );
      expect(e.message).toContain(
        `(${how} ${file} -C <dir>), then pack the folder (sly-nn pack <dir> model.tar)`,
      );
      expectNothingLeft();
    },
  );

  it('says "not a tar archive" for bytes that are not one, and "damaged" for a tar damaged after an entry', async () => {
    // 0xa5 in the numeric fields is what node-tar reports as "invalid base256 encoding".
    const junk = path.join(work, 'junk.tar');
    fs.writeFileSync(junk, Buffer.alloc(4096, 0xa5));
    const e = await unpackError(junk);
    expect(e.message).toBe(
      `${junk}: not a tar archive: its first 512 bytes are not a tar header (a model is an uncompressed tar, ` +
        'as tar -cf or sly-nn pack write it)',
    );
    const good = buildTar([{ path: 'config.json', content: '{}' }]);
    const damaged = path.join(work, 'damaged.tar');
    fs.writeFileSync(damaged, Buffer.concat([good.subarray(0, 1024), Buffer.alloc(4096, 0xa5)]));
    expect((await unpackError(damaged)).message).toMatch(
      /damaged\.tar: the tar file is damaged after "config\.json" \(.*\); download or copy it again/,
    );
    expectNothingLeft();
  });

  it('requires config.json at the top level, with a hint when it is one folder down', async () => {
    const nested = writeTar('nested.tar', [
      { path: 'ckpt/', type: 'dir' },
      { path: 'ckpt/config.json', content: '{}' },
    ]);
    const e = await unpackError(nested);
    expect(e.message).toMatch(
      /no config.json at the top level of the tar \(found "ckpt\/config.json": pack the folder's contents/,
    );
    expectNothingLeft();
    const out = path.join(work, 'plain');
    await unpackModelTar({ file: nested, dir: out, requireConfig: false });
    expect(fs.existsSync(path.join(out, 'ckpt', 'config.json'))).toBe(true);
  });
});

describe('unsafeEntries (pure check)', () => {
  it('passes an ordinary model listing', () => {
    expect(
      unsafeEntries([
        { path: 'config.json', type: 'File', size: 2 },
        { path: 'w/', type: 'Directory', size: 0 },
        { path: 'w/l', type: 'SymbolicLink', linkpath: '../config.json', size: 0 },
      ]),
    ).toEqual([]);
  });
});
