/**
 * The tracker that ships in models/tracker loads as tfjs layer models (test-time adaptation trains them) with the
 * settings its config records. How well it tracks: bundled-tracker.contract.test.ts.
 */
import * as path from 'node:path';
import { loadTrackerModels, readTrackerConfig } from '../../../src/tasks/video-tracking/tracker-checkpoint';

const BUNDLED = path.join(__dirname, '..', '..', '..', 'models', 'tracker');

describe('the bundled tracker (models/tracker)', () => {
  it('loads as tfjs layer models, with the settings its config records', async () => {
    const config = await readTrackerConfig(BUNDLED);
    expect(config.network).toBe('tracker');
    const { encoder, decoder } = await loadTrackerModels(BUNDLED);
    // f4, f8 and the key: 32 learnt channels and the 8x8 cell's mean colour.
    expect(encoder.outputs.map((o) => o.shape[3])).toEqual([32, 64, 35]);
    expect(decoder.outputs[0].shape[3]).toBe(1);
    encoder.dispose();
    decoder.dispose();
  });
});
