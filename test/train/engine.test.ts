/**
 * trainModel with the whole TrainSpec: old SGD specs train exactly as the loop did before the engine, every
 * optimizer/schedule combination trains, early stopping records why and when it stopped, clipping bounds the
 * update, everything is reproducible. A linear model on synthetic features keeps it fast; the real-image run is
 * test/train/learns.test.ts.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { RandomState } from "../../src/data/random-state";
import { torchInit, withInitSeed } from "../../src/models/layers";
import type { TrainSpec } from "../../src/results/types";
import { DEFAULT_TRAIN, featureSource, trainModel, trainStep, type DataSource } from "../../src/train/loop";
import { makeOptimizer } from "../../src/train/optimizers";
import { silentProgress } from "../../src/train/progress";
import { makeSchedule } from "../../src/train/schedules";
import { SGD, cosineLr } from "../../src/train/sgd";
import { TrainSpecError } from "../../src/train/spec";

const DIM = 12;
const K = 3;

before(async () => {
  await initBackend({ log: () => {} });
});

/** Three noisy Gaussian blobs in DIM dimensions. */
function blobs(n: number, seed: number, noise = 1.5): DataSource {
  const rs = new RandomState(seed);
  const labels = new Int32Array(n);
  const x = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) {
    labels[i] = i % K;
    for (let d = 0; d < DIM; d++) {
      const u = Math.max(rs.randomSample(), 1e-12);
      const g = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rs.randomSample());
      x[i * DIM + d] = (d % K === labels[i] ? 1 : 0) + noise * g;
    }
  }
  return featureSource(x, DIM, labels, K, seed);
}

const data = () => ({ train: blobs(150, 1), valid: blobs(60, 2), test: blobs(60, 3) });

function linear(seed = 0): tf.LayersModel {
  return withInitSeed(seed, () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [DIM], units: K, kernelInitializer: torchInit(), name: "probe" })] }));
}

const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

test("old SGD specs (cosine or constant) train bit-identically to the loop before the engine", async () => {
  for (const schedule of ["cosine", "constant"] as const) {
    const spec: TrainSpec = { ...DEFAULT_TRAIN, epochs: 4, batchSize: 32, schedule, seed: 5, augment: [] };
    const d = data();
    const m1 = linear(5);
    const r = await trainModel(m1, d, spec, { progress: silentProgress });
    // The loop as it was: SGD(lr, momentum, weightDecay), lr = cosineLr per epoch or spec.lr, plain softmax CE.
    const m2 = linear(5);
    const vars = m2.trainableWeights.map((w) => w.read() as tf.Variable);
    const opt = new SGD({ lr: spec.lr, momentum: spec.momentum, weightDecay: spec.weightDecay });
    const lrs: number[] = [];
    for (let epoch = 0; epoch < spec.epochs; epoch++) {
      opt.lr = schedule === "cosine" ? cosineLr(spec.lr, epoch, spec.epochs) : spec.lr;
      lrs.push(opt.lr);
      for (const b of d.train.batches({ batchSize: spec.batchSize, epoch, train: true })) {
        const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(tf.oneHot(b.y, K), m2.apply(b.x, { training: true }) as tf.Tensor) as tf.Scalar, vars);
        opt.step(vars, grads);
        tf.dispose([value, b.x, b.y, ...Object.values(grads)]);
      }
    }
    opt.dispose();
    assert.deepEqual(weights(m1), weights(m2), schedule);
    assert.deepEqual(r.epochs.map((e) => e.lr), lrs);
    assert.equal(r.stopped.reason, "completed");
    m1.dispose();
    m2.dispose();
  }
});

test("every optimizer with every kind of schedule, warm-up, label smoothing and clipping trains; epochs record the first step's lr", async () => {
  const base = { epochs: 6, batchSize: 32, augment: [], seed: 2 };
  const specs: TrainSpec[] = [
    { ...base, optimizer: "sgd", lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4, schedule: "multistep", scheduleOptions: { milestones: [3, 5] }, warmup: { epochs: 1 } },
    { ...base, optimizer: "sgd", lr: 0.2, momentum: 0.9, schedule: "onecycle", labelSmoothing: 0.1 },
    { ...base, optimizer: "adam", lr: 0.02, schedule: "onecycle", scheduleOptions: { threePhase: true, annealStrategy: "linear" }, warmup: { steps: 5 } },
    { ...base, optimizer: "adamw", lr: 0.02, amsgrad: true, schedule: "cosine", scheduleOptions: { etaMin: 1e-3 }, warmup: { steps: 8, startFactor: 0.1 }, clipNorm: 1 },
    { ...base, optimizer: "rmsprop", lr: 0.005, momentum: 0.5, centered: true, schedule: "step", scheduleOptions: { stepSize: 2, gamma: 0.5 }, labelSmoothing: 0.05, clipNorm: 0.5 },
  ];
  for (const spec of specs) {
    const m = linear(2);
    const r = await trainModel(m, data(), spec, { progress: silentProgress });
    const name = `${spec.optimizer}/${spec.schedule}`;
    assert.equal(r.epochs.length, 6, name);
    assert.ok(r.epochs[5].trainLoss < r.epochs[0].trainLoss, `${name}: loss falls ${r.epochs.map((e) => e.trainLoss.toFixed(3)).join(" → ")}`);
    assert.ok(r.testAccuracy! > 0.5, `${name}: test accuracy ${r.testAccuracy}`);
    const sched = makeSchedule(spec, Math.ceil(150 / 32));
    assert.deepEqual(r.epochs.map((e) => e.lr), [0, 1, 2, 3, 4, 5].map((e) => sched.at(e, 0).lr), name);
    m.dispose();
  }
});

