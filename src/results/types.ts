/**
 * Plain-data records that notebooks write and the report reads.
 * Everything here is JSON-serialisable; no tf types.
 */

/** Model description: what `models/` builds from, and what a result records. */
export interface ModelSpec {
  /** Family name, e.g. "resnet". */
  family: string;
  /** Human name, e.g. "ResNet20-w16" or "ResNet18". */
  name: string;
  /** Residual block type for ResNets: "basic" or "bottleneck". */
  block?: string;
  /** Blocks per stage, e.g. [3, 3, 3]. */
  blocks: number[];
  /** Channels per stage, e.g. [16, 32, 64]. */
  widths: number[];
  /** Activation name: "relu" | "leaky_relu" | "elu" | "gelu" | "silu". */
  activation: string;
  /** Dropout rate before the classifier (0 = none). */
  dropout: number;
  numClasses: number;
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
