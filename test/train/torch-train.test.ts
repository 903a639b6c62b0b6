/**
 * The training engine against PyTorch 1.13 (fixtures written by scripts/torch_train_fixtures.py under
 * test/fixtures/torch/train-*.json): optimizers (parameters after every step and the final state), LR schedules
 * (the lr and momentum of every step), label-smoothed cross-entropy and its gradient, clip_grad_norm_.
 *
 * Tensor cases run on the cpu backend, on the default backend (initBackend: onednn where the addon is built,
 * whose fused LabSgdStep kernel then does the SGD updates) and on wasm. Metric: the largest absolute difference from torch
 * (values are O(1)); the largest of each group is printed as a diagnostic.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { activeBackendHas, initBackend, installWasmTrainingKernels } from "../../src/backend";
import { Adam, AdamW, RMSprop, SGD, makeOptimizer, type Optimizer } from "../../src/train/optimizers";
import { makeSchedule } from "../../src/train/schedules";
import { clipGradNorm, crossEntropy } from "../../src/train/regularization";
import { validateTrainSpec } from "../../src/train/spec";
import type { TrainSpec } from "../../src/results/types";

const FIX = path.join(__dirname, "..", "fixtures", "torch");
const load = (name: string) => JSON.parse(fs.readFileSync(path.join(FIX, name), "utf8"));

let backends: string[] = ["cpu"];
before(async () => {
  const def = await initBackend({ log: () => {} });
  installWasmTrainingKernels();
  backends = [...new Set(["cpu", def, "wasm"])];
});

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A variable named `name` holding `values` (the initial tensor is disposed). */
function mkVar(values: ArrayLike<number> | tf.Tensor, shape: number[], name: string): tf.Variable {
  const t = values instanceof tf.Tensor ? values.clone() : tf.tensor(Array.from(values), shape);
  const v = tf.variable(t, true, name);
  t.dispose();
  return v;
}

async function onEachBackend(fn: (backend: string) => void | Promise<void>): Promise<void> {
  const prev = tf.getBackend();
  try {
    for (const b of backends) {
      await tf.setBackend(b);
      const before = tf.memory().numTensors;
      await fn(b);
      assert.equal(tf.memory().numTensors, before, `${b}: tensors leaked`);
    }
  } finally {
    await tf.setBackend(prev);
  }
}

interface OptCase {
  name: string;
  optimizer: TrainSpec["optimizer"];
  options: Record<string, unknown>;
  params: Record<string, number[]>[];
  state: Record<string, Record<string, number[]>>;
  stepCounts: Record<string, number>;
}

test("optimizers match torch.optim (SGD, Adam, AdamW, RMSprop and their variants) step by step, state included", async (t) => {
  const fx = load("train-optimizers.json") as { shapes: Record<string, number[]>; init: Record<string, number[]>; grads: Record<string, number[]>[]; lrMultipliers: number[]; cases: OptCase[] };
  const worst: Record<string, number> = {};
  await onEachBackend((backend) => {
    if (backend === "onednn") assert.ok(activeBackendHas("LabSgdStep"), "onednn runs SGD through its fused kernel");
    for (const c of fx.cases) {
      // Through the TrainSpec path: validation, then makeOptimizer with torch's defaults for what is left out.
      const spec = validateTrainSpec({ optimizer: c.optimizer, epochs: 1, batchSize: 1, schedule: "constant", augment: [], seed: 0, ...c.options });
      const opt: Optimizer = makeOptimizer(spec);
      const vars = Object.keys(fx.shapes).map((k) => mkVar(fx.init[k], fx.shapes[k], k));
      const base = spec.lr;
      let dev = 0;
      for (let i = 0; i < fx.grads.length; i++) {
        const grads: tf.NamedTensorMap = {};
        for (const [k, g] of Object.entries(fx.grads[i])) grads[k] = tf.tensor(g, fx.shapes[k]);
        opt.lr = base * fx.lrMultipliers[i];
        opt.step(vars, grads);
        tf.dispose(Object.values(grads));
        for (const v of vars) dev = Math.max(dev, maxAbs(v.dataSync(), c.params[i][v.name]));
      }
      const st = opt.getState();
      assert.equal(st.name, c.optimizer);
      assert.deepEqual(Object.keys(st.slots).sort(), Object.keys(c.state).sort(), `${c.name}: slots`);
      for (const [slot, perVar] of Object.entries(c.state)) {
        for (const [k, values] of Object.entries(perVar)) dev = Math.max(dev, maxAbs(st.slots[slot][k], values));
      }
      if (Object.keys(c.stepCounts).length) assert.deepEqual(st.varSteps, c.stepCounts, `${c.name}: per-variable step counts`);
      assert.ok(dev < 2e-6, `${c.name} on ${backend}: max |ours − torch| = ${dev}`);
      worst[`${c.name}@${backend}`] = dev;
      opt.dispose();
      tf.dispose(vars);
    }
  });
  t.diagnostic(`max |ours − torch| per optimizer case and backend: ${Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(", ")}`);
});

