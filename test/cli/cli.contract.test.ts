import { spawn, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { gzipSync } from 'zlib';
import type { CliCommand, CliIo } from '../../src/cli/command';
import { COMMANDS } from '../../src/cli/commands';
import { parseSegmentArgs } from '../../src/cli/commands/segment';
import { runCli } from '../../src/cli/run-cli';
import { configError, dataError, modelError } from '../../src/errors';
import { InterruptedError } from '../../src/protocol/stop';
import { builtFile } from '../contract/built';

function memoryIo(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t) };
}

let work: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'sly-nn-'));
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(work, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

describe('sly-nn dispatcher', () => {
  it('--help lists every registered command; no arguments is a usage error', async () => {
    const io = memoryIo();
    expect(await runCli(['--help'], io)).toBe(0);
    for (const c of COMMANDS) expect(io.stdout[0]).toContain(c.name);
    const bare = memoryIo();
    expect(await runCli([], bare)).toBe(2);
    expect(bare.stderr[0]).toContain('Usage: sly-nn <command>');
  });

  it('<command> --help prints its usage and help', async () => {
    for (const c of COMMANDS) {
      const io = memoryIo();
      expect(await runCli([c.name, '--help'], io)).toBe(0);
      expect(io.stdout[0]).toContain(`Usage: ${c.usage}`);
      expect(io.stdout[0]).toContain(c.help);
    }
  });

  it('an unknown command, a wrong argument count and an unknown option are usage errors (exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [['pakc'], /unknown command "pakc"/],
      [['pack', 'only-one'], /expected 2 argument\(s\) <dir> <file.tar>, got 1/],
      [['unpack', 'a.tar', 'b', '--force'], /Unknown option '--force'/],
      [['validate-config', 'deploy', 'x.json'], /must be "train" or "inference"/],
    ];
    for (const [argv, message] of cases) {
      const io = memoryIo();
      expect(await runCli(argv, io)).toBe(2);
      expect(io.stderr.join('\n')).toMatch(message);
    }
  });

  it("a failing command prints its error on stderr and exits with the entry points' code: config 2, data 3, model 4, resources 5, a stop 143/130, else 1", async () => {
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const cases: [unknown, number][] = [
      [configError('bad', { file: 'c.json', field: 'x' }), 2],
      [dataError('bad', { file: 'img.png' }), 3],
      [modelError('bad', { file: 'model.json' }), 4],
      [new Error('writing the tar failed', { cause: full }), 5],
      [new InterruptedError('SIGTERM', 'stopped between images'), 143],
      [new InterruptedError('SIGINT', 'stopped between images'), 130],
      [new TypeError('undefined is not a function'), 1],
      [new Error('it broke'), 1],
    ];
    for (const [error, code] of cases) {
      const failing: CliCommand = {
        name: 'fail',
        summary: 's',
        usage: 'sly-nn fail',
        help: 'h',
        run: async () => {
          throw error;
        },
      };
      const io = memoryIo();
      expect(await runCli(['fail'], io, [failing])).toBe(code);
      // The message alone on stderr, whatever the code.
      expect(io.stderr).toEqual([`sly-nn fail: error: ${(error as Error).message}`]);
    }
  });
});

describe('sly-nn validate-config', () => {
  it('train: prints the full config on success', async () => {
    const io = memoryIo();
    expect(await runCli(['validate-config', 'train', write('t.json', '{"epochs": 3}')], io)).toBe(0);
    expect(JSON.parse(io.stdout[0])).toMatchObject({
      epochs: 3,
      lr: 0.001,
      input_size: { width: 128, height: 128 },
    });
  });

  it('train: a problem names the file and the field, exit 2 (the config is wrong)', async () => {
    const file = write('t.json', '{"val_evrey": 2}');
    const io = memoryIo();
    expect(await runCli(['validate-config', 'train', file], io)).toBe(2);
    expect(io.stderr[0]).toBe(
      `sly-nn validate-config: error: ${file}: field "val_evrey": unknown key; did you mean "val_every"?`,
    );
  });

  it('inference: prints model and mode; the plugin default mode fills what the file leaves out', async () => {
    const io = memoryIo();
    expect(
      await runCli(['validate-config', 'inference', write('i.json', '{"model": {"batch_size": 2}}')], io),
    ).toBe(0);
    const full = JSON.parse(io.stdout[0]) as { model: unknown; mode: { name: string } };
    expect(full.model).toEqual({ gpu_device: 0, batch_size: 2 });
    expect(full.mode.name).toBe('full_image');
  });

  it('--quiet prints nothing; a missing file and invalid JSON are errors', async () => {
    const quiet = memoryIo();
    expect(await runCli(['validate-config', 'train', write('ok.json', '{}'), '--quiet'], quiet)).toBe(0);
    expect(quiet.stdout).toEqual([]);
    const missing = memoryIo();
    expect(await runCli(['validate-config', 'train', path.join(work, 'nope.json')], missing)).toBe(2);
    expect(missing.stderr[0]).toMatch(/nope\.json: file not found/);
    const bad = memoryIo();
    expect(await runCli(['validate-config', 'inference', write('bad.json', '{"model": }')], bad)).toBe(2);
    expect(bad.stderr[0]).toMatch(/bad\.json: invalid JSON at line 1, column 11/);
  });
});

