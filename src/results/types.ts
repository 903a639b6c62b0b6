/**
 * Plain-data records that notebooks write and the report reads.
 * Everything here is JSON-serialisable; no tf types.
 */

/**
 * Model description: what `models/` builds from, and what a result records. The fields are declarative knobs
 * shared by every family (resnet, preact_resnet, densenet, vgg); see `models/index.ts` KNOBS for which family
 * reads which.
 */
export interface ModelSpec {
  /** Family name: "resnet" | "preact_resnet" | "densenet" | "vgg". */
  family: string;
  /** Human name, e.g. "ResNet20-w16" or "ResNet18". */
  name: string;
  /** Residual block type for (PreAct)ResNets: "basic" or "bottleneck". */
  block?: string;
  /**
   * Depth. (PreAct)ResNet: blocks per stage, e.g. [3, 3, 3]. DenseNet: bottlenecks per dense block,
   * e.g. [6, 12, 24, 16]. VGG: convs per stage (each stage ends in a 2×2 max-pool), e.g. [1, 1, 2, 2, 2] for VGG11.
   */
  blocks: number[];
  /**
   * Width. (PreAct)ResNet and VGG: channels per stage, e.g. [16, 32, 64]. DenseNet: [stem channels]
   * (kuangliu: 2 × growth); its other widths follow from growth and reduction.
   */
  widths: number[];
  /** Activation name: "relu" | "leaky_relu" | "elu" | "gelu" | "silu". */
  activation: string;
  /** Dropout rate before the classifier (0 = none). */
  dropout: number;
  numClasses: number;
  /** Optional: multiplies every width (and the DenseNet growth), rounded, at least 1. Default 1. */
  widthMultiplier?: number;
  /** Optional: dropout rate inside every block (before a block's last conv; after each VGG activation). Default 0. */
  blockDropout?: number;
  /** Optional, DenseNet only: growth rate (channels each bottleneck adds). Required for densenet. */
  growth?: number;
  /** Optional, DenseNet only: transition compression in (0, 1]. Default 0.5. */
  reduction?: number;
  /** Optional, VGG only: the full kuangliu config list (numbers and "M"); when given, it replaces blocks/widths. */
  config?: (number | "M")[];
}

/** Optimizers with PyTorch semantics (`train/sgd.ts`, `train/optimizers.ts`). */
export type OptimizerName = "sgd" | "adam" | "adamw" | "rmsprop";
/** LR schedules (`train/schedules.ts`): step, multistep and cosine change the lr once per epoch, onecycle every batch. */
export type ScheduleName = "constant" | "cosine" | "step" | "multistep" | "onecycle";

/** Parameters of the LR schedule, in torch's meaning; each applies to the schedules named in brackets. */
export interface ScheduleOptions {
  /** [step] StepLR step_size: epochs between two decays. Required for "step". */
  stepSize?: number;
  /** [step, multistep] decay factor. Default 0.1. */
  gamma?: number;
  /** [multistep] MultiStepLR milestones: strictly increasing epochs at which the lr is multiplied by gamma. Required. */
  milestones?: number[];
  /** [cosine] CosineAnnealingLR T_max in epochs. Default: the epochs after the warm-up. */
  tMax?: number;
  /** [cosine] eta_min, the lowest lr. Default 0. */
  etaMin?: number;
  /** [onecycle] fraction of the steps spent raising the lr. Default 0.3. */
  pctStart?: number;
  /** [onecycle] initial lr = lr / divFactor. Default 25. */
  divFactor?: number;
  /** [onecycle] final lr = initial lr / finalDivFactor. Default 1e4. */
  finalDivFactor?: number;
  /** [onecycle] "cos" (default) or "linear". */
  annealStrategy?: "cos" | "linear";
  /** [onecycle] torch's three_phase. Default false. */
  threePhase?: boolean;
  /** [onecycle] cycle the momentum (SGD, RMSprop) or beta1 (Adam, AdamW) inversely to the lr. Default true (torch). */
  cycleMomentum?: boolean;
  /** [onecycle] lower momentum bound. Default 0.85. */
  baseMomentum?: number;
  /** [onecycle] upper momentum bound. Default 0.95. */
  maxMomentum?: number;
}

/** Linear warm-up in front of the schedule (torch LinearLR): exactly one of `epochs` or `steps`. */
export interface WarmupSpec {
  /** Warm-up length in epochs (SequentialLR in front of the schedule). */
  epochs?: number;
  /** Warm-up length in optimizer steps (batches). */
  steps?: number;
  /** LinearLR start_factor in (0, 1]: the first lr is startFactor × the schedule's first lr. Default 1/3 (torch). */
  startFactor?: number;
}

