/**
 * plugin/prune.sh, which the Dockerfile runs on the production install: it deletes what Node never loads and
 * keeps what it does. Run on a made-up /workdir whose packages have the layouts of the real ones.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');
const HERE = `${process.platform}/${process.arch}`;
const OTHER = process.arch === 'x64' ? 'linux/arm64' : 'linux/x64';

let dir: string;

function write(rel: string, text = 'x'): void {
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir, rel), text);
}

const exists = (rel: string): boolean => fs.existsSync(path.join(dir, rel));

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'packaging-prune-'));
  const pkg = (name: string, main: string): void =>
    write(`node_modules/${name}/package.json`, JSON.stringify({ name, main }));
  pkg('@tensorflow/tfjs-core', 'dist/tf-core.node.js');
  for (const f of [
    'tf-core.node.js',
    'tf-core.min.js',
    'tf-core.es2017.js',
    'index.js',
    'ops/add.js',
    'index.d.ts',
  ])
    write(`node_modules/@tensorflow/tfjs-core/dist/${f}`);
  write('node_modules/@tensorflow/tfjs-core/src/index.ts');
  pkg('@tensorflow/tfjs-backend-wasm', 'dist/tf-backend-wasm.node.js');
  for (const f of [
    'tf-backend-wasm.node.js',
    'tf-backend-wasm.node.js.map',
    'tfjs-backend-wasm-simd.wasm',
    'tf-backend-wasm.js',
  ])
    write(`node_modules/@tensorflow/tfjs-backend-wasm/dist/${f}`);
  // The native package's main is a tree of files with a binding: left whole.
  pkg('@tensorflow/tfjs-node', 'dist/index.js');
  for (const f of ['dist/index.js', 'dist/nodejs_kernel_backend.js', 'lib/napi-v8/tfjs_binding.node'])
    write(`node_modules/@tensorflow/tfjs-node/${f}`);
  for (const p of [HERE, OTHER, 'win32/x64', 'darwin/arm64'])
    write(`node_modules/onnxruntime-node/bin/napi-v6/${p}/onnxruntime_binding.node`);
  write('node_modules/onnxruntime-node/dist/index.js');
  write('dist/src/train.js');
  write('dist/src/train.js.map');
  const result = spawnSync('sh', [path.join(ROOT, 'plugin', 'prune.sh'), dir], { encoding: 'utf8' });
  expect([result.status, result.stderr]).toEqual([0, '']);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('plugin/prune.sh', () => {
  it('keeps each pure-JavaScript tfjs package main bundle and the wasm files, and drops the rest of dist/', () => {
    expect(exists('node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js')).toBe(true);
    expect(exists('node_modules/@tensorflow/tfjs-core/package.json')).toBe(true);
    expect(exists('node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.node.js')).toBe(true);
    expect(exists('node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')).toBe(true);
    for (const gone of ['tf-core.min.js', 'tf-core.es2017.js', 'index.js', 'ops', 'index.d.ts'])
      expect([gone, exists(`node_modules/@tensorflow/tfjs-core/dist/${gone}`)]).toEqual([gone, false]);
    expect(exists('node_modules/@tensorflow/tfjs-core/src')).toBe(false);
    expect(exists('node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.js')).toBe(false);
  });

  it('leaves the native tfjs-node package whole', () => {
    for (const f of ['dist/index.js', 'dist/nodejs_kernel_backend.js', 'lib/napi-v8/tfjs_binding.node'])
      expect([f, exists(`node_modules/@tensorflow/tfjs-node/${f}`)]).toEqual([f, true]);
  });

  it("keeps onnxruntime-node's engine for this platform only", () => {
    const bin = 'node_modules/onnxruntime-node/bin/napi-v6';
    expect(exists(`${bin}/${HERE}/onnxruntime_binding.node`)).toBe(true);
    for (const p of [OTHER, 'win32', 'darwin']) expect([p, exists(`${bin}/${p}`)]).toEqual([p, false]);
    expect(exists('node_modules/onnxruntime-node/dist/index.js')).toBe(true);
  });

  it('drops source maps from node_modules and dist/', () => {
    expect(exists('node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.node.js.map')).toBe(false);
    expect([exists('dist/src/train.js'), exists('dist/src/train.js.map')]).toEqual([true, false]);
  });

  it('refuses a folder without node_modules', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'packaging-prune-empty-'));
    try {
      const r = spawnSync('sh', [path.join(ROOT, 'plugin', 'prune.sh'), empty], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/node_modules is not a folder/);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
