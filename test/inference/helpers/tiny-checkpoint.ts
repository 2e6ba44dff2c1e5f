/** A small U-Net checkpoint folder (config.json, model.json, weights.bin) with random weights, for tests. */
import path from 'node:path';
import { generateSyntheticProject } from '../../../src/example/synthetic-project';
import { initWeights } from '../../../src/model-state/init-weights';
import { loadNetworkPlugin } from '../../../src/network/load-plugin';

/**
 * Writes the checkpoint to `outDir`; the classes are those of a generated project (bg + 3 shapes). The weights
 * are drawn from `seed` when given (the same answers on every run), else unseeded.
 */
export async function tinyUnetCheckpoint(opts: {
  outDir: string;
  size: number;
  seed?: number;
}): Promise<void> {
  const source = await generateSyntheticProject({
    dir: path.join(opts.outDir, '..', `${path.basename(opts.outDir)}-classes`),
    projectName: 'source',
    datasets: [{ name: 'ds', count: 1 }],
    width: 16,
    height: 16,
    seed: 1,
  });
  await initWeights({
    network: loadNetworkPlugin(require.resolve('../../../plugin/unet')),
    settings: {
      input_size: { height: opts.size, width: opts.size },
      special_classes: { background: 'bg', neutral: 'neutral' },
      custom_model_config: { depth: 2, base_filters: 4, max_filters: 8 },
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    },
    projectClasses: source.meta.classes,
    outDir: opts.outDir,
  });
}
