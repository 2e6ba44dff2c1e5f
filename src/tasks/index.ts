/**
 * The tasks this image trains, by name: a network plugin declares its task (SegmentationNetwork.task) and the
 * entry point looks it up here. To add a task: a folder here with a TrainingTask (src/training/task.ts), one
 * entry below.
 */
import { configError } from '../errors';
import type { AnyTrainingTask } from '../training/task';
import { clickSegmentationTask } from './click-segmentation/training';
import { semanticSegmentationTask } from './semantic-segmentation/training';

export const TRAINING_TASKS: readonly AnyTrainingTask[] = [
  semanticSegmentationTask as AnyTrainingTask,
  clickSegmentationTask as AnyTrainingTask,
];

export function trainingTaskNamed(name: string): AnyTrainingTask {
  const task = TRAINING_TASKS.find((t) => t.name === name);
  if (task === undefined) {
    throw configError(
      `no training task "${name}"; the tasks are: ${TRAINING_TASKS.map((t) => t.name).join(', ')}`,
      { field: 'network' },
    );
  }
  return task;
}
