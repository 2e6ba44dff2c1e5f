/**
 * Making an initial model folder (issue 6): training on the platform needs a model to start from, so this
 * builds the network for a project's classes and an input size, initialises it randomly or from an existing
 * checkpoint (transfer learning: every non-head weight kept, a fresh head for the new classes), and writes a
 * folder ready to be packed as a model-state tar (spec C.1): config.json (spec C.2) + model.json + weights.bin.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { configError, modelError } from '../errors';
import type { ModelConfigJson, ObjClassJson } from '../format/types';
import { saveModelToDir } from '../network/io';
import { buildAndInitModel, type CopyWeightsReport, modelFolderEntries } from '../network/transfer';
import type { AnyNetwork, InputSize } from '../network/types';
import { createSegmentationClasses, type SpecialClasses } from './class-map';
import { syncTreeAndMeasure, writeFolderAtomically } from '../util/atomic';
import { networkRecord } from '../network/record';
import { type ModelConfigInput, modelConfigJson, writeModelConfig } from './config';

/** The parts of the (full, merged) training config this needs; all of it is stored as `settings`. */
export interface InitWeightsSettings {
  input_size: InputSize;
  special_classes?: SpecialClasses;
  custom_model_config?: unknown;
  /** Seeds the initial weights, as in training. */
  seed?: number;
}

export interface InitWeightsOptions {
  network: AnyNetwork;
  /** The training config the model is made for; stored as config.json `settings`. */
  settings: InitWeightsSettings;
  /** The project's classes (meta.json `classes`); the class map follows spec E.3. */
  projectClasses: readonly ObjClassJson[];
  /** A checkpoint folder to transfer the backbone from; random initialisation when absent. */
  from?: string;
  /** The folder to create; it must not exist, or be empty. */
  outDir: string;
}

export interface InitWeightsResult {
  dir: string;
  config: ModelConfigJson;
  init: 'random' | 'transfer_learning';
  numClasses: number;
  report: CopyWeightsReport;
  /** Total bytes written. */
  sizeb: number;
}

export async function initWeights(opts: InitWeightsOptions): Promise<InitWeightsResult> {
  const { network, settings } = opts;
  const outDir = path.resolve(opts.outDir);
  await assertEmptyOrAbsent(outDir);
  if (opts.from !== undefined && (await modelFolderEntries(opts.from)).length === 0) {
    throw modelError('is empty or absent: there is no model to transfer from', { file: opts.from });
  }
  // Transfer learning builds a fresh class map from the project (spec E.4), as training will.
  const classes = createSegmentationClasses({
    projectClasses: opts.projectClasses,
    specialClasses: settings.special_classes,
    weightsInitType: 'transfer_learning',
  });
  const networkSettings = network.parseSettings(settings.custom_model_config);
  const { model, report } = await buildAndInitModel({
    network,
    settings: networkSettings,
    inputSize: settings.input_size,
    numClasses: classes.numClasses,
    weightsInitType: 'transfer_learning',
    modelDir: opts.from,
    ...(settings.seed !== undefined ? { seed: settings.seed } : {}),
  });
  const configInput: ModelConfigInput = {
    settings: { ...settings },
    outClasses: classes.outClasses,
    classTitleToIdx: classes.classTitleToIdx,
    extra: { ...networkRecord(network) },
  };
  try {
    await fsp.mkdir(path.dirname(outDir), { recursive: true });
    const sizeb = await writeFolderAtomically(outDir, async (tempDir) => {
      await writeModelConfig(tempDir, configInput);
      await saveModelToDir(model, tempDir);
      const bytes = await syncTreeAndMeasure(tempDir);
      await fsp.rm(outDir, { recursive: true, force: true }); // empty or absent, checked above
      return bytes;
    });
    return {
      dir: outDir,
      config: modelConfigJson(configInput),
      init: opts.from === undefined ? 'random' : 'transfer_learning',
      numClasses: classes.numClasses,
      report,
      sizeb,
    };
  } finally {
    model.dispose();
  }
}

async function assertEmptyOrAbsent(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fsp.readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw configError('exists and is not a folder', { file: dir });
    throw e;
  }
  if (entries.length > 0) {
    throw configError(`is not empty (${entries.slice(0, 5).join(', ')}); choose a new output folder`, {
      file: dir,
    });
  }
}
