/**
 * Model card: parameter counts, multiply-adds per image, size, and the per-layer table.
 *
 * FLOPs here are MULTIPLY-ADDS (MACs) of one forward pass on a single 32×32 image, counting only:
 *   - Conv2D: kh·kw·cin·cout·Hout·Wout (bias adds not counted),
 *   - Dense:  in·out (bias adds not counted).
 * BatchNorm, activations, pooling, residual adds, concatenation, padding and dropout are not counted
 * (together they are well under 1% for these nets). This is the convention of thop/ptflops and of the
 * "0.56 GFLOP" usually quoted for CIFAR ResNet18 (556 M multiply-adds, ≈ 1.11 G floating-point operations);
 * multiply by 2 for FLOPs in the strict sense.
 *
 * `forwardFlops` is that strict count, the one the results store records (`runs.flops`): floating-point
 * operations of one forward pass (inference mode) on one image. A multiply-add counts as 2 FLOPs (ptflops and
 * fvcore report multiply-adds as 1); the cheap ops are counted per element as ptflops counts them:
 *   - Conv2D: 2·kh·kw·cin·cout·Hout·Wout, plus Hout·Wout·cout when it has a bias,
 *   - Dense: 2·in·out, plus out when it has a bias,
 *   - BatchNorm: 2 per output element (inference BN folds into one scale and one shift),
 *   - activations (ReLU, LeakyReLU, ELU, GELU, SiLU/swish, softmax): 1 per output element,
 *   - max/average pooling: poolH·poolW per output element (one compare or add per window element);
 *     global average pooling: 1 per input element,
 *   - Add of n inputs: n − 1 per output element,
 *   - Concatenate, ZeroPadding2D, Dropout and SeededDropout (identity at inference), Flatten, InputLayer: 0 (data movement).
 * A layer class outside this list is an error naming it, so a new layer type cannot be silently left out.
 */
import type * as tf from "@tensorflow/tfjs";

export interface LayerSummary {
  name: string;
  className: string;
  /** Output shape without the batch dimension, e.g. [32, 32, 64]. */
  outputShape: number[];
  /** All weights of the layer (trainable and BN running statistics). */
  params: number;
}

export interface ModelSummary {
  /** Trainable parameters (PyTorch's `sum(p.numel() for p in model.parameters())`). */
  params: number;
  /** Non-trainable weights: BatchNorm running mean and variance (PyTorch buffers). */
  nonTrainable: number;
  /** Multiply-adds of one forward pass per 32×32 image (convs and dense layers only; see the file comment). */
  flops: number;
  /** 4 bytes (float32) × every weight, BN running statistics included: the size of weights.bin. */
  sizeBytes: number;
  layers: LayerSummary[];
}

const numel = (shape: readonly (number | null)[]) => shape.reduce((a: number, b) => a * (b ?? 1), 1);

function outShape(layer: tf.layers.Layer): number[] {
  const s = layer.outputShape as (number | null)[] | (number | null)[][];
  const first = Array.isArray(s[0]) ? (s[0] as (number | null)[]) : (s as (number | null)[]);
  return first.slice(1).map((d) => d ?? -1);
}

/** Multiply-adds of one layer for one image (0 for layers that are not conv or dense). */
export function layerMacs(layer: tf.layers.Layer): number {
  const cls = layer.getClassName();
  if (cls !== "Conv2D" && cls !== "Dense") return 0;
  const kernel = layer.weights.length ? layer.weights[0].shape : [];
  const out = outShape(layer);
  if (cls === "Conv2D") {
    const [kh, kw, cin, cout] = kernel as number[];
    return kh * kw * cin * cout * out[0] * out[1];
  }
  const [cin, cout] = kernel as number[];
  return cin * cout;
}

const numelOut = (layer: tf.layers.Layer) => outShape(layer).reduce((a, b) => a * b, 1);

const ACTIVATION_CLASSES = new Set(["ReLU", "LeakyReLU", "ELU", "Activation", "Softmax", "ThresholdedReLU", "PReLU"]);
const ZERO_FLOP_CLASSES = new Set(["InputLayer", "Concatenate", "ZeroPadding2D", "Dropout", "SeededDropout", "SpatialDropout2D", "Flatten", "Reshape"]);

