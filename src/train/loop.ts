/**
 * The training loop: mini-batch SGD with PyTorch semantics, a learning-rate
 * schedule, validation each epoch and test at the end. It knows nothing of
 * notebooks or terminals: progress goes to a listener and per-epoch metrics to
 * a callback, and everything is returned as plain data.
 */
import * as tf from "@tensorflow/tfjs";
import { epochOrder } from "../data/batches";
import type { EpochMetrics, TrainSpec } from "../results/types";
import { LineProgress, formatDuration, type ProgressListener } from "./progress";
import { SGD, cosineLr } from "./sgd";

export interface Batch {
  /** Inputs: NHWC images or [n, features]. */
  x: tf.Tensor;
  /** Integer labels, shape [n]. */
  y: tf.Tensor1D;
  size: number;
}

/** Anything that yields batches: an image set with its transforms, or precomputed features. */
export interface DataSource {
  size: number;
  numClasses: number;
  batches(o: { batchSize: number; epoch: number; train: boolean }): Iterable<Batch>;
}

export interface TrainHooks {
  progress?: ProgressListener;
  label?: string;
  onEpoch?: (m: EpochMetrics) => void;
  /** Variables to train (default: all trainable weights of the model). */
  trainable?: tf.LayerVariable[];
}

export interface TrainResult {
  epochs: EpochMetrics[];
  testLoss?: number;
  testAccuracy?: number;
  /** Seconds spent in training steps (no evaluation). */
  trainSeconds: number;
  /** Seconds for the whole call, evaluation included. */
  totalSeconds: number;
  trainImagesPerSecond: number;
}

export const DEFAULT_TRAIN: TrainSpec = {
  optimizer: "sgd",
  lr: 0.05,
  momentum: 0.9,
  weightDecay: 5e-4,
  epochs: 10,
  batchSize: 64,
  schedule: "cosine",
  augment: ["crop4", "hflip"],
  seed: 0,
};

export function checkTrainSpec(spec: TrainSpec): void {
  const positive: (keyof TrainSpec)[] = ["lr", "epochs", "batchSize"];
  for (const k of positive) {
    const v = spec[k] as number;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new Error(`train.${k} must be a positive number, got ${JSON.stringify(v)}`);
  }
  if (!Number.isInteger(spec.epochs) || !Number.isInteger(spec.batchSize)) {
    throw new Error(`train.epochs and train.batchSize must be integers, got ${spec.epochs} and ${spec.batchSize}`);
  }
  if (spec.optimizer !== "sgd") throw new Error(`train.optimizer "${spec.optimizer}" is not supported yet; valid: sgd`);
  if (!["cosine", "constant"].includes(spec.schedule)) throw new Error(`train.schedule "${spec.schedule}" is unknown; valid: cosine, constant`);
}

function lossAndCorrect(logits: tf.Tensor, y: tf.Tensor1D, numClasses: number) {
  const onehot = tf.oneHot(y, numClasses);
  const loss = tf.losses.softmaxCrossEntropy(onehot, logits) as tf.Scalar;
  const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), y), "int32"));
  return { loss, correct };
}

/**
 * One training step, as trainModel runs it: forward in training mode, softmax cross-entropy, gradients of
 * `vars`, one `opt` update; waits for the loss and the number of correct predictions (so the step has finished
 * when the promise resolves). The batch's tensors are left to the caller.
 */
export async function trainStep(
  model: tf.LayersModel,
  vars: tf.Variable[],
  opt: SGD,
  batch: { x: tf.Tensor; y: tf.Tensor1D },
  numClasses: number,
): Promise<{ loss: number; correct: number }> {
  let correctT: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.apply(batch.x, { training: true }) as tf.Tensor;
    const r = lossAndCorrect(logits, batch.y, numClasses);
    correctT = tf.keep(r.correct);
    return r.loss;
  }, vars);
  opt.step(vars, grads);
  tf.dispose(grads);
  const [loss, correct] = [(await value.data())[0], (await correctT!.data())[0]];
  tf.dispose([value, correctT!]);
  return { loss, correct };
}

/** Mean loss and accuracy of `model` (inference mode) over `data`. */
export async function evaluate(model: tf.LayersModel, data: DataSource, batchSize = 256): Promise<{ loss: number; accuracy: number }> {
  let lossSum = 0;
  let correct = 0;
  let n = 0;
  for (const b of data.batches({ batchSize, epoch: 0, train: false })) {
    const [l, c] = tf.tidy(() => {
      const logits = model.apply(b.x, { training: false }) as tf.Tensor;
      const r = lossAndCorrect(logits, b.y, data.numClasses);
      return [tf.mul(r.loss, b.size), r.correct];
    });
    lossSum += (await l.data())[0];
    correct += (await c.data())[0];
    n += b.size;
    tf.dispose([l, c, b.x, b.y]);
  }
  if (n === 0) throw new Error("evaluate: the data source yielded no examples");
  return { loss: lossSum / n, accuracy: correct / n };
}

