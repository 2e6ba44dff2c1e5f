/**
 * How the click task meets its network's declared tensors: it packs its parts (encode.ts) into the network's
 * one input tensor and reads the two channels (background, object) of the output named `scores`, by name on
 * either engine, whatever the order of the network's outputs. Training's validation and `segmentFromClicks`
 * both run the network through `clickScoreRunner`, so they cannot disagree.
 */
import { configError } from '../../errors';
import type { SegmentationEngine } from '../../inference/engine/types';
import type { ExpectedNetwork } from '../../inference/model-shapes';
import { inputParts, SCORES_OUTPUT, type NetworkSignature } from '../../network/types';
import type { Grid } from './clicks';
import { CLICK_INPUT_CHANNELS, CLICK_INPUT_NAMES } from './encode';
import type { ScoreRunner } from './series';

/** The output the task scores in training and reads at inference. */
export const CLICK_SCORES_OUTPUT = SCORES_OUTPUT[0];
/** Its channels: background, object. */
export const CLICK_SCORES_CHANNELS = 2;

/** The names the task feeds and reads, checked against the network's declaration. */
export interface ClickTensorNames {
  readonly input: string;
  readonly output: string;
}

/**
 * The network's input tensor (the one that packs the task's parts, in the task's order) and its `scores`
 * output. A network declared otherwise is a config error naming the network and what it declares.
 */
export function clickTensorNames(network: NetworkSignature & { readonly name: string }): ClickTensorNames {
  const declares = `the network "${network.name}" takes [${network.inputs.map((i) => i.name).join(', ')}]`;
  if (network.inputs.length !== 1) {
    throw configError(`the click task packs its inputs into one tensor; ${declares}`, { field: 'network' });
  }
  const parts = inputParts(network.inputs).map((p) => p.name);
  if (
    parts.join(',') !== CLICK_INPUT_NAMES.join(',') ||
    network.inputs[0].channels !== CLICK_INPUT_CHANNELS
  ) {
    throw configError(
      `the click task feeds [${CLICK_INPUT_NAMES.join(', ')}] in ${CLICK_INPUT_CHANNELS} channels; ${declares} ` +
        `packing [${parts.join(', ')}] in ${network.inputs[0].channels}`,
      { field: 'network' },
    );
  }
  if (!network.outputs.includes(CLICK_SCORES_OUTPUT)) {
    throw configError(
      `the click task reads the output "${CLICK_SCORES_OUTPUT}"; the network "${network.name}" gives ` +
        `[${network.outputs.join(', ')}]`,
      { field: 'network' },
    );
  }
  return { input: network.inputs[0].name, output: CLICK_SCORES_OUTPUT };
}

/** What a click checkpoint's network must be (model-shapes.ts): its declared input, two channels of scores. */
export function clickNetworkExpected(signature: NetworkSignature): ExpectedNetwork {
  return {
    inputs: signature.inputs,
    outputs: signature.outputs.map((name) =>
      name === CLICK_SCORES_OUTPUT
        ? {
            name,
            channels: CLICK_SCORES_CHANNELS,
            why: 'the click task reads 2 channels (background, object)',
          }
        : { name, channels: null, why: 'the click task does not read it' },
    ),
  };
}

/** Runs n packed inputs (H x W x 6 each) through the engine by name, giving the `scores` output's values. */
export function clickScoreRunner(
  engine: SegmentationEngine,
  names: ClickTensorNames,
  grid: Grid,
): ScoreRunner {
  return async (x, n) => {
    const out = await engine.runNamed({
      [names.input]: { data: x, shape: [n, grid.height, grid.width, CLICK_INPUT_CHANNELS] },
    });
    return out[names.output].data;
  };
}
