/**
 * The plugin and task registries: networks chosen by name, an unknown name lists the registered ones, a
 * checkpoint names the plugin that made it, and a network that does not fit its task fails before any image
 * is read.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TaskError } from '../../src/errors';
import {
  customModelSchemaOf,
  DEFAULT_PLUGIN,
  networkSignature,
  PLUGINS,
  pluginOfCheckpoint,
  pluginOfTrainConfig,
} from '../../src/plugins';
import { trainingTaskNamed, TRAINING_TASKS } from '../../src/tasks';
import { resolveTrainConfig } from '../../src/task/train-config';
import { loadNetworkPlugin, loadTrackerPlugin } from '../../src/network/load-plugin';
import { inputParts } from '../../src/network/types';
import { makeTask, removeTask, runInProcess, TINY_TRAIN_CONFIG } from '../training/e2e-helpers';

function taskErrorOf(f: () => unknown): TaskError {
  try {
    f();
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a TaskError');
}

describe('the plugin registry', () => {
  it('defaults to the U-Net, as earlier versions always used', () => {
    expect(pluginOfTrainConfig({}).name).toBe('unet');
    expect(DEFAULT_PLUGIN.task).toBe('semantic_segmentation');
  });

  it('lists every registered network when a name is unknown, naming the file and the field', () => {
    const e = taskErrorOf(() => pluginOfTrainConfig({ network: 'resnet' }));
    expect(e.kind).toBe('config');
    expect(e.message).toContain('"resnet"');
    for (const p of PLUGINS) expect(e.message).toContain(`${p.name} (${p.task})`);
    expect(e.context).toMatchObject({ file: 'task_config.json', field: 'network' });
  });

  it('reads the network of a checkpoint, unet when the checkpoint predates the key', () => {
    expect(pluginOfCheckpoint({}, 'model/config.json').name).toBe('unet');
    const e = taskErrorOf(() => pluginOfCheckpoint({ network: 'gone' }, 'model/config.json'));
    expect(e.context).toMatchObject({ file: 'model/config.json', field: 'network' });
  });

  it('every entry loads as a network plugin of the task it is registered for, with a training task', () => {
    for (const entry of PLUGINS) {
      if (entry.task === 'video_tracking') {
        // The tracker trains through its own clip loop (tasks/video-tracking/run-training.ts).
        const tracker = loadTrackerPlugin(entry.module);
        expect([tracker.name, tracker.task]).toEqual([entry.name, entry.task]);
        expect(() => loadNetworkPlugin(entry.module)).toThrow(/network plugin/);
        continue;
      }
      const network = loadNetworkPlugin(entry.module);
      expect(network.name).toBe(entry.name);
      expect(network.task).toBe(entry.task);
      expect(trainingTaskNamed(entry.task).inputNames).toEqual(inputParts(network.inputs).map((i) => i.name));
      // Inference checks a checkpoint against, and feeds it by, the signature the registry names.
      expect(entry.signature).toEqual({ inputs: network.inputs, outputs: network.outputs });
      expect(networkSignature(entry.name)).toBe(entry.signature);
      // What old checkpoints are assumed to use is what the network normalises with.
      if (entry.legacyPreprocessing !== undefined)
        expect(entry.legacyPreprocessing).toEqual(network.preprocessing);
    }
  });

  it('validates custom_model_config with the named network schema', () => {
    const e = taskErrorOf(() =>
      resolveTrainConfig({ custom_model_config: { depth: 99 } }, { customModelSchema: customModelSchemaOf }),
    );
    expect(e.message).toContain('custom_model_config');
    expect(resolveTrainConfig({}, { customModelSchema: customModelSchemaOf }).network).toBe('unet');
  });

  it('knows each task once and lists them for an unknown one', () => {
    expect(new Set(TRAINING_TASKS.map((t) => t.name)).size).toBe(TRAINING_TASKS.length);
    expect(() => trainingTaskNamed('nope')).toThrow(TRAINING_TASKS.map((t) => t.name).join(', '));
  });
});

describe('a network trained for another task', () => {
  let root: string | undefined;
  afterEach(async () => removeTask(root));

  it('fails before the project is read, naming the network and both tasks', async () => {
    root = await makeTask({
      project: { projectName: 'p', datasets: [{ name: 'ds', count: 2 }], width: 32, height: 32, seed: 1 },
      config: TINY_TRAIN_CONFIG,
    });
    const otherTask = { ...trainingTaskNamed('semantic_segmentation'), name: 'other_task' };
    const run = await runInProcess(root, { task: otherTask });
    expect(run.error).toBeInstanceOf(TaskError);
    const e = run.error as TaskError;
    expect(e.message).toContain('"unet" is built for the task "semantic_segmentation", not "other_task"');
    expect(e.context.field).toBe('network');
    expect(run.lines.some((l) => String(l.message).startsWith('Project structure has been read'))).toBe(
      false,
    );
  });

  it('a starting model of another network fails before the model is built, naming both', async () => {
    root = await makeTask({
      project: { projectName: 'p', datasets: [{ name: 'ds', count: 2 }], width: 32, height: 32, seed: 1 },
      config: TINY_TRAIN_CONFIG,
    });
    const modelConfig = {
      settings: { input_size: { width: 32, height: 32 } },
      out_classes: [{ title: 'object', shape: 'bitmap', color: '#FF3366', geometry_config: {}, hotkey: '' }],
      class_title_to_idx: { background: 0, object: 1 },
      network: 'clicks',
    };
    await fsp.writeFile(path.join(root, 'model', 'config.json'), JSON.stringify(modelConfig));
    const run = await runInProcess(root);
    const e = run.error as TaskError;
    expect(e).toBeInstanceOf(TaskError);
    expect(e.message).toContain('is a "clicks" network, but the training config\'s network is "unet"');
    expect(e.context).toMatchObject({ file: 'model/config.json', field: 'network' });
    expect(run.lines.some((l) => l.message === 'Model built.')).toBe(false);
  });
});