/** Stop when the validation accuracy has not improved by more than minDelta for `patience` epochs. */
export interface EarlyStoppingSpec {
  patience: number;
  /** Smallest gain (accuracy in [0, 1]) that counts as an improvement. Default 0. */
  minDelta?: number;
}

/**
 * Hyperparameters of one training run: everything trainModel (`train/loop.ts`) needs besides the model and data.
 * Checked by `validateTrainSpec` (`train/spec.ts`), which lists every key with its type and range; the fields
 * after `seed` and the optional optimizer parameters were added with the training engine and are absent from
 * older records (which all mean SGD with the given momentum and weight decay).
 */
export interface TrainSpec {
  optimizer: OptimizerName;
  /** Base learning rate (one-cycle: max_lr). */
  lr: number;
  /** [sgd, rmsprop] momentum. Default 0 (torch). */
  momentum?: number;
  /** [all] weight decay: L2 added to the gradient (sgd, adam, rmsprop), decoupled (adamw). Default 0; adamw 0.01. */
  weightDecay?: number;
  epochs: number;
  batchSize: number;
  schedule: ScheduleName;
  /** e.g. ["crop4", "hflip"], ["crop4", "hflip", "cutout16"], [] or ["none"] (see `data/transforms.ts`). */
  augment: string[];
  seed: number;
  /** [sgd] Nesterov momentum. Default false. */
  nesterov?: boolean;
  /** [sgd] dampening of the momentum. Default 0. */
  dampening?: number;
  /** [adam, adamw] (beta1, beta2). Default [0.9, 0.999]. */
  betas?: [number, number];
  /** [adam, adamw, rmsprop] epsilon. Default 1e-8. */
  eps?: number;
  /** [adam, adamw] AMSGrad. Default false. */
  amsgrad?: boolean;
  /** [rmsprop] smoothing constant. Default 0.99. */
  alpha?: number;
  /** [rmsprop] centered RMSprop. Default false. */
  centered?: boolean;
  scheduleOptions?: ScheduleOptions;
  warmup?: WarmupSpec;
  earlyStopping?: EarlyStoppingSpec;
  /** CrossEntropyLoss label_smoothing in [0, 1). Default 0. */
  labelSmoothing?: number;
  /** clip_grad_norm_ max_norm (total 2-norm of all gradients); absent = no clipping. */
  clipNorm?: number;
}

export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  valLoss: number;
  valAccuracy: number;
  lr: number;
  seconds: number;
}

/** Where a run stands: "running" until it ends, then "done", "failed" (an error) or "diverged" (a non-finite loss). */
export type RunStatus = "running" | "done" | "failed" | "diverged";
export const RUN_STATUSES: readonly RunStatus[] = ["running", "done", "failed", "diverged"];

/** Package versions a run was made with. */
export interface RunVersions {
  tfjs: string;
  node: string;
  /** minicifar-lab's package.json version. */
  lab: string;
}

/**
 * One training run, as the results store (`reports/results.sqlite`, see `results/store.ts`) holds it.
 * The fields marked optional were added with the SQLite store; records made before it lack them.
 */
export interface RunRecord {
  /** Stable id, e.g. "quick/scratch/ResNet8-w8" (profile/task/model). */
  id: string;
  /** Which lab task produced it. */
  task: "scratch" | "pretrain" | "probe" | "finetune";
  /** Dataset the accuracy refers to, e.g. "minicifar" or "cifar100-filtered". */
  dataset: string;
  model: ModelSpec;
  train: TrainSpec;
  /** Trainable parameters. */
  params: number;
  /** FLOPs of one forward pass on one image, multiply-add = 2 FLOPs (`models/summary.ts` forwardFlops). */
  flops?: number;
  /** Bytes of the weights as float32 (BN running statistics included): the size of weights.bin. */
  sizeBytes?: number;
  backend: string;
  profile: string;
  versions?: RunVersions;
  /** Absent in old records, which were all finished runs ("done"). */
  status?: RunStatus;
  /** The error message of a failed or diverged run. */
  error?: string;
  /** ISO time the run started. */
  startedAt?: string;
  epochs: EpochMetrics[];
  /** Test accuracy in [0, 1] (NaN until the run is done). */
  testAccuracy: number;
  testLoss?: number;
  trainSeconds: number;
  /** Training throughput, images per second. */
  trainImagesPerSecond: number;
  /** Inference latency per image, milliseconds: batched prediction (batch 64) after a warm-up batch. */
  inferenceMsPerImage?: number;
  /** Peak resident set size of the process during the run, bytes (sampled). */
  peakRssBytes?: number;
  /** ISO time the run ended (absent while it is running). */
  finishedAt?: string;
}
