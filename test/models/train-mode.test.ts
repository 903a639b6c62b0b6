import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { bn, maybeDropout, withInitSeed, dropoutState, setDropoutState } from "../../src/models/layers";

// PyTorch's numbers, made by scripts/torch_bn_dropout.py.
const FIX = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "torch", "train-mode.json"), "utf8"));

const maxRel = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
};

test("train-mode BatchNorm matches PyTorch: batch statistics, output and running stats (unbiased variance, momentum 0.1)", () => {
  const input = tf.input({ shape: [5, 5, 3] });
  const model = tf.model({ inputs: input, outputs: bn(input, "bn") });
  const layer = model.getLayer("bn");
  const [, , mm, mv] = layer.getWeights();
  layer.setWeights([tf.tensor1d(FIX.gamma), tf.tensor1d(FIX.beta), mm, mv]);
  const xNhwc = tf.transpose(tf.tensor4d(FIX.input_nchw), [0, 2, 3, 1]);
  const y = model.apply(xNhwc, { training: true }) as tf.Tensor;
  const expected = tf.transpose(tf.tensor4d(FIX.output_nchw), [0, 2, 3, 1]);
  assert.ok(maxRel(y.dataSync(), expected.dataSync()) < 1e-4, "output");
  const [, , movingMean, movingVar] = layer.getWeights();
  assert.ok(maxRel(movingMean.dataSync(), FIX.running_mean) < 1e-4, `running_mean ${movingMean.dataSync()} vs ${FIX.running_mean}`);
  assert.ok(maxRel(movingVar.dataSync(), FIX.running_var) < 1e-4, `running_var ${movingVar.dataSync()} vs ${FIX.running_var}`);
  tf.dispose([xNhwc, y, expected]);
  model.dispose();
});

test("train-mode dropout matches PyTorch's statistics: inverted dropout, zero fraction p, kept values 1/(1-p)", () => {
  const p: number = FIX.dropout_p;
  const input = tf.input({ shape: [200000] });
  const model = withInitSeed(5, () => tf.model({ inputs: input, outputs: maybeDropout(input, p, "drop") }));
  const d = (model.apply(tf.ones([1, 200000]), { training: true }) as tf.Tensor).dataSync();
  let zeros = 0;
  let sum = 0;
  let kept = NaN;
  for (const v of d) {
    if (v === 0) zeros++;
    else kept = v;
    sum += v;
  }
  const zeroFraction = zeros / d.length;
  // Binomial standard deviation at n = 200 000 is 0.001: both within 5σ of p.
  assert.ok(Math.abs(zeroFraction - p) < 0.005 && Math.abs(FIX.dropout_zero_fraction - p) < 0.005, `zero fraction ${zeroFraction} (PyTorch ${FIX.dropout_zero_fraction})`);
  assert.ok(Math.abs(kept - FIX.dropout_kept_value) < 1e-6, `kept value ${kept} (PyTorch ${FIX.dropout_kept_value})`);
  assert.ok(Math.abs(sum / d.length - 1) < 0.01 && Math.abs(FIX.dropout_mean - 1) < 0.01, "the mean is preserved");
  // Inference mode is the identity, as in PyTorch's eval().
  const e = (model.apply(tf.ones([1, 200000]), { training: false }) as tf.Tensor).dataSync();
  assert.ok(e.every((v) => v === 1));
  model.dispose();
});

test("dropout draws a new mask at every training step, reproducibly from the seed; its RNG state saves and restores", () => {
  const input = tf.input({ shape: [64] });
  const build = (seed: number) => withInitSeed(seed, () => tf.model({ inputs: input, outputs: maybeDropout(input, 0.5, "drop") }));
  const masks = (m: tf.LayersModel, n: number) => Array.from({ length: n }, () => Array.from((m.apply(tf.ones([1, 64]), { training: true }) as tf.Tensor).dataSync()).join(","));
  const a = build(3);
  const ma = masks(a, 4);
  assert.equal(new Set(ma).size, 4, "four steps, four different masks (tfjs's seeded Dropout repeats one)");
  assert.deepEqual(masks(build(3), 4), ma, "the same seed gives the same sequence of masks");
  assert.notDeepEqual(masks(build(4), 4), ma, "another seed, other masks");
  // Resume: a fresh model with the state after two steps continues with masks 3 and 4.
  const b = build(3);
  masks(b, 2);
  const state = dropoutState(b);
  assert.deepEqual(state, { drop: 2 });
  const c = build(3);
  setDropoutState(c, state);
  assert.deepEqual(masks(c, 2), ma.slice(2));
  assert.throws(() => setDropoutState(c, { other: 1 }), /other is not a dropout layer of the model; no state for dropout layer drop/);
  // Inference does not advance the state.
  c.apply(tf.ones([1, 64]), { training: false });
  assert.deepEqual(dropoutState(c), { drop: 4 });
});