describe('sly-nn as a real process (package.json bin)', () => {
  function slyNn(...args: string[]) {
    const result = spawnSync(process.execPath, [builtFile('src/cli/main.ts'), ...args], { encoding: 'utf8' });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('pack then unpack round-trips a checkpoint folder', () => {
    write('ckpt/config.json', '{"settings": {}}');
    write('ckpt/weights.bin', 'W'.repeat(3000));
    const tarFile = path.join(work, 'model.tar');
    const packed = slyNn('pack', path.join(work, 'ckpt'), tarFile);
    expect(packed).toMatchObject({ status: 0, stderr: '' });
    expect(packed.stdout).toMatch(/^Packed 2 entries \(\d+ bytes\) into /);
    const out = path.join(work, 'out');
    expect(slyNn('unpack', tarFile, out)).toMatchObject({ status: 0, stderr: '' });
    expect(fs.readFileSync(path.join(out, 'weights.bin'), 'utf8')).toBe('W'.repeat(3000));
  });

  it('loads TensorFlow.js only for the commands that need it (help and pack start fast)', () => {
    const main = builtFile('src/cli/main.ts');
    const probe = [
      `process.argv = [process.argv[0], ${JSON.stringify(main)}, '--help'];`,
      `process.on('exit', () => process.stderr.write('tfjs-loaded=' + Object.keys(require.cache).some((k) => k.includes('@tensorflow'))));`,
      `require(${JSON.stringify(main)});`,
    ].join('\n');
    const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/init-weights/);
    expect(r.stderr).toContain('tfjs-loaded=false');
  });

  it('unpack refuses a gzip or zstd tar with one line saying to repack it uncompressed (no crash, nothing written)', () => {
    const packed = path.join(work, 'model.tar');
    write('ckpt/config.json', '{"settings": {}}');
    write('ckpt/weights.bin', 'W'.repeat(3000));
    expect(slyNn('pack', path.join(work, 'ckpt'), packed).status).toBe(0);
    const tarBytes = fs.readFileSync(packed);
    const compressed: [string, Buffer, string][] = [
      ['model.tar.gz', gzipSync(tarBytes), 'gzip'],
      // The zstd magic and a frame header: node-tar used to try to inflate it and crash on Node 20.
      ['model.tar.zst', Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58]), tarBytes]), 'zstd'],
    ];
    for (const [name, bytes, kind] of compressed) {
      const file = path.join(work, name);
      fs.writeFileSync(file, bytes);
      const out = path.join(work, `out-${kind}`);
      const r = slyNn('unpack', file, out);
      expect(r).toMatchObject({ status: 4, stdout: '' }); // the model (tar) is wrong
      expect(r.stderr.trim().split('\n')).toEqual([
        `sly-nn unpack: error: ${file}: the file is ${kind}-compressed, but a model tar must be an uncompressed ` +
          `tar: unpack it (${kind === 'gzip' ? 'tar -xzf' : 'tar --zstd -xf'} ${file} -C <dir>), then pack the ` +
          'folder (sly-nn pack <dir> model.tar)',
      ]);
      expect(fs.existsSync(out)).toBe(false);
    }
  });

  it('pack refuses a folder holding a link followed by a FIFO, naming it (it used to exit 0 with no tar and no word)', () => {
    write('ckpt/config.json', '{"settings": {}}');
    fs.symlinkSync('pipe', path.join(work, 'ckpt', 'a_link'));
    spawnSync('mkfifo', [path.join(work, 'ckpt', 'pipe')]);
    const tarFile = path.join(work, 'model.tar');
    const r = slyNn('pack', path.join(work, 'ckpt'), tarFile);
    expect(r).toMatchObject({ status: 4, stdout: '' });
    expect(r.stderr).toContain('"pipe" is a FIFO (only files, folders and links are allowed)');
    expect(fs.existsSync(tarFile)).toBe(false);
  });

  it('a command that stops without finishing exits 1 saying so, not 0 in silence', () => {
    // A command whose promise never settles and that leaves nothing to wait for (node-tar on a FIFO did so).
    const probe = [
      `const { COMMANDS } = require(${JSON.stringify(builtFile('src/cli/commands/index.ts'))});`,
      `COMMANDS.find((c) => c.name === 'pack').run = () => new Promise(() => {});`,
      `process.argv = [process.argv[0], 'sly-nn', 'pack', 'a', 'b.tar'];`,
      `require(${JSON.stringify(builtFile('src/cli/main.ts'))});`,
    ].join('\n');
    const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      'sly-nn: error: the command stopped before finishing, with nothing left to wait for\n',
    );
  });

  it('SIGTERM / SIGINT: a command that does not stop cleanly ends at once with 143 / 130; one that does, through the table', async () => {
    const run = (command: string, signal: NodeJS.Signals) =>
      new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const probe = [
          `const { COMMANDS } = require(${JSON.stringify(builtFile('src/cli/commands/index.ts'))});`,
          `const { stopRequests, InterruptedError } = require(${JSON.stringify(builtFile('src/protocol/stop.ts'))});`,
          // pack: works forever, never listening; unpack: stops between units of work when asked.
          `COMMANDS.find((c) => c.name === 'pack').run = () => new Promise(() => setInterval(() => {}, 1000));`,
          `COMMANDS.find((c) => c.name === 'unpack').run = () => new Promise((_, reject) => {`,
          `  const working = setInterval(() => {}, 1000);`,
          `  stopRequests.listen((s) => setTimeout(() => {`,
          `    clearInterval(working);`,
          `    reject(new InterruptedError(s, 'between files'));`,
          `  }, 50));`,
          `});`,
          `process.argv = [process.argv[0], 'sly-nn', ${JSON.stringify(command)}, 'a', 'b.tar'];`,
          `require(${JSON.stringify(builtFile('src/cli/main.ts'))});`,
          `process.stdout.write('started\\n');`,
        ].join('\n');
        const child = spawn(process.execPath, ['-e', probe], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.stdout.once('data', () => child.kill(signal));
        child.on('exit', (status) => resolve({ status, stderr }));
      });
    expect(await run('pack', 'SIGTERM')).toEqual({ status: 143, stderr: 'sly-nn: stopped by SIGTERM\n' });
    expect(await run('pack', 'SIGINT')).toEqual({ status: 130, stderr: 'sly-nn: stopped by SIGINT\n' });
    const clean = await run('unpack', 'SIGTERM');
    expect(clean.status).toBe(143);
    expect(clean.stderr).toBe('sly-nn unpack: error: stopped by SIGTERM: between files\n');
  });

  it('unpack refuses a tar of GNU tar --sparse, naming the file it would have left out', () => {
    write('ckpt/config.json', '{"settings": {}}');
    fs.truncateSync(write('ckpt/weights.bin', ''), 1 << 20); // all hole: GNU tar stores it as sparse
    for (const format of ['gnu', 'posix']) {
      const tarFile = path.join(work, `${format}.tar`);
      const made = spawnSync('tar', [
        `--format=${format}`,
        '--sparse',
        '-cf',
        tarFile,
        '-C',
        path.join(work, 'ckpt'),
        '.',
      ]);
      expect(made.status).toBe(0);
      const out = path.join(work, `out-${format}`);
      const r = slyNn('unpack', tarFile, out);
      expect(r).toMatchObject({ status: 4, stdout: '' });
      expect(r.stderr).toContain(
        '"./weights.bin" is a sparse file (GNU tar --sparse), which unpack does not write',
      );
      expect(fs.existsSync(out)).toBe(false);
    }
  });

  it('errors go to stderr with a non-zero exit', () => {
    const notTar = write('x.tar', 'not a tar at all\n'.repeat(64));
    const r = slyNn('unpack', notTar, path.join(work, 'out'));
    expect(r.status).toBe(4);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/sly-nn unpack: error: .*x\.tar: not a tar archive/);
    expect(slyNn('frobnicate').status).toBe(2);
  });
});

