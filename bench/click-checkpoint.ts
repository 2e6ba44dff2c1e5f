/**
 * A click-segmentation checkpoint with seeded weights and the click plugin's default settings, at SIZE x SIZE:
 * model.json, weights.bin and config.json as the click training task writes them. Latency does not depend on
 * what the weights learnt. bench:clicks's and bench:serve's click model.
 */
import { network as clicksNetwork } from '../plugin/clicks';
import { writeModelConfig } from '../src/model-state/config';
import { saveModelToDir } from '../src/network/io';
import { networkRecord } from '../src/network/record';
import { withSeededRandom } from '../src/network/seeded-build';
import { clickCheckpointRecord } from '../src/tasks/click-segmentation/training';

export async function seededClickCheckpoint(dir: string, size: number, seed = 42): Promise<string> {
  const settings = clicksNetwork.parseSettings(undefined);
  const model = withSeededRandom(seed, () =>
    clicksNetwork.build({ inputSize: { height: size, width: size }, numClasses: 2, settings }),
  );
  await saveModelToDir(model, dir);
  model.dispose();
  await writeModelConfig(dir, {
    settings: {
      input_size: { height: size, width: size },
      network: 'clicks',
      custom_model_config: settings,
    },
    outClasses: [
      { title: 'background', shape: 'bitmap', color: '#222222', geometry_config: {}, hotkey: '' },
      { title: 'object', shape: 'bitmap', color: '#FF3366', geometry_config: {}, hotkey: '' },
    ],
    classTitleToIdx: { background: 0, object: 1 },
    extra: { ...networkRecord(clicksNetwork), ...clickCheckpointRecord() },
  });
  return dir;
}
