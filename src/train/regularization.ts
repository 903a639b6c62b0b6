/**
 * The loss and the regularisers of a training step, with PyTorch's semantics:
 *
 *  - `crossEntropy(logits, labels, numClasses, labelSmoothing = 0)`: the batch mean of
 *    torch.nn.CrossEntropyLoss(label_smoothing=ε): targets (1 − ε)·onehot + ε/K. ε = 0 is plain softmax
 *    cross-entropy (the same tf op as before).
 *  - `clipGradNorm(grads, maxNorm)`: torch.nn.utils.clip_grad_norm_(max_norm, norm_type=2): the total 2-norm N of
 *    all gradients together; every gradient is multiplied by min(1, maxNorm / (N + 1e-6)). Returns new tensors and N.
 *  - `EarlyStopping`: stop when the validation accuracy has not improved by more than `minDelta` for `patience`
 *    epochs in a row (Keras' EarlyStopping(monitor="val_accuracy", mode="max") rule); its state is plain data.
 */
import * as tf from "@tensorflow/tfjs";
import type { EarlyStoppingSpec } from "../results/types";

/** Mean cross-entropy of `logits` [n, K] against integer `labels` [n], with torch's label smoothing. */
export function crossEntropy(logits: tf.Tensor, labels: tf.Tensor1D, numClasses: number, labelSmoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    const onehot = tf.oneHot(labels, numClasses);
    // tfjs smooths as onehot·(1 − ε) + ε/K, which is torch's target distribution.
    return tf.losses.softmaxCrossEntropy(onehot, logits, undefined, labelSmoothing) as tf.Scalar;
  });
}

/**
 * clip_grad_norm_ on a map of gradients. Returns the scaled gradients (new tensors; the inputs are left to the caller)
 * and the total norm (a scalar tensor, before clipping). A non-finite norm scales by NaN, as torch does by default.
 */
export function clipGradNorm(grads: tf.NamedTensorMap, maxNorm: number): { grads: tf.NamedTensorMap; totalNorm: tf.Scalar } {
  if (!(typeof maxNorm === "number" && maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be a number > 0, got ${maxNorm}`);
  const names = Object.keys(grads);
  if (names.length === 0) return { grads: {}, totalNorm: tf.scalar(0) };
  return tf.tidy(() => {
    const squares = names.map((k) => tf.sum(tf.square(grads[k])));
    const totalNorm = tf.sqrt(squares.length === 1 ? squares[0] : tf.addN(squares)) as tf.Scalar;
    const coef = tf.minimum(tf.div(maxNorm, tf.add(totalNorm, 1e-6)), 1);
    const out: tf.NamedTensorMap = {};
    for (const k of names) out[k] = tf.mul(grads[k], coef);
    return { grads: out, totalNorm };
  });
}

export interface EarlyStoppingState {
  /** Best validation accuracy so far (-Infinity before the first epoch). */
  best: number;
  /** 1-based epoch of the best accuracy (0 before the first epoch). */
  bestEpoch: number;
  /** Epochs in a row without an improvement > minDelta. */
  wait: number;
}

/** Why and when a run ended; part of trainModel's result. */
export interface StopInfo {
  reason: "completed" | "early-stopping";
  /** The last epoch trained (1-based). */
  epoch: number;
  /** Epochs the spec planned. */
  plannedEpochs: number;
  /** With early stopping (or any validation set): the best validation accuracy and its epoch (1-based). */
  bestValAccuracy?: number;
  bestEpoch?: number;
  /** A sentence for logs and reports. */
  message: string;
}

export class EarlyStopping {
  readonly patience: number;
  readonly minDelta: number;
  private s: EarlyStoppingState = { best: -Infinity, bestEpoch: 0, wait: 0 };

  constructor(spec: EarlyStoppingSpec) {
    if (!Number.isInteger(spec.patience) || spec.patience < 1) throw new Error(`earlyStopping.patience must be an integer ≥ 1, got ${spec.patience}`);
    const d = spec.minDelta ?? 0;
    if (!(typeof d === "number" && d >= 0 && d < 1)) throw new Error(`earlyStopping.minDelta must be a number in [0, 1), got ${spec.minDelta}`);
    this.patience = spec.patience;
    this.minDelta = d;
  }

  /** Record epoch `epoch`'s (1-based) validation accuracy; true when training should stop now. */
  update(epoch: number, valAccuracy: number): boolean {
    if (!Number.isFinite(valAccuracy)) throw new Error(`early stopping needs a validation accuracy; epoch ${epoch} has ${valAccuracy}`);
    if (valAccuracy > this.s.best + this.minDelta) this.s = { best: valAccuracy, bestEpoch: epoch, wait: 0 };
    else this.s = { ...this.s, wait: this.s.wait + 1 };
    return this.s.wait >= this.patience;
  }

  get state(): EarlyStoppingState {
    return { ...this.s };
  }

  set state(s: EarlyStoppingState) {
    this.s = { ...s };
  }

  /** Why it stopped, for the record. */
  describe(): string {
    return `no validation-accuracy gain > ${this.minDelta} for ${this.patience} epoch${this.patience === 1 ? "" : "s"} (best ${(100 * this.s.best).toFixed(2)}% at epoch ${this.s.bestEpoch})`;
  }
}
