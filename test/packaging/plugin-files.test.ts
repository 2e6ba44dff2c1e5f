/**
 * The files the web UI shows (spec G.1, H.2): plugin_info.json, VERSION (in step with package.json) and the run
 * presets of predefined_run_configs.json, each validated through the task layer exactly as a task config would
 * be (src/task), so a preset the UI offers never fails at start.
 */
import * as fs from 'fs';
import * as path from 'path';
import { network as clicksNetwork } from '../../plugin/clicks';
import { parseUnetSettings, UNET_SETTINGS_SCHEMA } from '../../plugin/unet/settings';
import { customModelSchemaOf } from '../../src/plugins';
import { MODE_NAMES } from '../../src/task/config-types';
import { resolveInferenceConfig } from '../../src/task/inference-config';
import { UNET_DEFAULT_MODE } from '../../plugin/unet/mode';
import { resolveTrainConfig } from '../../src/task/train-config';

const ROOT = path.resolve(__dirname, '../..');
const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'));

interface Preset {
  title: string;
  type: 'train' | 'inference';
  config: Record<string, unknown>;
}

const presets = readJson('predefined_run_configs.json') as Preset[];
const trainPresets = presets.filter((p) => p.type === 'train');
const networkOf = (p: Preset): unknown => p.config.network;
/** The U-Net's preset: the one the inference presets go with. */
const unetPreset = trainPresets.find((p) => networkOf(p) === 'unet') as Preset;
const inferencePresets = presets.filter((p) => p.type === 'inference');
const modeName = (p: Preset): unknown => (p.config.mode as Record<string, unknown> | undefined)?.name;

describe('plugin_info.json (spec G.1, H.2)', () => {
  const info = readJson('plugin_info.json') as Record<string, unknown>;

  it('has a title, a description and type "architecture", and no run_mode (spec H.1: NN plugins must not set it)', () => {
    expect(Object.keys(info).sort()).toEqual(['description', 'title', 'type']);
    expect(info.type).toBe('architecture');
    expect(typeof info.title === 'string' && info.title.trim().length > 0).toBe(true);
    expect(typeof info.description === 'string' && info.description.trim().length > 0).toBe(true);
  });
});

describe('VERSION (spec G.1)', () => {
  const text = fs.readFileSync(path.join(ROOT, 'VERSION'), 'utf8');

  it('is one line <image>:<tag>, the image name valid for Docker', () => {
    expect(text).toMatch(/^[^\n]+\n?$/);
    expect(text.trim()).toMatch(
      /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*:[\w][\w.-]{0,127}$/,
    );
  });

  it("has package.json's version as its tag", () => {
    const { version } = readJson('package.json') as { version: string };
    expect(text.trim().split(':')[1]).toBe(version);
  });
});