test("a TrainSpec fully determines training: the same spec twice gives the same weights, another seed others", async () => {
  const spec: TrainSpec = { optimizer: "adamw", lr: 0.01, epochs: 3, batchSize: 16, schedule: "onecycle", warmup: { steps: 3 }, labelSmoothing: 0.1, clipNorm: 2, augment: [], seed: 9 };
  const run = async (s: TrainSpec) => {
    const m = linear(s.seed);
    const d = { train: blobs(150, s.seed), valid: blobs(60, 2) };
    const r = await trainModel(m, d, s, { progress: silentProgress });
    const w = weights(m);
    m.dispose();
    return { w, losses: r.epochs.map((e) => e.trainLoss) };
  };
  const a = await run(spec);
  assert.deepEqual(await run(spec), a);
  assert.notDeepEqual((await run({ ...spec, seed: 10 })).w, a.w);
});

test("early stopping: stops after `patience` epochs without a gain > minDelta and records why and when", async () => {
  // A learning rate so small that the validation accuracy never moves: best at epoch 1, then 3 epochs without gain.
  const spec: TrainSpec = { ...DEFAULT_TRAIN, lr: 1e-9, epochs: 20, batchSize: 50, augment: [], earlyStopping: { patience: 3, minDelta: 0.01 } };
  const lines: string[] = [];
  const m = linear(1);
  const r = await trainModel(m, data(), spec, { progress: { start() {}, update() {}, end: (s?: string) => s && lines.push(s) } });
  assert.equal(r.epochs.length, 4);
  assert.equal(r.stopped.reason, "early-stopping");
  assert.equal(r.stopped.epoch, 4);
  assert.equal(r.stopped.plannedEpochs, 20);
  assert.equal(r.stopped.bestEpoch, 1);
  assert.equal(r.stopped.bestValAccuracy, r.epochs[0].valAccuracy);
  assert.match(r.stopped.message, /^stopped early after epoch 4 of 20: no validation-accuracy gain > 0\.01 for 3 epochs \(best [\d.]+% at epoch 1\)$/);
  assert.ok(r.testAccuracy !== undefined, "the test set is still evaluated");
  assert.match(lines[0], /4 epochs in .*stopped early after epoch 4 of 20/);
  // Without early stopping the same run goes on; with it but no validation set it is refused.
  const full = await trainModel(m, data(), { ...spec, earlyStopping: undefined, epochs: 5 }, { progress: silentProgress });
  assert.equal(full.stopped.reason, "completed");
  assert.equal(full.stopped.epoch, 5);
  await assert.rejects(trainModel(m, { train: blobs(30, 1) }, spec, { progress: silentProgress }), /earlyStopping needs a validation set/);
  m.dispose();
});

test("clipNorm: the update is the clipped gradient (SGD without momentum moves by at most lr × clipNorm)", async () => {
  const m = linear(3);
  const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
  const opt = makeOptimizer({ optimizer: "sgd", lr: 0.5 });
  const b = data().train.batches({ batchSize: 64, epoch: 0, train: true })[Symbol.iterator]().next().value!;
  const before = vars.map((v) => Array.from(v.dataSync()));
  const r = await trainStep(m, vars, opt, b, K, { clipNorm: 1e-3 });
  assert.ok(r.gradNorm! > 1e-3, `gradient norm ${r.gradNorm} is above the limit`);
  let sq = 0;
  vars.forEach((v, i) => v.dataSync().forEach((x, j) => (sq += (x - before[i][j]) ** 2)));
  assert.ok(Math.abs(Math.sqrt(sq) - 0.5e-3) < 1e-7, `|Δw| = ${Math.sqrt(sq)}, expected lr × clipNorm = 5e-4`);
  const plain = await trainStep(m, vars, opt, b, K);
  assert.equal(plain.gradNorm, undefined);
  tf.dispose([b.x, b.y]);
  opt.dispose();
  m.dispose();
});

test("an invalid spec is refused before anything trains, listing the valid keys", async () => {
  let started = false;
  const m = linear(0);
  await assert.rejects(
    trainModel(m, data(), { ...DEFAULT_TRAIN, optimizer: "adam", betas: [0.9, 2] } as TrainSpec, { progress: { start: () => (started = true), update() {}, end() {} } }),
    (e: unknown) => e instanceof TrainSpecError && /momentum does not apply to optimizer "adam"/.test(e.message) && /betas must be/.test(e.message) && /valid train keys/.test(e.message),
  );
  assert.equal(started, false);
  m.dispose();
});