describe('sly-nn segment --engine', () => {
  const base = ['--checkpoint', 'ckpt', '--image', 'a.png', '--point', '1,2', '--out', 'm.png'];

  it('takes onnxruntime or tfjs; without it the best engine is chosen', () => {
    const io = memoryIo();
    expect(parseSegmentArgs([...base, '--engine', 'onnxruntime'], io).engine).toBe('onnxruntime');
    expect(parseSegmentArgs([...base, '--engine', 'tfjs'], io).engine).toBe('tfjs');
    expect(parseSegmentArgs(base, io).engine).toBeUndefined();
    expect(io.stderr).toEqual([]);
  });

  it('still takes the old name onnx, as onnxruntime, with a line on stderr', () => {
    const io = memoryIo();
    expect(parseSegmentArgs([...base, '--engine', 'onnx'], io).engine).toBe('onnxruntime');
    expect(io.stderr).toEqual(['--engine onnx is deprecated; use --engine onnxruntime']);
  });

  it('any other value is a usage error naming the valid ones', async () => {
    for (const bad of ['gpu', '']) {
      expect(() => parseSegmentArgs([...base, '--engine', bad], memoryIo())).toThrow(
        /--engine must be onnxruntime or tfjs/,
      );
    }
    const io = memoryIo();
    expect(await runCli(['segment', ...base, '--engine', 'gpu'], io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/--engine must be onnxruntime or tfjs, got "gpu"/);
  });
});