/** FLOPs of one layer for one image in inference mode (multiply-add = 2; see the file comment for each class). */
export function layerFlops(layer: tf.layers.Layer): number {
  const cls = layer.getClassName();
  const config = layer.getConfig() as { useBias?: boolean; poolSize?: number | number[] };
  const out = numelOut(layer);
  if (cls === "Conv2D" || cls === "Dense") {
    const bias = config.useBias !== false ? (cls === "Conv2D" ? out : outShape(layer).slice(-1)[0]) : 0;
    return 2 * layerMacs(layer) + bias;
  }
  if (cls === "TorchBatchNorm" || cls === "BatchNormalization") return 2 * out;
  if (ACTIVATION_CLASSES.has(cls)) return out;
  if (cls === "MaxPooling2D" || cls === "AveragePooling2D") {
    const p = config.poolSize ?? 2;
    const [ph, pw] = Array.isArray(p) ? p : [p, p];
    return ph * pw * out;
  }
  if (cls === "GlobalAveragePooling2D") {
    return numel((layer.input as tf.SymbolicTensor).shape.slice(1));
  }
  if (cls === "Add") return (Array.isArray(layer.input) ? layer.input.length - 1 : 0) * out;
  if (ZERO_FLOP_CLASSES.has(cls)) return 0;
  throw new Error(
    `forwardFlops: no FLOP rule for layer "${layer.name}" of class ${cls}; counted classes: Conv2D, Dense, TorchBatchNorm, BatchNormalization, ${[...ACTIVATION_CLASSES].join(", ")}, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, Add, and 0 for ${[...ZERO_FLOP_CLASSES].join(", ")}`,
  );
}

/** FLOPs of one forward pass (inference) on one image: the sum of `layerFlops` (multiply-add = 2 FLOPs). */
export function forwardFlops(model: tf.LayersModel): number {
  return model.layers.reduce((s, l) => s + layerFlops(l), 0);
}

export function modelSummary(model: tf.LayersModel): ModelSummary {
  const trainable = model.trainableWeights.reduce((s, w) => s + numel(w.shape), 0);
  const all = model.weights.reduce((s, w) => s + numel(w.shape), 0);
  const layers = model.layers.map((l) => ({
    name: l.name,
    className: l.getClassName(),
    outputShape: outShape(l),
    params: l.countParams(),
  }));
  const flops = model.layers.reduce((s, l) => s + layerMacs(l), 0);
  return { params: trainable, nonTrainable: all - trainable, flops, sizeBytes: 4 * all, layers };
}

export interface StageSummary {
  /** "stem", "layer1" … (ResNets), "dense1", "trans1" … (DenseNet), "stage1" … (VGG: up to each max-pool), "head". */
  name: string;
  /** Output shape [H, W, C] of the stage's last layer. */
  outputShape: number[];
  /** Residual blocks / dense bottlenecks / convs in the stage (0 for stem and head bookkeeping layers). */
  units: number;
  /** Trainable parameters. */
  params: number;
  /** FLOPs per image (as `forwardFlops`). */
  flops: number;
}

const HEAD = new Set(["features", "linear", "classifier", "bn", "act"]);
const STEM = new Set(["conv1", "bn1", "act1"]);

/**
 * The model's stages, in order, from its kuangliu layer names: the stem (conv1 and its BN/activation), each
 * stage (`layer<k>`, `dense<k>`, `trans<k>`; VGG's `features.<i>` split after every max-pool), and the head
 * (final BN/activation, pooling, classifier). Parameters and FLOPs of the stages sum to the model's.
 */
export function stageSummary(model: tf.LayersModel): StageSummary[] {
  const stages: StageSummary[] = [];
  let vggStage = 1;
  let vggOpen = false;
  for (const l of model.layers) {
    if (l.getClassName() === "InputLayer") continue;
    const top = l.name.split(".")[0];
    let name: string;
    if (top === "features" && l.name.includes(".")) {
      // VGG: features.<i>; a stage ends at each max-pool, the final average pool belongs to the head.
      name = l.getClassName() === "AveragePooling2D" && !vggOpen ? "head" : `stage${vggStage}`;
    } else name = STEM.has(top) ? "stem" : HEAD.has(top) ? "head" : top;
    let s = stages[stages.length - 1];
    if (!s || s.name !== name) {
      s = { name, outputShape: [], units: 0, params: 0, flops: 0 };
      stages.push(s);
    }
    s.params += l.trainableWeights.reduce((n, w) => n + numel(w.shape), 0);
    s.flops += layerFlops(l);
    s.outputShape = outShape(l);
    const cls = l.getClassName();
    if (name.startsWith("stage")) {
      if (cls === "Conv2D") s.units++;
      vggOpen = cls !== "MaxPooling2D";
      if (cls === "MaxPooling2D") vggStage++;
    } else if (/^(layer|dense)\d/.test(name) && cls === "Add") s.units++;
    else if (/^dense\d/.test(name) && cls === "Concatenate") s.units++;
  }
  return stages;
}
