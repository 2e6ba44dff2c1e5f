/**
 * A jest environment for tests that run onnxruntime-node. Its native binding creates output typed arrays in
 * Node's main realm, while jest gives each test file its own realm, so onnxruntime-common's
 * `data instanceof Float32Array` check fails ("A float32 tensor's data must be type of Float32Array").
 * Sharing the main realm's typed-array constructors with the test realm removes the mismatch; production code
 * runs in one realm and needs none of this. Use with the docblock `@jest-environment ./test/onnx/ort-environment.js`.
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
];

class OrtEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = OrtEnvironment;
