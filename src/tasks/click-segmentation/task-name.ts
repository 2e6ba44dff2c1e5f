/** The task's name, as networks declare it and checkpoints record it (tfjs-free, for readers of checkpoints). */
export const CLICK_SEGMENTATION = 'click_segmentation';
