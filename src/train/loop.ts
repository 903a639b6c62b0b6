/**
 * The training loop: mini-batch training with PyTorch semantics, validation each epoch and test at the end. The
 * TrainSpec determines everything (`validateTrainSpec` in `spec.ts` checks it first):
 *
 *  - the optimizer (`makeOptimizer`, `optimizers.ts`: sgd, adam, adamw, rmsprop with torch's arithmetic);
 *  - the learning rate of every step (`makeSchedule`, `schedules.ts`: set before each optimizer step; per-epoch
 *    schedules give the same lr to all steps of an epoch; one-cycle also sets the momentum / beta1);
 *  - the loss: cross-entropy with `labelSmoothing` (`regularization.ts`); validation and test losses are plain
 *    cross-entropy, comparable across runs;
 *  - `clipNorm`: clip_grad_norm_ of all gradients before the update;
 *  - `earlyStopping`: stop after `patience` epochs without a validation-accuracy gain > minDelta;
 *    `TrainResult.stopped` records why and when the run ended.
 *
 * The transforms (`augment`) belong to the data source (`imageSource` in `experiments.ts`). Each epoch records
 * the lr of its first step. It knows nothing of notebooks or terminals: progress goes to a listener and per-epoch
 * metrics to a callback, and everything is returned as plain data.
 */
import * as fs from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { epochOrder } from "../data/batches";
import type { EpochMetrics, ModelSpec, TrainSpec } from "../results/types";
import { checkCompatible, checkpointIdentity, loadTrainCheckpoint, optimizerStateFor, restoreWeights, saveTrainCheckpoint } from "./checkpoint";
import { LineProgress, formatDuration, type ProgressListener } from "./progress";
import type { Optimizer } from "./optim-base";
import { makeOptimizer } from "./optimizers";
import { EarlyStopping, clipGradNorm, crossEntropy, type StopInfo } from "./regularization";
import { makeSchedule } from "./schedules";
import { validateTrainSpec } from "./spec";

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
  /** The training order of epoch `epoch` (indices into the set), when the source can tell; checkpoints keep it. */
  order?(epoch: number): Int32Array;
}

/** Checkpointing of a training run (see `checkpoint.ts`). */
export interface CheckpointHook {
  /** The checkpoint file, rewritten atomically after every epoch. */
  file: string;
  /** Continue from `file` when it exists (default true); false starts afresh and overwrites it. */
  resume?: boolean;
  /** The model's spec: recorded, and compared when resuming. */
  modelSpec?: ModelSpec;
}

/** The training loss became NaN or infinite: the run diverged. */
export class DivergedError extends Error {
  constructor(
    readonly label: string,
    readonly epoch: number,
    readonly step: number,
    readonly loss: number,
    readonly lr: number,
  ) {
    super(`${label}: loss became ${loss} at epoch ${epoch}, step ${step}; lower the learning rate (lr=${lr})`);
    this.name = "DivergedError";
  }
}

export interface TrainHooks {
  progress?: ProgressListener;
  label?: string;
  onEpoch?: (m: EpochMetrics) => void;
  /** Variables to train (default: all trainable weights of the model). */
  trainable?: tf.LayerVariable[];
  /** Write a checkpoint after every epoch, and resume from it when it exists. */
  checkpoint?: CheckpointHook;
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
  /** Why and when training ended: all planned epochs, or early stopping. */
  stopped: StopInfo;
  /** Epochs restored from a checkpoint (0 when the run started afresh). */
  resumedEpochs: number;
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

/** Throws, listing every valid key with its type and range, unless `spec` is a valid TrainSpec (see `spec.ts`). */
export function checkTrainSpec(spec: TrainSpec): void {
  validateTrainSpec(spec);
}

function lossAndCorrect(logits: tf.Tensor, y: tf.Tensor1D, numClasses: number, labelSmoothing = 0) {
  const loss = crossEntropy(logits, y, numClasses, labelSmoothing);
  const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), y), "int32"));
  return { loss, correct };
}

