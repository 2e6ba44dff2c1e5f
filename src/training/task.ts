/**
 * What a training task supplies to the runtime (house plan: entry points → tasks → runtime rooms). The runtime
 * owns the project, the folds, the loop, the engines and the checkpoints; a task owns what is specific to a kind
 * of problem: the model's output classes, which items it can learn from, what a sample is and how samples
 * collate into the engine's batch, the validation metrics, and what a checkpoint records about it. Tasks live in
 * src/tasks/; the runtime never imports one: the entry point passes it in.
 */
import type { ProjectListing } from '../format/project-reader';
import type { Logger } from '../protocol/logger';
import type { TrainConfig } from '../task/config-types';
import type { TaskPaths } from '../task/paths';
import type { AnyNetwork } from '../network/types';
import type { SegmentationClasses } from '../model-state/class-map';
import type { FoldBatches } from './data/fold-batches';
import type { SampleSeed } from './data/sample';
import type { Batch, LossOptions, TrainEngine } from './engine/types';
import type { MetricValues } from './metrics';
import type { FoldPlan, ScannedItem, TrainingPlan } from './plan';

/** How one fold's samples are made and batched. */
export interface SampleSource<S> {
  load(item: ScannedItem, seed: SampleSeed): Promise<S>;
  collate(samples: S[]): Batch;
}

export interface TaskRunContext {
  paths: TaskPaths;
  config: TrainConfig;
  project: ProjectListing;
  network: AnyNetwork;
  logger: Logger;
}

/** The part of the loss a task decides: class weights, and the output it scores (default: the first). */
export type TaskLoss = Pick<LossOptions, 'classWeights' | 'output'>;

export interface TrainingTask<S = unknown> {
  /** e.g. `semantic_segmentation`; a network declares the task it is built for (AnyNetwork.task). */
  readonly name: string;
  /**
   * The named inputs this task feeds, in channel order over the network's input tensors (`inputParts`): the
   * network must declare the same. Its batches hold one tensor per network input, under the network's names.
   */
  readonly inputNames: readonly string[];
  /**
   * Refuses settings the task cannot honour (a config error naming the field), before any data is read;
   * without it every setting is accepted.
   */
  checkConfig?(config: TrainConfig): void;
  /** The model's output classes and class map (logged by the task). Errors name the file and the field. */
  determineClasses(ctx: TaskRunContext): Promise<SegmentationClasses>;
  /** Items this task cannot learn from (e.g. images without objects) and why; undefined keeps them all. */
  unusableItem?(item: ScannedItem): string | undefined;
  /**
   * What the loss adds to plain cross-entropy (issue #13: the task declares its loss, the engines compute
   * it), e.g. class weights from the train fold's pixel counts (the task logs what it chose), and which of the
   * network's outputs it scores, by name. Without it, or with an empty answer, the loss is the unweighted
   * cross-entropy of the network's first output; `class_weights` chosen then is a warning.
   */
  loss?(ctx: TaskRunContext, opts: { plan: TrainingPlan; classes: SegmentationClasses }): TaskLoss;
  /** The samples of one fold: train with the config's augmentations, val without. */
  samples(
    ctx: TaskRunContext,
    opts: { fold: FoldPlan; plan: TrainingPlan; classes: SegmentationClasses },
  ): SampleSource<S>;
  /**
   * The validation metrics over the val fold (spec D.5). `loss` is required: the checkpoint hook compares it.
   * The engine is up to date: `engine.getModel()` predicts with the current weights.
   */
  evaluate(
    ctx: TaskRunContext,
    opts: {
      engine: TrainEngine;
      valFold: FoldBatches<S>;
      classes: SegmentationClasses;
      epochFloat: number;
    },
  ): Promise<MetricValues>;
  /** What a checkpoint's config.json records about the task, beside the SDK's keys (spec C.2 allows extras). */
  checkpointRecord(ctx: TaskRunContext): Record<string, unknown>;
}

export type AnyTrainingTask = TrainingTask<unknown>;