/** Train `model` on `data.train`; validate each epoch on `data.valid`; test at the end on `data.test`. */
export async function trainModel(
  model: tf.LayersModel,
  data: { train: DataSource; valid?: DataSource; test?: DataSource },
  spec: TrainSpec,
  hooks: TrainHooks = {},
): Promise<TrainResult> {
  checkTrainSpec(spec);
  const progress = hooks.progress ?? new LineProgress();
  const label = hooks.label ?? model.name;
  const vars = (hooks.trainable ?? model.trainableWeights).map((w) => w.read() as tf.Variable);
  const opt = new SGD({ lr: spec.lr, momentum: spec.momentum, weightDecay: spec.weightDecay });
  const numClasses = data.train.numClasses;
  const stepsPerEpoch = Math.ceil(data.train.size / spec.batchSize);
  const epochs: EpochMetrics[] = [];
  const t0 = Date.now();
  let trainMs = 0;
  let images = 0;
  try {
    progress.start(label, spec.epochs * stepsPerEpoch, "steps");
    for (let epoch = 0; epoch < spec.epochs; epoch++) {
      const e0 = Date.now();
      opt.lr = spec.schedule === "cosine" ? cosineLr(spec.lr, epoch, spec.epochs) : spec.lr;
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let step = 0;
      for (const b of data.train.batches({ batchSize: spec.batchSize, epoch, train: true })) {
        const s0 = Date.now();
        const { loss: lv, correct: cv } = await trainStep(model, vars, opt, b, numClasses);
        tf.dispose([b.x, b.y]);
        trainMs += Date.now() - s0;
        if (!Number.isFinite(lv)) throw new Error(`${label}: loss became ${lv} at epoch ${epoch + 1}, step ${step + 1}; lower the learning rate (lr=${spec.lr})`);
        lossSum += lv * b.size;
        correct += cv;
        seen += b.size;
        images += b.size;
        step++;
        progress.update(epoch * stepsPerEpoch + step, `epoch ${epoch + 1}/${spec.epochs} loss ${(lossSum / seen).toFixed(3)} acc ${((100 * correct) / seen).toFixed(1)}%`);
      }
      const val = data.valid ? await evaluate(model, data.valid) : { loss: NaN, accuracy: NaN };
      const m: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss: lossSum / seen,
        trainAccuracy: correct / seen,
        valLoss: val.loss,
        valAccuracy: val.accuracy,
        lr: opt.lr,
        seconds: (Date.now() - e0) / 1000,
      };
      epochs.push(m);
      hooks.onEpoch?.(m);
      progress.update(
        (epoch + 1) * stepsPerEpoch,
        `epoch ${epoch + 1}/${spec.epochs} loss ${m.trainLoss.toFixed(3)} acc ${(100 * m.trainAccuracy).toFixed(1)}%` +
          (data.valid ? ` val ${(100 * m.valAccuracy).toFixed(1)}%` : ""),
      );
    }
    const test = data.test ? await evaluate(model, data.test) : undefined;
    const trainSeconds = trainMs / 1000;
    const result: TrainResult = {
      epochs,
      testLoss: test?.loss,
      testAccuracy: test?.accuracy,
      trainSeconds,
      totalSeconds: (Date.now() - t0) / 1000,
      trainImagesPerSecond: images / Math.max(trainSeconds, 1e-9),
    };
    const last = epochs[epochs.length - 1];
    progress.end(
      `${label}: ${spec.epochs} epochs in ${formatDuration(result.totalSeconds)} (${result.trainImagesPerSecond.toFixed(1)} img/s train)` +
        (data.valid ? `, val ${(100 * last.valAccuracy).toFixed(1)}%` : "") +
        (test ? `, test ${(100 * test.accuracy).toFixed(1)}%` : ""),
    );
    return result;
  } catch (err) {
    progress.end();
    throw err;
  } finally {
    opt.dispose();
  }
}

/** Run `model` in inference mode over `data` and return the outputs, concatenated, as one [n, d] tensor. */
export async function predictAll(model: tf.LayersModel, data: DataSource, batchSize = 256): Promise<{ outputs: Float32Array; dim: number; labels: Int32Array }> {
  const chunks: Float32Array[] = [];
  const labels: number[] = [];
  let dim = 0;
  for (const b of data.batches({ batchSize, epoch: 0, train: false })) {
    const out = tf.tidy(() => model.apply(b.x, { training: false }) as tf.Tensor);
    dim = out.shape[out.shape.length - 1] as number;
    chunks.push((await out.data()) as Float32Array);
    labels.push(...((await b.y.data()) as Int32Array));
    tf.dispose([out, b.x, b.y]);
  }
  const outputs = new Float32Array(chunks.reduce((s, c) => s + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    outputs.set(c, off);
    off += c.length;
  }
  return { outputs, dim, labels: Int32Array.from(labels) };
}

/** A data source over precomputed feature vectors (for linear probes). */
export function featureSource(features: Float32Array, dim: number, labels: Int32Array, numClasses: number, seed = 0): DataSource {
  const n = labels.length;
  return {
    size: n,
    numClasses,
    *batches({ batchSize, epoch, train }) {
      const order = epochOrder(n, train, seed, epoch);
      for (let start = 0; start < n; start += batchSize) {
        const idx = Array.from(order.subarray(start, start + batchSize));
        const x = new Float32Array(idx.length * dim);
        idx.forEach((k, r) => x.set(features.subarray(k * dim, (k + 1) * dim), r * dim));
        yield { x: tf.tensor2d(x, [idx.length, dim]), y: tf.tensor1d(idx.map((k) => labels[k]), "int32"), size: idx.length };
      }
    },
  };
}