test("getState/setState: a restored optimizer continues exactly like the original (every optimizer)", async () => {
  const fx = load("train-optimizers.json") as { shapes: Record<string, number[]>; init: Record<string, number[]>; grads: Record<string, number[]>[]; cases: OptCase[] };
  await onEachBackend(() => {
    for (const c of fx.cases) {
      const spec = validateTrainSpec({ optimizer: c.optimizer, epochs: 1, batchSize: 1, schedule: "constant", augment: [], seed: 0, ...c.options });
      const mk = (suffix: string) => Object.keys(fx.shapes).map((k) => mkVar(fx.init[k], fx.shapes[k], k + suffix));
      const gradsAt = (i: number, suffix: string) => Object.fromEntries(Object.entries(fx.grads[i]).map(([k, g]) => [k + suffix, tf.tensor(g, fx.shapes[k])]));
      const a = makeOptimizer(spec);
      const va = mk("");
      for (let i = 0; i < 3; i++) {
        const g = gradsAt(i, "");
        a.step(va, g);
        tf.dispose(Object.values(g));
      }
      // Plain data, through JSON-like copies: the state must not alias the optimizer's buffers.
      const saved = a.getState();
      const copy = { ...saved, slots: Object.fromEntries(Object.entries(saved.slots).map(([s, m]) => [s, Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Float32Array.from(v)]))])) };
      const b = makeOptimizer(spec);
      b.setState(copy);
      saved.slots[Object.keys(saved.slots)[0]] && Object.values(saved.slots)[0][Object.keys(Object.values(saved.slots)[0])[0]].fill(123); // mutating the export changes nothing
      const vb = va.map((v) => mkVar(v, v.shape, v.name + "#b"));
      const b2: Optimizer = b;
      // Rename b's state to the #b variables by restoring under those names.
      const renamed = b2.getState();
      const rename = <T>(m: Record<string, T>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k + "#b", v]));
      b2.setState({ ...renamed, varSteps: rename(renamed.varSteps), shapes: rename(renamed.shapes), slots: Object.fromEntries(Object.entries(renamed.slots).map(([s, m]) => [s, rename(m)])) });
      for (let i = 3; i < fx.grads.length; i++) {
        const g = gradsAt(i, "");
        const gb = gradsAt(i, "#b");
        a.step(va, g);
        b2.step(vb, gb);
        tf.dispose([...Object.values(g), ...Object.values(gb)]);
      }
      for (let j = 0; j < va.length; j++) assert.deepEqual(Array.from(vb[j].dataSync()), Array.from(va[j].dataSync()), `${c.name}: ${va[j].name}`);
      assert.equal(b2.getState().step, a.getState().step);
      a.dispose();
      b2.dispose();
      tf.dispose([...va, ...vb]);
    }
  });
});

test("setState refuses another optimizer's state, unknown slots and wrong sizes, by name", () => {
  const sgd = new SGD({ lr: 0.1, momentum: 0.9 });
  const adam = new Adam({ lr: 0.1 });
  const st = { name: "sgd" as const, step: 1, varSteps: { w: 1 }, slots: { momentum_buffer: { w: new Float32Array(3) } }, shapes: { w: [3] } };
  assert.throws(() => adam.setState(st), /adam.setState: the state is from optimizer "sgd", not "adam"/);
  assert.throws(() => sgd.setState({ ...st, slots: { exp_avg: { w: new Float32Array(3) } } }), /unknown slot\(s\) exp_avg; valid: momentum_buffer/);
  assert.throws(() => sgd.setState({ ...st, shapes: { w: [4] } }), /momentum_buffer of w has 3 values, shape \[4\] needs 4/);
  sgd.setState(st);
  const v = mkVar([0, 0], [2], "w");
  const g = tf.ones([2]);
  assert.throws(() => sgd.step([v], { w: g }), /state momentum_buffer of w has shape \[3\], the variable has \[2\]/);
  tf.dispose([v, g]);
  sgd.dispose();
  adam.dispose();
});

test("optimizer constructors reject bad hyperparameters by name", () => {
  assert.throws(() => new Adam({ lr: 0.1, betas: [1, 0.9] }), /Adam: betas\[0\] must be a finite number in \[0, 1\), got 1/);
  assert.throws(() => new AdamW({ lr: -1 }), /AdamW: lr must be a finite number in \[0, ∞\), got -1/);
  assert.throws(() => new RMSprop({ lr: 0.1, alpha: -0.5 }), /RMSprop: alpha must be/);
  assert.equal(new AdamW({ lr: 0.1 }).weightDecay, 0.01, "torch's AdamW default weight decay");
  assert.equal(new Adam({ lr: 0.1 }).weightDecay, 0);
});

