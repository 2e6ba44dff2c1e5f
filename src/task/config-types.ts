/**
 * The validated configs, as the rest of the runtime reads them. Field names are the wire names (they are stored
 * in each checkpoint's config.json `settings`, spec C.2). The schemas in ./schemas are the source of the rules
 * and defaults; these types describe what passes them (after normalisation in train-config.ts and
 * inference-config.ts).
 */

export interface TrainValPair<T> {
  train: T;
  val: T;
}

export type WeightsInitType = 'transfer_learning' | 'continue_training';

export interface SpecialClasses {
  /** The class every unlabelled pixel belongs to; absent when switched off (null in the task config). */
  background?: string;
  /** The class whose pixels are ignored by the loss and metrics; absent when switched off. */
  neutral?: string;
}

export interface TrainConfig {
  /** Network input size; positive multiples of 16. */
  input_size: { width: number; height: number };
  batch_size: TrainValPair<number>;
  /** Image tags that select the train and val folds (spec E.5). */
  dataset_tags: TrainValPair<string>;
  epochs: number;
  /** Validation (and a checkpoint) every this many epochs, fractional allowed; never more than `epochs`. */
  val_every: number;
  /** The peak learning rate (Adam). */
  lr: number;
  /** How the learning rate changes over the run (training/lr-schedule.ts). */
  lr_schedule: LrScheduleConfig;
  /** Per-class weights of the cross-entropy, from the train fold's pixel counts (training/class-weights.ts). */
  class_weights: 'none' | 'enet' | 'median_frequency';
  weights_init_type: WeightsInitType;
  special_classes: SpecialClasses;
  /** Mapped to CUDA_VISIBLE_DEVICES by the entry point (spec G.2, H.4). */
  gpu_devices: number[];
  data_workers: TrainValPair<number>;
  /** Data-parallel backend instances: "auto" or a count >= 1. */
  compute_workers: 'auto' | number;
  /** What runs the steps: onnxruntime (native kernels), tfjs, or "auto" (onnxruntime when it can). */
  train_engine: 'auto' | 'onnxruntime' | 'tfjs';
  allow_corrupted_samples: TrainValPair<number>;
  seed: number;
  augment: {
    flip_horizontal: boolean;
    flip_vertical: boolean;
    /** Native resolution: a training window's scale factor range, drawn log-uniformly. */
    random_scale: [number, number];
    /** Native resolution: colour jitter strength in [0, 1]. */
    color_jitter: number;
  };
  /** fit: the whole image resized to input_size; native: input_size windows at `scale` (1 = its own pixels). */
  resolution: { mode: 'fit' | 'native'; scale: number };
  /** Also pack each checkpoint as a tar beside it. */
  save_model_tar: boolean;
  /** Write model.onnx into each checkpoint. */
  export_onnx: boolean;
  /** The network plugin by name (e.g. `unet`, `clicks`); it decides the task. */
  network: string;
  /** The network plugin's own settings, validated against the plugin's schema when it supplies one. */
  custom_model_config: Record<string, unknown>;
  /** Only for a tracker (task video_tracking); see the schema. */
  tracking: TrackingConfig;
  /** Only for a click network (task click_segmentation); see the schema. */
  clicks: ClicksConfig;
}

export interface ClicksConfig {
  /** Validation scores every object of a val image, up to this many. */
  val_objects_per_image: number;
}

export interface LrScheduleConfig {
  name: 'constant' | 'cosine' | 'poly';
  /** Steps of linear warmup from 0.1 lr to lr, counted from the first step of the run. */
  warmup_steps: number;
  /** The floor of cosine and poly, as a fraction of lr. */
  min_lr_ratio: number;
  /** Poly's exponent. */
  power: number;
}

export interface TrackingConfig {
  steps_per_epoch: number;
  clip_frames: number;
  sources: { generated: number; project: number; video: number };
  short_side: number;
  local_radius: number;
  val_clips: number;
  val_frames: number;
  /** Batches of precise BN before each validation (0: off). */
  precise_bn_batches: number;
}

export interface InferenceModelConfig {
  gpu_device: number;
  batch_size: number;
}

/** `"__all__"` or a non-empty list of names. */
export type NameSelection = '__all__' | string[];

/** The Renamer (spec F.3), normalised: `save_names` (the alias that wins on read) is folded into save_classes. */
export interface RenamerConfig {
  add_suffix: string;
  save_classes: NameSelection;
}

/** `"<int>px"` or `"<int>%"`. */
export type PercentOrPx = string;

export interface SideBounds {
  left: PercentOrPx;
  top: PercentOrPx;
  right: PercentOrPx;
  bottom: PercentOrPx;
}

export interface ModeCommon {
  model_classes: RenamerConfig;
  model_tags: RenamerConfig;
  save_probabilities: boolean;
}

export interface FullImageModeConfig extends ModeCommon {
  name: 'full_image';
}

export interface RoiModeConfig extends ModeCommon {
  name: 'roi';
  bounds: SideBounds;
  save: boolean;
  class_name: string;
}

export interface BboxesModeConfig extends ModeCommon {
  name: 'bboxes';
  from_classes: NameSelection;
  padding: SideBounds;
  save: boolean;
  add_suffix: string;
}

export type Blending = 'sum' | 'feather';

export interface SlidingWindowModeConfig extends ModeCommon {
  name: 'sliding_window';
  window: { width: number; height: number };
  min_overlap: { x: number; y: number };
  save: boolean;
  class_name: string;
  /** "sum": the SDK's plain score sum; "feather": weights that fall off toward the window edge. */
  blending: Blending;
}

export type ModeConfig = FullImageModeConfig | RoiModeConfig | BboxesModeConfig | SlidingWindowModeConfig;

export type ModeName = ModeConfig['name'];

export const MODE_NAMES: readonly ModeName[] = ['full_image', 'roi', 'bboxes', 'sliding_window'];
