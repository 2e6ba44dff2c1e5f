/**
 * Nearest-neighbour matching of pixel embeddings (FEELVOS/PML, notes §2.1 item 3), as tfjs ops: training
 * differentiates through it, and the tfjs tracker runs it. The onnxruntime tracker runs the same arithmetic as
 * an ONNX graph (match-graph.ts); a test holds the two equal.
 *
 * Distances are squared L2 between L2-normalised embeddings, 2 - 2 q.k in [0, 4]. For each query pixel the
 * distance to the nearest reference pixel of the object and to the nearest of everything else become two maps,
 * squashed to [0, 1) by 1 - 2 / (1 + e^d) as FEELVOS does. A reference with no pixel of a label gives 1 there.
 * Beside them, the labels carried by a softmax over the distances (CRW): a smooth, calibrated vote that the
 * embedding's own loss trains directly.
 */
import * as tf from '@tensorflow/tfjs';

/** Added to a distance to rule a reference pixel out (outside the window, or of the other label). */
export const FAR = 1e4;
/** Stride of the embedding: the encoder's. */
export const MATCH_STRIDE = 8;

/** [..., C] → unit length along the last axis (a zero vector stays zero). */
export function l2Normalise(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.div(x, tf.add(tf.norm(x, 'euclidean', -1, true), 1e-6)));
}

/** Query [B, P, C] and reference [B, R, C] unit embeddings → squared distances [B, P, R]. */
export function distanceMatrix(query: tf.Tensor3D, reference: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() =>
    tf.relu(tf.sub(2, tf.mul(2, tf.matMul(query, reference, false, true)))),
  ) as tf.Tensor3D;
}

/**
 * Distances [B or 1, P, R] (penalty [P, R] added first, e.g. a window), the object's reference pixels
 * [B, R] (1 object, 0 other) → [B, P, 2]: squashed distances to the nearest object pixel and the nearest other.
 */
export function labelMinima(distances: tf.Tensor3D, object: tf.Tensor2D, penalty?: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const d = penalty === undefined ? distances : tf.add(distances, penalty);
    const obj = object.expandDims(1); // [B, 1, R]
    const toObject = tf.min(tf.add(d, tf.mul(tf.sub(1, obj), FAR)), 2);
    const toOther = tf.min(tf.add(d, tf.mul(obj, FAR)), 2);
    return squash(tf.stack([toObject, toOther], 2)) as tf.Tensor3D;
  });
}

/** Temperature of the softmax over squared distances in [0, 4] (CRW uses 0.05 on cosine similarities). */
export const MATCH_TEMPERATURE = 0.1;

/**
 * Labels carried by a softmax over distances (CRW's label propagation): per query pixel, the share of the
 * object among the reference pixels, each weighted by softmax(-d / MATCH_TEMPERATURE). Distances [B or 1, P, R]
 * (plus `penalty` [P, R]), the object's reference pixels [B, R] → [B, P] in [0, 1].
 */
export function carriedLabels(
  distances: tf.Tensor3D,
  object: tf.Tensor2D,
  penalty?: tf.Tensor2D,
): tf.Tensor2D {
  return tf.tidy(() => {
    const d = penalty === undefined ? distances : tf.add(distances, penalty);
    const weights = tf.softmax(tf.div(tf.neg(d), MATCH_TEMPERATURE)); // [B|1, P, R]
    return tf.sum(tf.mul(weights, object.expandDims(1)), 2) as tf.Tensor2D;
  });
}

/** The three maps of one reference side, [B, P, 3]: squashed distance to the object, to the rest, carried labels. */
export function matchMaps(distances: tf.Tensor3D, object: tf.Tensor2D, penalty?: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(
    () =>
      tf.concat(
        [labelMinima(distances, object, penalty), carriedLabels(distances, object, penalty).expandDims(2)],
        2,
      ) as tf.Tensor3D,
  );
}

/** FEELVOS's (sigmoid(d) - 0.5) * 2. */
export function squash(d: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.sub(tf.sigmoid(d), 0.5), 2));
}

/**
 * [P, P] for a grid of h x w cells: 0 where the reference cell is within `radius` cells of the query cell in both
 * directions, FAR elsewhere. Local matching against the previous frame adds it.
 */
export function windowPenalty(h: number, w: number, radius: number): Float32Array {
  const p = h * w;
  const out = new Float32Array(p * p);
  for (let qy = 0; qy < h; qy++) {
    for (let qx = 0; qx < w; qx++) {
      const row = (qy * w + qx) * p;
      for (let ry = 0; ry < h; ry++) {
        const far = Math.abs(ry - qy) > radius;
        for (let rx = 0; rx < w; rx++) {
          out[row + ry * w + rx] = far || Math.abs(rx - qx) > radius ? FAR : 0;
        }
      }
    }
  }
  return out;
}