interface SchedCase {
  name: string;
  spec: Partial<TrainSpec>;
  lr: number[];
  momentum: number[];
}

test("LR schedules match torch.optim.lr_scheduler step by step (step, multistep, cosine, one-cycle, warm-up)", (t) => {
  const fx = load("train-schedules.json") as { epochs: number; stepsPerEpoch: number; cases: SchedCase[] };
  const worst: string[] = [];
  for (const c of fx.cases) {
    const spec = validateTrainSpec({ batchSize: 1, augment: [], seed: 0, ...c.spec });
    const s = makeSchedule(spec, fx.stepsPerEpoch);
    let dev = 0;
    let mdev = 0;
    const spm = spec.momentum ?? 0.9;
    for (let e = 0; e < fx.epochs; e++) {
      for (let b = 0; b < fx.stepsPerEpoch; b++) {
        const i = e * fx.stepsPerEpoch + b;
        const p = s.at(e, b);
        dev = Math.max(dev, Math.abs(p.lr - c.lr[i]) / Math.max(c.lr[i], 1e-12));
        // No cycled momentum: the optimizer keeps its own (0.9 for SGD, beta1 0.9 for Adam).
        mdev = Math.max(mdev, Math.abs((p.momentum ?? spm) - c.momentum[i]));
      }
    }
    assert.ok(dev < 1e-9, `${c.name}: max relative lr deviation ${dev}`);
    assert.ok(mdev < 1e-12, `${c.name}: max momentum deviation ${mdev}`);
    const perEpoch = ["constant", "step", "multistep", "cosine"].includes(spec.schedule) && spec.warmup?.steps === undefined;
    assert.equal(s.unit, perEpoch ? "epoch" : "batch", `${c.name}: unit`);
    worst.push(`${c.name} ${dev.toExponential(1)}`);
  }
  t.diagnostic(`max relative lr deviation from torch: ${worst.join(", ")}`);
});

test("label-smoothed cross-entropy and its gradient match nn.CrossEntropyLoss(label_smoothing=ε)", async (t) => {
  const fx = load("train-loss.json") as { shape: [number, number]; logits: number[]; labels: number[]; cases: { labelSmoothing: number; loss: number; grad: number[] }[] };
  let worst = 0;
  await onEachBackend((backend) => {
    const x = tf.tensor2d(fx.logits, fx.shape);
    const y = tf.tensor1d(fx.labels, "int32");
    for (const c of fx.cases) {
      const value = crossEntropy(x, y, fx.shape[1], c.labelSmoothing);
      const g = tf.grad((l: tf.Tensor) => crossEntropy(l, y, fx.shape[1], c.labelSmoothing))(x);
      const dl = Math.abs(value.dataSync()[0] - c.loss);
      const dg = maxAbs(g.dataSync(), c.grad);
      assert.ok(dl < 1e-6 && dg < 1e-6, `ε=${c.labelSmoothing} on ${backend}: loss off by ${dl}, gradient by ${dg}`);
      worst = Math.max(worst, dl, dg);
      tf.dispose([value, g]);
    }
    tf.dispose([x, y]);
  });
  t.diagnostic(`label smoothing: max |ours − torch| ${worst.toExponential(1)} (loss and gradient)`);
});

test("clipGradNorm matches clip_grad_norm_ (total 2-norm, coefficient min(1, max/(norm + 1e-6)))", async (t) => {
  const fx = load("train-clip.json") as { shapes: Record<string, number[]>; grads: Record<string, number[]>; cases: { maxNorm: number; totalNorm: number; grads: Record<string, number[]> }[] };
  let worst = 0;
  await onEachBackend((backend) => {
    const grads: tf.NamedTensorMap = Object.fromEntries(Object.entries(fx.grads).map(([k, v]) => [k, tf.tensor(v, fx.shapes[k])]));
    for (const c of fx.cases) {
      const r = clipGradNorm(grads, c.maxNorm);
      let dev = Math.abs(r.totalNorm.dataSync()[0] - c.totalNorm) / c.totalNorm;
      for (const [k, v] of Object.entries(c.grads)) dev = Math.max(dev, maxAbs(r.grads[k].dataSync(), v));
      assert.ok(dev < 1e-6, `max_norm ${c.maxNorm} on ${backend}: deviation ${dev}`);
      worst = Math.max(worst, dev);
      tf.dispose([r.totalNorm, ...Object.values(r.grads)]);
    }
    // The inputs are untouched.
    assert.deepEqual(Array.from(grads.w.dataSync()), fx.grads.w.map((v) => Math.fround(v)));
    tf.dispose(Object.values(grads));
  });
  assert.throws(() => clipGradNorm({}, 0), /maxNorm must be a number > 0, got 0/);
  t.diagnostic(`clip_grad_norm_: max deviation ${worst.toExponential(1)}`);
});
