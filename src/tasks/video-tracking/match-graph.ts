/**
 * The matching of matching.ts as an ONNX graph for onnxruntime (static operators only: MatMul, ReduceMin,
 * Sigmoid), so a tracked frame's matching runs on native kernels. No weights: it is built when a tracker loads.
 *
 * Inputs: `query` [P, C] unit embeddings of the frame; `global_keys` [R, C] and `global_labels` [K, R] (1 where a
 * reference pixel is object k) of the given frames; `local_keys` [Q, C], `local_labels` [K, Q] of the previous
 * frame, and `window` [P, Q] (0 near, FAR elsewhere). Output `match` [K, P, 6]: per object, for the given frames
 * then for the previous one, the squashed distances to the nearest object pixel and other pixel, and the labels
 * carried by a softmax over distances.
 */
import { GraphBuilder } from '../../onnx/graph-builder';
import { FAR, MATCH_TEMPERATURE } from './matching';

export const MATCH_INPUTS = ['query', 'global_keys', 'global_labels', 'local_keys', 'local_labels', 'window'];

export function buildMatchGraph(): Uint8Array {
  const b = new GraphBuilder();
  for (const name of [...MATCH_INPUTS, 'match']) b.reserve(name);
  const two = b.floatConst('two', [], Float32Array.of(2));
  const one = b.floatConst('one', [], Float32Array.of(1));
  const half = b.floatConst('half', [], Float32Array.of(0.5));
  const far = b.floatConst('far', [], Float32Array.of(FAR));
  const axis0 = b.int64Const('axis0', [0]);
  const axis1 = b.int64Const('axis1', [1]);
  const axis2 = b.int64Const('axis2', [2]);
  const negInvT = b.floatConst('neg_inv_t', [], Float32Array.of(-1 / MATCH_TEMPERATURE));

  /** Squared distances between unit vectors, optionally plus a penalty: [P, R] and as [1, P, R]. */
  const distances = (keys: string, penalty?: string): [string, string] => {
    const kt = b.fresh(`${keys}_t`);
    b.node('Transpose', [keys], [kt], { perm: [1, 0] });
    const dot = b.fresh(`${keys}_dot`);
    b.node('MatMul', ['query', kt], [dot]);
    const twice = b.fresh(`${keys}_2dot`);
    b.node('Mul', [dot, two], [twice]);
    const diff = b.fresh(`${keys}_diff`);
    b.node('Sub', [two, twice], [diff]);
    let d = b.fresh(`${keys}_d`);
    b.node('Relu', [diff], [d]);
    if (penalty !== undefined) {
      const p = b.fresh(`${keys}_dp`);
      b.node('Add', [d, penalty], [p]);
      d = p;
    }
    const d3 = b.fresh(`${keys}_d3`);
    b.node('Unsqueeze', [d, axis0], [d3]); // [1, P, R]
    return [d, d3];
  };
  /** [P, R] distances, [K, R] labels → [K, P, 1]: labels carried by softmax(-d / T) over R. */
  const carried = (d: string, labels: string): string => {
    const scaled = b.fresh(`${labels}_scaled`);
    b.node('Mul', [d, negInvT], [scaled]);
    const weights = b.fresh(`${labels}_w`);
    b.node('Softmax', [scaled], [weights], { axis: 1 });
    const lt = b.fresh(`${labels}_t`);
    b.node('Transpose', [labels], [lt], { perm: [1, 0] }); // [R, K]
    const pk = b.fresh(`${labels}_pk`);
    b.node('MatMul', [weights, lt], [pk]); // [P, K]
    const kp = b.fresh(`${labels}_kp`);
    b.node('Transpose', [pk], [kp], { perm: [1, 0] });
    const out = b.fresh(`${labels}_carried`);
    b.node('Unsqueeze', [kp, axis2], [out]); // [K, P, 1]
    return out;
  };
  /** [1, P, R] distances, [K, R] labels → two [K, P, 1] squashed minima (object, other). */
  const minima = (d3: string, labels: string): [string, string] => {
    const lab = b.fresh(`${labels}_3`);
    b.node('Unsqueeze', [labels, axis1], [lab]); // [K, 1, R]
    const notLab = b.fresh(`${labels}_not`);
    b.node('Sub', [one, lab], [notLab]);
    const out: string[] = [];
    for (const [mask, tag] of [
      [notLab, 'object'],
      [lab, 'other'],
    ] as const) {
      const pen = b.fresh(`${labels}_${tag}_pen`);
      b.node('Mul', [mask, far], [pen]);
      const sum = b.fresh(`${labels}_${tag}_sum`);
      b.node('Add', [d3, pen], [sum]); // [K, P, R]
      const min = b.fresh(`${labels}_${tag}_min`);
      b.node('ReduceMin', [sum], [min], { axes: [2], keepdims: 1 }); // [K, P, 1]
      const sig = b.fresh(`${labels}_${tag}_sig`);
      b.node('Sigmoid', [min], [sig]);
      const centred = b.fresh(`${labels}_${tag}_c`);
      b.node('Sub', [sig, half], [centred]);
      const squashed = b.fresh(`${labels}_${tag}_sq`);
      b.node('Mul', [centred, two], [squashed]);
      out.push(squashed);
    }
    return [out[0], out[1]];
  };
  const [gd, gd3] = distances('global_keys');
  const [ld, ld3] = distances('local_keys', 'window');
  const [gObject, gOther] = minima(gd3, 'global_labels');
  const [lObject, lOther] = minima(ld3, 'local_labels');
  const gCarried = carried(gd, 'global_labels');
  const lCarried = carried(ld, 'local_labels');
  b.node('Concat', [gObject, gOther, gCarried, lObject, lOther, lCarried], ['match'], { axis: 2 });
  return b.toModelProto({
    inputs: [
      { name: 'query', dims: ['P', 'C'] },
      { name: 'global_keys', dims: ['R', 'C'] },
      { name: 'global_labels', dims: ['K', 'R'] },
      { name: 'local_keys', dims: ['Q', 'C'] },
      { name: 'local_labels', dims: ['K', 'Q'] },
      { name: 'window', dims: ['P', 'Q'] },
    ],
    outputs: [{ name: 'match', dims: ['K', 'P', 6] }],
    graphName: 'tracker_match',
    docString: 'Nearest-neighbour matching of unit pixel embeddings (sly-nn video tracking).',
  });
}