/** The per-step options of a TrainSpec that trainStep applies. */
export interface StepOptions {
  /** CrossEntropyLoss label_smoothing. Default 0. */
  labelSmoothing?: number;
  /** clip_grad_norm_ max_norm; undefined = no clipping. */
  clipNorm?: number;
}

/**
 * One training step, as trainModel runs it: forward in training mode, softmax cross-entropy (label-smoothed when
 * asked), gradients of `vars`, gradient-norm clipping when asked, one `opt` update; waits for the loss and the
 * number of correct predictions (so the step has finished when the promise resolves). `gradNorm` is the total
 * gradient norm before clipping (only when clipping). The batch's tensors are left to the caller.
 */
export async function trainStep(
  model: tf.LayersModel,
  vars: tf.Variable[],
  opt: Optimizer,
  batch: { x: tf.Tensor; y: tf.Tensor1D },
  numClasses: number,
  options: StepOptions = {},
): Promise<{ loss: number; correct: number; gradNorm?: number }> {
  let correctT: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.apply(batch.x, { training: true }) as tf.Tensor;
    const r = lossAndCorrect(logits, batch.y, numClasses, options.labelSmoothing ?? 0);
    correctT = tf.keep(r.correct);
    return r.loss;
  }, vars);
  let norm: tf.Scalar | undefined;
  if (options.clipNorm !== undefined) {
    const clipped = clipGradNorm(grads, options.clipNorm);
    tf.dispose(grads);
    norm = clipped.totalNorm;
    opt.step(vars, clipped.grads);
    tf.dispose(clipped.grads);
  } else {
    opt.step(vars, grads);
    tf.dispose(grads);
  }
  const [loss, correct] = [(await value.data())[0], (await correctT!.data())[0]];
  const gradNorm = norm ? (await norm.data())[0] : undefined;
  tf.dispose([value, correctT!, ...(norm ? [norm] : [])]);
  return gradNorm === undefined ? { loss, correct } : { loss, correct, gradNorm };
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
  validateTrainSpec(spec);
  const progress: ProgressListener = hooks.progress ?? new LineProgress();
  const label = hooks.label ?? model.name;
  const vars = (hooks.trainable ?? model.trainableWeights).map((w) => w.read() as tf.Variable);
  const numClasses = data.train.numClasses;
  const stepsPerEpoch = Math.ceil(data.train.size / spec.batchSize);
  const schedule = makeSchedule(spec, stepsPerEpoch);
  const stopper = spec.earlyStopping ? new EarlyStopping(spec.earlyStopping) : undefined;
  if (stopper && !data.valid) throw new Error(`${label}: earlyStopping needs a validation set (data.valid)`);
  const stepOptions: StepOptions = { labelSmoothing: spec.labelSmoothing, clipNorm: spec.clipNorm };
  const opt = makeOptimizer(spec);
  const epochs: EpochMetrics[] = [];
  const t0 = Date.now();
  let trainMs = 0;
  let images = 0;
  let stopped: StopInfo | undefined;
  const earlyStop = (epoch: number): StopInfo => ({
    reason: "early-stopping",
    epoch,
    plannedEpochs: spec.epochs,
    bestValAccuracy: stopper!.state.best,
    bestEpoch: stopper!.state.bestEpoch,
    message: `stopped early after epoch ${epoch} of ${spec.epochs}: ${stopper!.describe()}`,
  });
  const ck = hooks.checkpoint;
  const identity = ck ? checkpointIdentity(model, spec, label, ck.modelSpec) : undefined;
  let startEpoch = 0;
  try {
    if (ck && ck.resume !== false && fs.existsSync(ck.file)) {
      const c = loadTrainCheckpoint(ck.file);
      checkCompatible(c, identity!, ck.file);
      const order = data.train.order?.(c.state.epoch);
      if (c.nextOrder && order && (order.length !== c.nextOrder.length || order.some((v, i) => v !== c.nextOrder![i]))) {
        throw new Error(`checkpoint ${ck.file} was made on other training data: the image order of epoch ${c.state.epoch + 1} differs (${c.nextOrder.length} images then, ${order.length} now)`);
      }
      restoreWeights(model, c);
      opt.setState(optimizerStateFor(model, c));
      epochs.push(...c.state.epochs);
      trainMs = c.state.trainMs;
      images = c.state.images;
      if (stopper && c.state.stopper) stopper.state = { ...c.state.stopper, best: c.state.stopper.best ?? -Infinity };
      startEpoch = c.state.epoch;
      if (c.state.stoppedEarly) stopped = earlyStop(startEpoch);
    }
    progress.start(label, spec.epochs * stepsPerEpoch, "steps", startEpoch * stepsPerEpoch);
    if (startEpoch > 0) progress.update(startEpoch * stepsPerEpoch, `resumed after epoch ${startEpoch} from ${ck!.file}`);
    for (let epoch = startEpoch; epoch < spec.epochs && !stopped; epoch++) {
      const e0 = Date.now();
      const epochLr = schedule.at(epoch, 0).lr;
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let step = 0;
      for (const b of data.train.batches({ batchSize: spec.batchSize, epoch, train: true })) {
        const s0 = Date.now();
        const point = schedule.at(epoch, step);
        opt.lr = point.lr;
        if (point.momentum !== undefined) opt.momentumOrBeta1 = point.momentum;
        const { loss: lv, correct: cv } = await trainStep(model, vars, opt, b, numClasses, stepOptions);
        tf.dispose([b.x, b.y]);
        trainMs += Date.now() - s0;
        if (!Number.isFinite(lv)) throw new DivergedError(label, epoch + 1, step + 1, lv, opt.lr);
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
        lr: epochLr,
        seconds: (Date.now() - e0) / 1000,
      };
      epochs.push(m);
      hooks.onEpoch?.(m);
      progress.onEpoch?.(m);
      progress.update(
        (epoch + 1) * stepsPerEpoch,
        `epoch ${epoch + 1}/${spec.epochs} loss ${m.trainLoss.toFixed(3)} acc ${(100 * m.trainAccuracy).toFixed(1)}%` +
          (data.valid ? ` val ${(100 * m.valAccuracy).toFixed(1)}%` : ""),
      );
      if (stopper?.update(epoch + 1, val.accuracy) && epoch + 1 < spec.epochs) stopped = earlyStop(epoch + 1);
      if (ck) {
        saveTrainCheckpoint(ck.file, {
          model,
          identity: identity!,
          state: { epoch: epoch + 1, epochs, trainMs, images, stoppedEarly: stopped !== undefined, ...(stopper ? { stopper: stopper.state } : {}) },
          optimizer: opt.getState(),
          ...(data.train.order ? { nextOrder: data.train.order(epoch + 1) } : {}),
        });
      }
    }
    if (!stopped) {
      let best: EpochMetrics | undefined;
      for (const e of epochs) if (data.valid && (!best || e.valAccuracy > best.valAccuracy)) best = e;
      stopped = {
        reason: "completed",
        epoch: epochs.length,
        plannedEpochs: spec.epochs,
        ...(best ? { bestValAccuracy: best.valAccuracy, bestEpoch: best.epoch } : {}),
        message: `completed all ${spec.epochs} epochs`,
      };
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
      stopped,
      resumedEpochs: startEpoch,
    };
    const last = epochs[epochs.length - 1];
    progress.end(
      `${label}: ${epochs.length} epochs in ${formatDuration(result.totalSeconds)} (${result.trainImagesPerSecond.toFixed(1)} img/s train)` +
        (data.valid ? `, val ${(100 * last.valAccuracy).toFixed(1)}%` : "") +
        (test ? `, test ${(100 * test.accuracy).toFixed(1)}%` : "") +
        (stopped.reason === "early-stopping" ? ` (${stopped.message})` : ""),
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
    order: (epoch) => epochOrder(n, true, seed, epoch),
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
