import fs from 'fs';
import os from 'os';
import path from 'path';
import { parseAgentOutput } from '../helpers/agent';
import { TaskError } from '../../src/errors';
import { createLogger } from '../../src/protocol/logger';
import { memorySink } from '../../src/protocol/sink';
import { taskPathsAt } from '../../src/task/paths';
import { defaultTrainConfig, loadTrainConfig, resolveTrainConfig } from '../../src/task/train-config';

function configErrorOf(run: () => unknown): TaskError {
  try {
    run();
  } catch (e) {
    if (e instanceof TaskError) return e;
    throw e;
  }
  throw new Error('expected a config error');
}

describe('training config defaults (spec A.2, E.2)', () => {
  it('are the documented ones', () => {
    expect(defaultTrainConfig()).toEqual({
      input_size: { width: 128, height: 128 },
      batch_size: { train: 8, val: 8 },
      dataset_tags: { train: 'train', val: 'val' },
      epochs: 10,
      val_every: 1,
      lr: 0.001,
      lr_schedule: { name: 'constant', warmup_steps: 0, min_lr_ratio: 0, power: 0.9 },
      class_weights: 'enet',
      network: 'unet',
      weights_init_type: 'transfer_learning',
      special_classes: { background: 'bg', neutral: 'neutral' },
      gpu_devices: [0],
      data_workers: { train: 1, val: 1 },
      compute_workers: 'auto',
      train_engine: 'auto',
      allow_corrupted_samples: { train: 0, val: 0 },
      seed: 42,
      augment: { flip_horizontal: true, flip_vertical: false, random_scale: [1, 1], color_jitter: 0 },
      resolution: { mode: 'fit', scale: 1 },
      save_model_tar: false,
      export_onnx: true,
      custom_model_config: {},
      tracking: {
        steps_per_epoch: 100,
        clip_frames: 3,
        sources: { generated: 1, project: 1, video: 1 },
        short_side: 240,
        local_radius: 4,
        val_clips: 8,
        val_frames: 20,
        precise_bn_batches: 200,
      },
      clicks: { val_objects_per_image: 8 },
    });
  });

  it('an empty task config gives exactly the defaults, and they validate', () => {
    expect(resolveTrainConfig({})).toEqual(defaultTrainConfig());
  });

  it('task values override defaults recursively; lists are replaced', () => {
    const config = resolveTrainConfig({
      batch_size: { train: 2 },
      gpu_devices: [1, 3],
      val_every: 0.5,
      epochs: 3,
      compute_workers: 2,
      lr_schedule: { name: 'cosine', warmup_steps: 10 },
    });
    expect(config.lr_schedule).toEqual({ name: 'cosine', warmup_steps: 10, min_lr_ratio: 0, power: 0.9 });
    expect(config.batch_size).toEqual({ train: 2, val: 8 });
    expect(config.gpu_devices).toEqual([1, 3]);
    expect(config.val_every).toBe(0.5);
    expect(config.compute_workers).toBe(2);
  });

  it('null switches a special class off', () => {
    expect(resolveTrainConfig({ special_classes: { neutral: null } }).special_classes).toEqual({
      background: 'bg',
    });
  });
});

describe('training config errors name the file, the field, what was expected and what was found', () => {
  it.each([
    [{ batch_size: { train: '8' } }, 'batch_size.train', 'expected an integer, found "8" (a string)'],
    [{ val_evrey: 2 }, 'val_evrey', 'unknown key; did you mean "val_every"?'],
    [{ batch_size: { trian: 2 } }, 'batch_size.trian', 'did you mean "train"?'],
    [{ input_size: { width: 100, height: 128 } }, 'input_size.width', 'expected a multiple of 16, found 100'],
    [{ input_size: { width: 0, height: 128 } }, 'input_size.width', 'expected a number >= 16, found 0'],
    [{ epochs: 2.5 }, 'epochs', 'expected an integer, found 2.5'],
    [{ val_every: 0 }, 'val_every', 'expected a number > 0, found 0'],
    [
      { weights_init_type: 'transfer' },
      'weights_init_type',
      'expected one of "transfer_learning", "continue_training", found "transfer" (a string)',
    ],
    [{ gpu_devices: [] }, 'gpu_devices', 'expected at least 1 item(s), found a list of 0 items'],
    [{ gpu_devices: [0, -1] }, 'gpu_devices[1]', 'expected a number >= 0, found -1'],
    [{ compute_workers: 0 }, 'compute_workers', 'expected "auto" or an integer >= 1, found 0'],
    [
      { compute_workers: 'many' },
      'compute_workers',
      'expected "auto" or an integer >= 1, found "many" (a string)',
    ],
    [{ data_workers: { train: -1 } }, 'data_workers.train', 'expected a number >= 0, found -1'],
    [
      { augment: { flip_horizontal: 'yes' } },
      'augment.flip_horizontal',
      'expected true or false, found "yes" (a string)',
    ],
    [{ special_classes: { background: 'x', neutral: 'x' } }, 'special_classes.neutral', 'must be different'],
    [{ epochs: 3, val_every: 4 }, 'val_every', '4 is more than epochs (3)'],
    [{ augment: { random_scale: [2, 0.5] } }, 'augment.random_scale', 'the smallest scale comes first'],
    [{ augment: { random_scale: [1] } }, 'augment.random_scale', ''],
    [{ resolution: { mode: 'full' } }, 'resolution.mode', '"fit", "native"'],
    [
      { class_weights: 'inverse' },
      'class_weights',
      'expected one of "none", "enet", "median_frequency", found "inverse" (a string)',
    ],
    [
      { lr_schedule: { name: 'step' } },
      'lr_schedule.name',
      'expected one of "constant", "cosine", "poly", found "step" (a string)',
    ],
    [{ lr_schedule: { warmup_steps: -1 } }, 'lr_schedule.warmup_steps', 'expected a number >= 0, found -1'],
    [{ lr_schedule: { warmup_steps: 1.5 } }, 'lr_schedule.warmup_steps', 'expected an integer, found 1.5'],
    [{ lr_schedule: { min_lr_ratio: 2 } }, 'lr_schedule.min_lr_ratio', 'expected a number <= 1, found 2'],
    [{ lr_schedule: { power: 0 } }, 'lr_schedule.power', 'expected a number > 0, found 0'],
    [{ lr_schedule: { nam: 'cosine' } }, 'lr_schedule.nam', 'name'],
    [
      { input_size: { width: { px: 1 } } },
      'input_size.width',
      'expected a number (the default is 128), found an object',
    ],
  ])('%j → field "%s"', (task, field, text) => {
    const e = configErrorOf(() => resolveTrainConfig(task));
    expect(e.kind).toBe('config');
    expect(e.context).toEqual({ file: 'task_config.json', field });
    expect(e.message).toContain(`task_config.json: field "${field}": `);
    expect(e.message).toContain(text);
  });

  it('lists every problem, not only the first', () => {
    const e = configErrorOf(() => resolveTrainConfig({ lr: 'fast', seed: 1.5 }));
    expect(e.message).toContain('field "lr"');
    expect(e.message).toContain('field "seed"');
  });

  it('without a close match lists the known keys', () => {
    expect(configErrorOf(() => resolveTrainConfig({ batch_size: { zzzzzzzz: 1 } })).message).toContain(
      'known keys: train, val',
    );
  });

  it('refuses a top level that is not an object', () => {
    expect(configErrorOf(() => resolveTrainConfig([1])).message).toContain('expected a JSON object');
  });
});

