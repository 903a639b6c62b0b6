import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { SGD, cosineLr } from "../../src/train/sgd";
import { LineProgress } from "../../src/train/progress";

// torch.optim.SGD: g = grad + wd*p; buf = g (first step) else momentum*buf + (1-dampening)*g;
// nesterov: g = g + momentum*buf else g = buf; p -= lr*g. Worked out by hand for a loss with constant gradient.
test("SGD follows torch.optim.SGD (weight decay as L2, momentum buffer starting at the first gradient)", () => {
  const v = tf.variable(tf.tensor1d([1, -2]), true, "w");
  const opt = new SGD({ lr: 0.1, momentum: 0.9, weightDecay: 0.5 });
  const grad = tf.tensor1d([0.2, 0.4]);
  let p = [1, -2];
  let buf: number[] | undefined;
  for (let step = 0; step < 3; step++) {
    opt.step([v], { w: grad });
    const g = [0.2 + 0.5 * p[0], 0.4 + 0.5 * p[1]];
    buf = buf ? [0.9 * buf[0] + g[0], 0.9 * buf[1] + g[1]] : g;
    p = [p[0] - 0.1 * buf[0], p[1] - 0.1 * buf[1]];
    const got = v.dataSync();
    assert.ok(Math.abs(got[0] - p[0]) < 1e-6 && Math.abs(got[1] - p[1]) < 1e-6, `step ${step}: ${got} vs ${p}`);
  }
  opt.dispose();
  tf.dispose([v, grad]);
});

test("SGD with Nesterov momentum", () => {
  const v = tf.variable(tf.scalar(1), true, "n");
  const opt = new SGD({ lr: 0.5, momentum: 0.5, nesterov: true });
  const g = tf.scalar(1);
  opt.step([v], { n: g }); // buf = 1; step = 1 + 0.5*1 = 1.5 → p = 1 - 0.75
  assert.ok(Math.abs(v.dataSync()[0] - 0.25) < 1e-7);
  opt.step([v], { n: g }); // buf = 0.5 + 1 = 1.5; step = 1 + 0.75 = 1.75 → p = 0.25 - 0.875
  assert.ok(Math.abs(v.dataSync()[0] + 0.625) < 1e-7);
  opt.dispose();
  tf.dispose([v, g]);
});

test("SGD rejects bad hyperparameters by name", () => {
  assert.throws(() => new SGD({ lr: -1 }), /lr must be a finite number ≥ 0, got -1/);
  assert.throws(() => new SGD({ lr: 0.1, nesterov: true }), /Nesterov momentum requires momentum > 0/);
});

test("cosine annealing matches PyTorch's CosineAnnealingLR (eta_min 0)", () => {
  assert.equal(cosineLr(0.1, 0, 10), 0.1);
  assert.ok(Math.abs(cosineLr(0.1, 5, 10) - 0.05) < 1e-12);
  assert.ok(Math.abs(cosineLr(0.1, 10, 10)) < 1e-12);
});

test("the progress line shows percent, rate and ETA", () => {
  const lines: string[] = [];
  const p = new LineProgress((s) => lines.push(s), false, 0);
  p.start("train", 10, "steps");
  p.update(5, "loss 1.0");
  p.end("done");
  assert.match(lines[0], /^train \[#{10}\.{10}\] 50% 5\/10 steps [\d.]+ steps\/s elapsed \d+s ETA \d+s \| loss 1\.0\n$/);
  assert.equal(lines[1], "done\n");
});
