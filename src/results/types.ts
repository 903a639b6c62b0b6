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

/** One finished training run, as stored under reports/results/. */
export interface RunRecord {
  /** Stable id, e.g. "01-scratch/resnet20-w16". */
  id: string;
  /** Which lab task produced it. */
  task: "scratch" | "pretrain" | "probe" | "finetune";
  /** Dataset the accuracy refers to, e.g. "minicifar" or "cifar100-filtered". */
  dataset: string;
  model: ModelSpec;
  train: TrainSpec;
  /** Trainable parameters. */
  params: number;
  backend: string;
  profile: string;
  epochs: EpochMetrics[];
  /** Test accuracy in [0, 1]. */
  testAccuracy: number;
  trainSeconds: number;
  /** Training throughput, images per second. */
  trainImagesPerSecond: number;
  finishedAt: string;
}