describe('predefined_run_configs.json (spec G.1, G.3)', () => {
  it('is a list of {title, type, config} with unique titles', () => {
    expect(Array.isArray(presets)).toBe(true);
    for (const p of presets) {
      expect(Object.keys(p).sort()).toEqual(['config', 'title', 'type']);
      expect(['train', 'inference']).toContain(p.type);
      expect(p.title.trim().length).toBeGreaterThan(0);
    }
    expect(new Set(presets.map((p) => p.title)).size).toBe(presets.length);
  });

  it('has train presets for each network trained through train.py on images, and one inference preset per mode', () => {
    expect([...new Set(trainPresets.map(networkOf))]).toEqual(['unet', 'clicks']);
    expect(inferencePresets.map(modeName).sort()).toEqual([...MODE_NAMES].sort());
  });

  it('the U-Net train preset is valid, with the U-Net settings, and shows every option (nothing left to defaults)', () => {
    const resolved = resolveTrainConfig(unetPreset.config, {
      file: 'predefined_run_configs.json',
      customModelSchema: UNET_SETTINGS_SCHEMA,
    });
    expect(resolved).toEqual(unetPreset.config);
    const settings = parseUnetSettings(resolved.custom_model_config);
    const stride = 2 ** settings.depth;
    expect([resolved.input_size.width % stride, resolved.input_size.height % stride]).toEqual([0, 0]);
  });

  it.each(trainPresets.map((p) => [networkOf(p), p] as const))(
    'the %s train preset is valid as the entry point resolves it, with the network schema it ships, every option shown',
    (name, preset) => {
      // src/train.ts resolves with the schema of the network the config names; none would accept any object.
      const schema = name === 'unet' ? UNET_SETTINGS_SCHEMA : clicksNetwork.settingsSchema;
      expect(customModelSchemaOf(preset.config as Record<string, never>)).toBe(schema);
      const resolved = resolveTrainConfig(preset.config, { customModelSchema: customModelSchemaOf });
      // null switches a special class off, and the resolved config leaves it out (train-config.ts).
      const special = Object.entries(preset.config.special_classes as Record<string, unknown>);
      const switchedOn = Object.fromEntries(special.filter(([, v]) => v !== null));
      expect(resolved).toEqual({ ...preset.config, special_classes: switchedOn });
      const { depth } = parseUnetSettings(resolved.custom_model_config);
      expect([resolved.input_size.width % 2 ** depth, resolved.input_size.height % 2 ** depth]).toEqual([
        0, 0,
      ]);
    },
  );

  it('the U-Net presets are the defaults (fast) and a quality one, each saying what it costs on this CPU', () => {
    const unet = trainPresets.filter((p) => networkOf(p) === 'unet');
    expect(unet.map((p) => p.title)).toEqual([
      expect.stringMatching(/fast.*\d+ s per epoch per 100 images on 2 CPU cores/),
      expect.stringMatching(/quality.*\d+ s per epoch per 100 images on 2 CPU cores/),
    ]);
    // The fast preset is what a task config without these keys gets: the documented default recipe.
    const defaults = resolveTrainConfig({}, { customModelSchema: UNET_SETTINGS_SCHEMA });
    const fast = unet[0].config as Record<string, unknown>;
    for (const key of [
      'input_size',
      'lr',
      'lr_schedule',
      'class_weights',
      'augment',
      'resolution',
    ] as const) {
      expect([key, fast[key]]).toEqual([key, defaults[key]]);
    }
  });

  it('the click preset says what it costs, and keeps validation bounded', () => {
    const preset = trainPresets.find((p) => networkOf(p) === 'clicks') as Preset;
    expect(preset.title).toMatch(/\d+ min .* on 2 CPU cores/);
    const resolved = resolveTrainConfig(preset.config, { customModelSchema: customModelSchemaOf });
    expect(resolved.special_classes).toEqual({});
    expect(resolved.clicks.val_objects_per_image).toBeGreaterThanOrEqual(1);
  });

  it.each(inferencePresets.map((p) => [modeName(p), p] as const))(
    'the %s preset is valid as the task layer reads it, with a class suffix so outputs never clash (spec F.3)',
    (name, preset) => {
      const { modelConfig, modeConfig } = resolveInferenceConfig(preset.config, {
        file: 'predefined_run_configs.json',
        defaultModeConfig: UNET_DEFAULT_MODE,
      });
      expect(modeConfig.name).toBe(name);
      expect(modelConfig.batch_size).toBeGreaterThanOrEqual(1);
      expect(modeConfig.model_classes.add_suffix).not.toBe('');
      expect(modeConfig.model_tags.add_suffix).not.toBe('');
    },
  );

  it('the sliding windows have the training input size and an overlap smaller than the window', () => {
    const train = resolveTrainConfig(unetPreset.config, {
      customModelSchema: UNET_SETTINGS_SCHEMA,
    });
    const preset = inferencePresets.find((p) => modeName(p) === 'sliding_window') as Preset;
    const { modeConfig } = resolveInferenceConfig(preset.config);
    if (modeConfig.name !== 'sliding_window') throw new Error('not a sliding_window preset');
    expect(modeConfig.window).toEqual(train.input_size);
    expect(modeConfig.min_overlap.x).toBeLessThan(modeConfig.window.width);
    expect(modeConfig.min_overlap.y).toBeLessThan(modeConfig.window.height);
  });

  it('validation is live: a preset with a misspelled key or a bad value is refused', () => {
    const preset = inferencePresets[0] as Preset;
    const mode = preset.config.mode as Record<string, unknown>;
    expect(() =>
      resolveInferenceConfig({ ...preset.config, mode: { ...mode, save_probabilites: true } }),
    ).toThrow(/save_probabilites/);
    const train = unetPreset.config;
    expect(() =>
      resolveTrainConfig(
        { ...train, input_size: { width: 100, height: 128 } },
        { customModelSchema: UNET_SETTINGS_SCHEMA },
      ),
    ).toThrow(/multiple of 16/);
  });
});