describe('custom_model_config (the plugin schema)', () => {
  const schema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      depth: { type: 'integer', minimum: 1, default: 4 },
      dropout: { type: 'number', minimum: 0, maximum: 1, default: 0 },
    },
  };

  it('takes the plugin defaults and validates against its schema', () => {
    expect(
      resolveTrainConfig({ custom_model_config: { depth: 3 } }, { customModelSchema: schema })
        .custom_model_config,
    ).toEqual({
      depth: 3,
      dropout: 0,
    });
    const e = configErrorOf(() =>
      resolveTrainConfig({ custom_model_config: { dept: 3 } }, { customModelSchema: schema }),
    );
    expect(e.message).toContain('field "custom_model_config.dept": unknown key; did you mean "depth"?');
    const e2 = configErrorOf(() =>
      resolveTrainConfig({ custom_model_config: { dropout: 2 } }, { customModelSchema: schema }),
    );
    expect(e2.message).toContain('field "custom_model_config.dropout": expected a number <= 1, found 2');
  });

  it('without a plugin schema accepts any object there', () => {
    expect(resolveTrainConfig({ custom_model_config: { anything: [1] } }).custom_model_config).toEqual({
      anything: [1],
    });
  });
});

describe('loadTrainConfig (task folder)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-config-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads task_config.json and logs "Input config" and "Full config"', async () => {
    fs.writeFileSync(path.join(dir, 'task_config.json'), JSON.stringify({ epochs: 2 }));
    const mem = memorySink();
    const { config, given } = await loadTrainConfig({
      paths: taskPathsAt(dir),
      logger: createLogger({ sink: mem.sink }),
    });
    expect(config.epochs).toBe(2);
    expect(given).toEqual({ epochs: 2 });
    const lines = parseAgentOutput(mem.lines.join('\n'));
    expect(lines.map((l) => l.message)).toEqual(['Input config', 'Full config']);
    expect(lines[0].fields.config).toEqual({ epochs: 2 });
    expect(lines[1].fields.config).toMatchObject({ epochs: 2, lr: 0.001 });
  });

  it('falls back to task_settings.json and names it in errors', async () => {
    fs.writeFileSync(path.join(dir, 'task_settings.json'), '{"lr": "x"}');
    const logger = createLogger({ sink: memorySink().sink });
    await expect(loadTrainConfig({ paths: taskPathsAt(dir), logger })).rejects.toThrow(
      'task_settings.json: field "lr"',
    );
  });

  it('prefers task_config.json when both exist', async () => {
    fs.writeFileSync(path.join(dir, 'task_config.json'), '{"epochs": 4}');
    fs.writeFileSync(path.join(dir, 'task_settings.json'), '{"epochs": 5}');
    const { config } = await loadTrainConfig({
      paths: taskPathsAt(dir),
      logger: createLogger({ sink: memorySink().sink }),
    });
    expect(config.epochs).toBe(4);
  });

  it('says clearly when there is no config file at all', async () => {
    const logger = createLogger({ sink: memorySink().sink });
    await expect(loadTrainConfig({ paths: taskPathsAt(dir), logger })).rejects.toThrow(
      /neither task_config.json nor task_settings.json/,
    );
  });
});
