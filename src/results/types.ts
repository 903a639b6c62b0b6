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

/** Hyperparameters of one training run. */
export interface TrainSpec {
  optimizer: "sgd";
  lr: number;
  momentum: number;
  weightDecay: number;
  epochs: number;
  batchSize: number;
  /** "cosine" | "constant" */
  schedule: string;
  /** e.g. ["crop4", "hflip"] or [] */
  augment: string[];
  seed: number;
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
