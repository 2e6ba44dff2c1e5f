/**
 * What a model's config.json records about its network, beside the SDK's keys (spec C.2 allows extra
 * top-level keys): the network's name and its input normalisation. Inference reads the normalisation from
 * here, so a model is always fed what it was trained on, and inference needs no network plugin.
 */
import type { AnyNetwork } from './types';

export interface NetworkRecord {
  network: string;
  preprocessing: { mean: number[]; std: number[] };
}

export function networkRecord(network: AnyNetwork): NetworkRecord {
  return {
    network: network.name,
    preprocessing: { mean: [...network.preprocessing.mean], std: [...network.preprocessing.std] },
  };
}
