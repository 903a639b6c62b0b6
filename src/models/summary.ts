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
