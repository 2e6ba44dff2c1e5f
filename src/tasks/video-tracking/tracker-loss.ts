/**
 * The tracker's training forward pass over a clip batch (notes §2.4): frame 1 is predicted from frame 0's mask
 * (global matching) and a damaged copy of it (local matching and the previous-mask input); each later frame from
 * frame 0's mask and the network's own prediction of the frame before, so the network learns to recover from its
 * own errors as they pile up. The loss is binary cross-entropy plus a soft-IoU term on every predicted frame, at
 * full resolution, plus a matching loss on the embedding alone (below).
 */
import * as tf from '@tensorflow/tfjs';
import { TRACKER_MATCH_CHANNELS } from '../../network/types';
import type { ClipBatch } from './clip-batch';
import { carriedLabels, distanceMatrix, l2Normalise, MATCH_STRIDE, matchMaps } from './matching';

export interface TrackerParts {
  encoder: tf.LayersModel;
  decoder: tf.LayersModel;
  /** Local matching window, in cells of the stride-8 grid either way. */
  localRadius: number;
}

/** [n, h, w, 1] soft mask → [n, h/s, w/s, 1] area fraction per cell. */
export function cellFraction(mask: tf.Tensor4D, stride: number): tf.Tensor4D {
  return tf.avgPool(mask, stride, stride, 'valid');
}

/** Cells that are at least half object: the reference labels of matching, [n, cells]. */
export function cellLabels(fraction: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const [n] = fraction.shape;
    return tf.cast(tf.greaterEqual(fraction, 0.5), 'float32').reshape([n, -1]) as tf.Tensor2D;
  });
}

export interface ClipLosses {
  loss: tf.Scalar;
  /** Per predicted frame, the IoU of the thresholded prediction (for the log; no gradient). */
  iou: tf.Scalar;
}

/** The loss of one batch; runs inside optimizer.minimize (tensors it makes are tidied by the caller). */
export function clipLoss(
  parts: TrackerParts,
  batch: ClipBatch,
  penalty: tf.Tensor2D,
  training: boolean,
): ClipLosses {
  const { n, height: H, width: W } = batch;
  const h8 = H / MATCH_STRIDE;
  const w8 = W / MATCH_STRIDE;
  const x = tf.concat(
    batch.frames.map((f) => tf.tensor4d(f, [n, H, W, 3])),
    0,
  );
  const [f4, f8, key] = parts.encoder.apply(x, { training }) as tf.Tensor4D[];
  const c = key.shape[3];
  const length = batch.frames.length;
  const keys = l2Normalise(key).reshape([length, n, h8 * w8, c]);
  const keyOf = (t: number): tf.Tensor3D => keys.slice([t, 0, 0, 0], [1, n, h8 * w8, c]).squeeze([0]);
  const rows = (t: tf.Tensor4D, i: number): tf.Tensor4D => t.slice([i * n, 0, 0, 0], [n, -1, -1, -1]);
  const mask = (m: Float32Array): tf.Tensor4D => tf.tensor4d(m, [n, H, W, 1]);

  const k0 = keyOf(0);
  const labels0 = cellLabels(cellFraction(mask(batch.masks[0]), MATCH_STRIDE));
  let matchLoss = tf.scalar(0);
  const predict = (t: number, previousKey: tf.Tensor3D, previousCells: tf.Tensor4D): tf.Tensor4D => {
    const q = keyOf(t);
    const d0 = distanceMatrix(q, k0);
    // The embedding's own lesson (PML/CRW): frame 0's labels carried by a softmax over distances must give
    // frame t's cells. A direct gradient to the encoder, which the decoder's loss reaches only through minima.
    const carried = tf.clipByValue(carriedLabels(d0, labels0), 1e-4, 1 - 1e-4);
    const truth = cellLabels(cellFraction(mask(batch.masks[t]), MATCH_STRIDE));
    matchLoss = tf.add(
      matchLoss,
      tf.neg(
        tf.mean(tf.add(tf.mul(truth, tf.log(carried)), tf.mul(tf.sub(1, truth), tf.log(tf.sub(1, carried))))),
      ),
    );
    const global = matchMaps(d0, labels0);
    const local = matchMaps(distanceMatrix(q, previousKey), cellLabels(previousCells), penalty);
    const match = tf.concat(
      [tf.concat([global, local], 2).reshape([n, h8, w8, TRACKER_MATCH_CHANNELS.length - 1]), previousCells],
      3,
    ) as tf.Tensor4D;
    return parts.decoder.apply([rows(f8, t), match, rows(f4, t)], { training }) as tf.Tensor4D;
  };
  // Frame 1 from the damaged mask; every later frame from the network's own prediction of the one before.
  const predictions: tf.Tensor4D[] = [predict(1, k0, cellFraction(mask(batch.damaged), MATCH_STRIDE))];
  for (let t = 2; t < length; t++) {
    const previous = tf.sigmoid(predictions[t - 2]) as tf.Tensor4D;
    predictions.push(predict(t, keyOf(t - 1), cellFraction(previous, MATCH_STRIDE / 4)));
  }

  let loss = tf.scalar(0);
  let iou = tf.scalar(0);
  for (const [i, logits] of predictions.entries()) {
    const t = i + 1;
    const full = tf.image.resizeBilinear(logits, [H, W]);
    const target = mask(batch.masks[t]);
    const bce = tf.losses.sigmoidCrossEntropy(target, full);
    const p = tf.sigmoid(full);
    const inter = tf.sum(tf.mul(p, target), [1, 2, 3]);
    const union = tf.sub(tf.add(tf.sum(p, [1, 2, 3]), tf.sum(target, [1, 2, 3])), inter);
    const softIou = tf.mean(tf.div(tf.add(inter, 1), tf.add(union, 1)));
    loss = tf.add(loss, tf.add(bce, tf.sub(1, softIou)));
    const hard = tf.cast(tf.greater(full, 0), 'float32');
    const hi = tf.sum(tf.mul(hard, target), [1, 2, 3]);
    const hu = tf.sub(tf.add(tf.sum(hard, [1, 2, 3]), tf.sum(target, [1, 2, 3])), hi);
    iou = tf.add(iou, tf.mean(tf.div(tf.add(hi, 1e-6), tf.add(hu, 1e-6))));
  }
  const predicted = length - 1;
  return {
    loss: tf.div(tf.add(loss, matchLoss), predicted) as tf.Scalar,
    iou: tf.div(iou, predicted) as tf.Scalar,
  };
}
