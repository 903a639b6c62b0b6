import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { installWasmTrainingKernels, tileInto } from "../../src/backend/wasm-kernels";

type Pad = "same" | "valid";
interface Case { n: number; h: number; w: number; ci: number; co: number; k: number; s: number; pad: Pad; bias?: boolean }

function rand(shape: number[], seed: number): Float32Array {
  // small LCG so that both backends see identical inputs
  let st = seed >>> 0;
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    st = (Math.imul(st, 1664525) + 1013904223) >>> 0;
    out[i] = st / 2 ** 32 - 0.5;
  }
  return out;
}

function maxRelErr(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let err = 0;
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
  return err / Math.max(scale, 1e-12);
}

async function convGrads(backend: string, c: Case): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const xShape = [c.n, c.h, c.w, c.ci];
  const wShape = [c.k, c.k, c.ci, c.co];
  const x = tf.tensor4d(rand(xShape, 1), xShape as [number, number, number, number]);
  const w = tf.tensor4d(rand(wShape, 2), wShape as [number, number, number, number]);
  const b = tf.tensor1d(rand([c.co], 3));
  const probeShape = tf.conv2d(x, w, c.s, c.pad).shape;
  const probe = tf.tensor(rand(probeShape, 4), probeShape);
  const f = c.bias
    ? (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(tf.fused.conv2d({ x: xx as tf.Tensor4D, filter: ww as tf.Tensor4D, bias: bb, strides: c.s, pad: c.pad, activation: "relu" }), probe))
    : (xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.s, c.pad), probe));
  const grads = c.bias ? tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)([x, w, b]) : tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)([x, w]);
  const out = grads.map((g) => g.dataSync() as Float32Array).map((a) => Float32Array.from(a));
  tf.dispose([x, w, b, probe, ...grads]);
  return out;
}

before(async () => {
  installWasmTrainingKernels();
  await tf.setBackend("wasm");
});

const cases: Case[] = [];
for (const k of [1, 3]) for (const s of [1, 2]) for (const pad of ["same", "valid"] as Pad[]) {
  cases.push({ n: 1, h: 7, w: 9, ci: 3, co: 5, k, s, pad });
  cases.push({ n: 3, h: 8, w: 8, ci: 6, co: 4, k, s, pad });
}
cases.push({ n: 2, h: 9, w: 7, ci: 4, co: 8, k: 3, s: 1, pad: "same", bias: true });
cases.push({ n: 2, h: 9, w: 7, ci: 4, co: 8, k: 3, s: 2, pad: "same", bias: true });
cases.push({ n: 2, h: 10, w: 11, ci: 2, co: 3, k: 5, s: 2, pad: "valid" });
cases.push({ n: 2, h: 10, w: 11, ci: 2, co: 3, k: 5, s: 3, pad: "same" });
cases.push({ n: 2, h: 10, w: 11, ci: 2, co: 3, k: 4, s: 1, pad: "same" });

for (const c of cases) {
  const name = `conv grads match cpu: n${c.n} ${c.h}x${c.w} ${c.ci}->${c.co} k${c.k} s${c.s} ${c.pad}${c.bias ? " fused+bias+relu" : ""}`;
  test(name, async () => {
    const ref = await convGrads("cpu", c);
    const got = await convGrads("wasm", c);
    assert.equal(got.length, ref.length);
    for (let i = 0; i < ref.length; i++) {
      const e = maxRelErr(got[i], ref[i]);
      assert.ok(e < 1e-4, `grad ${i}: max rel err ${e}`);
    }
  });
}

test("tileInto matches tf.tile on cpu for assorted shapes", async () => {
  await tf.setBackend("cpu");
  const shapes: [number[], number[]][] = [
    [[1, 1, 1, 5], [2, 3, 4, 1]], [[2, 3], [3, 2]], [[4], [3]], [[2, 1, 3], [1, 4, 2]], [[3, 2], [1, 1]],
  ];
  for (const [shape, reps] of shapes) {
    const src = rand(shape, 7);
    const ref = tf.tile(tf.tensor(src, shape), reps);
    const out = new Float32Array(ref.size);
    tileInto(src, out, shape, reps);
    assert.deepEqual(Array.from(out), Array.from(ref.dataSync()));
    ref.dispose();
  }
});

test("wasm Tile kernel matches cpu incl. int32 and bool", async () => {
  for (const dtype of ["float32", "int32", "bool"] as const) {
    const vals = Array.from(rand([2, 3, 1], 9)).map((v) => (dtype === "float32" ? v : dtype === "int32" ? Math.round(v * 100) : v > 0 ? 1 : 0));
    const res: number[][] = [];
    for (const be of ["cpu", "wasm"]) {
      await tf.setBackend(be);
      const t = tf.tensor(vals, [2, 3, 1], dtype);
      const r = tf.tile(t, [2, 1, 3]);
      res.push(Array.from(r.dataSync()));
      tf.dispose([t, r]);
    }
    assert.deepEqual(res[1], res[0]);
  }
});

test("Sum/Mean over leading axes match cpu (keepDims on/off, other axes delegate)", async () => {
  const shape = [3, 5, 7, 4];
  const data = rand(shape, 11);
  const axesList: (number | number[])[] = [[0, 1, 2], [0], [0, 1], [1, 2], 3, [2, 0, 1], [0, 1, 2, 3]];
  for (const axes of axesList) for (const keepDims of [false, true]) for (const op of ["sum", "mean"] as const) {
    const res: { v: Float32Array; s: number[] }[] = [];
    for (const be of ["cpu", "wasm"]) {
      await tf.setBackend(be);
      const t = tf.tensor(data, shape);
      const r = tf[op](t, axes, keepDims);
      res.push({ v: Float32Array.from(r.dataSync() as Float32Array), s: r.shape });
      tf.dispose([t, r]);
    }
    assert.deepEqual(res[1].s, res[0].s);
    assert.ok(maxRelErr(res[1].v, res[0].v) < 1e-5, `${op} ${JSON.stringify(axes)} ${keepDims}`);
  }
});

async function bnGrads(backend: string, withScale: boolean): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const shape = [2, 5, 3, 6] as [number, number, number, number];
  const x = tf.tensor4d(rand(shape, 21), shape);
  const mean = tf.tensor1d(rand([6], 22));
  const variance = tf.tensor1d(rand([6], 23).map((v) => v + 1));
  const scale = tf.tensor1d(rand([6], 24));
  const offset = tf.tensor1d(rand([6], 25));
  const probe = tf.tensor4d(rand(shape, 26), shape);
  const f = (xx: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
    tf.sum(tf.mul(tf.batchNorm4d(xx as tf.Tensor4D, m as tf.Tensor1D, v as tf.Tensor1D, o as tf.Tensor1D, withScale ? (s as tf.Tensor1D) : undefined, 1e-3), probe));
  const grads = tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)([x, mean, variance, scale, offset]);
  const out = grads.map((g) => Float32Array.from(g.dataSync() as Float32Array));
  tf.dispose([x, mean, variance, scale, offset, probe, ...grads]);
  return withScale ? out : [out[0], out[1], out[2], out[4]];
}

test("FusedBatchNorm gradient (one-pass wasm kernel) matches cpu", async () => {
  // (tfjs-core's own FusedBatchNorm gradient cannot run without a scale on cpu: it clones the missing input)
  for (const withScale of [true]) {
    const ref = await bnGrads("cpu", withScale);
    const got = await bnGrads("wasm", withScale);
    for (let i = 0; i < ref.length; i++) {
      const e = maxRelErr(got[i], ref[i]);
      assert.ok(e < 1e-4, `scale=${withScale} grad ${i}: ${e}`);
    }
  }
});

function smallResNet(): tf.LayersModel {
  const inp = tf.input({ shape: [9, 7, 3] });
  const cbr = (x: tf.SymbolicTensor, f: number, k: number, s: number, relu: boolean, bias = false) => {
    let y = tf.layers.conv2d({ filters: f, kernelSize: k, strides: s, padding: "same", useBias: bias }).apply(x) as tf.SymbolicTensor;
    y = tf.layers.batchNormalization({ epsilon: 1e-5 }).apply(y) as tf.SymbolicTensor;
    return relu ? (tf.layers.reLU().apply(y) as tf.SymbolicTensor) : y;
  };
  const stem = cbr(inp, 4, 3, 1, true, true);
  let y = cbr(stem, 6, 3, 2, true);
  y = cbr(y, 6, 3, 1, false);
  const sc = cbr(stem, 6, 1, 2, false);
  let z = tf.layers.reLU().apply(tf.layers.add().apply([y, sc]) as tf.SymbolicTensor) as tf.SymbolicTensor;
  z = tf.layers.globalAveragePooling2d({}).apply(z) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3 }).apply(z) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: out });
}

async function modelStep(backend: string, weights: Float32Array[] | null): Promise<{ w: Float32Array[]; g: Map<string, Float32Array>; loss: number }> {
  await tf.setBackend(backend);
  tf.util.now(); // no-op; keeps the backend switch explicit
  const model = smallResNet();
  if (weights) model.setWeights(model.getWeights().map((w, i) => tf.tensor(weights[i], w.shape)));
  const w = model.getWeights().map((t) => Float32Array.from(t.dataSync() as Float32Array));
  const xs = tf.tensor4d(rand([4, 9, 7, 3], 31), [4, 9, 7, 3]);
  const ys = tf.oneHot(tf.tensor1d([0, 2, 1, 2], "int32"), 3);
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.apply(xs, { training: true }) as tf.Tensor;
    return tf.losses.softmaxCrossEntropy(ys, logits) as tf.Scalar;
  });
  const g = new Map<string, Float32Array>();
  for (const [k, t] of Object.entries(grads)) g.set(k.replace(/_\d+(\/)/, "$1"), Float32Array.from(t.dataSync() as Float32Array));
  const loss = value.dataSync()[0];
  tf.dispose([xs, ys, value, ...Object.values(grads)]);
  model.dispose();
  return { w, g, loss };
}

test("one training step of a conv-BN-relu-residual model: wasm gradients match cpu", async () => {
  const ref = await modelStep("cpu", null);
  const got = await modelStep("wasm", ref.w);
  assert.ok(Math.abs(got.loss - ref.loss) < 1e-5 * Math.max(1, Math.abs(ref.loss)), `loss ${got.loss} vs ${ref.loss}`);
  assert.equal(got.g.size, ref.g.size);
  const refs = [...ref.g.values()], gots = [...got.g.values()];
  assert.ok(refs.length >= 10);
  // A conv bias followed by BN has a mathematically zero gradient (BN removes constant shifts): what both
  // backends return is rounding noise, so it is compared in absolute terms against the largest gradient.
  let globalScale = 0;
  for (const r of refs) for (const v of r) globalScale = Math.max(globalScale, Math.abs(v));
  for (let i = 0; i < refs.length; i++) {
    const name = [...ref.g.keys()][i];
    let scale = 0;
    for (const v of refs[i]) scale = Math.max(scale, Math.abs(v));
    if (scale < 1e-5 * globalScale) {
      for (let j = 0; j < refs[i].length; j++) assert.ok(Math.abs(gots[i][j] - refs[i][j]) < 1e-5 * globalScale, `${name}[${j}]`);
      continue;
    }
    const e = maxRelErr(gots[i], refs[i]);
    assert.ok(e < 1e-4, `grad #${i} (${name}): ${e}`);
  }
});

test("numTensors stays flat across wasm training steps", async () => {
  await tf.setBackend("wasm");
  const model = smallResNet();
  const opt = tf.train.momentum(0.01, 0.9);
  const xs = tf.tensor4d(rand([4, 9, 7, 3], 41), [4, 9, 7, 3]);
  const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 1], "int32"), 3);
  const step = () => {
    const l = opt.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar, true);
    l?.dispose();
  };
  step();
  const n0 = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) step();
  assert.equal(tf.memory().numTensors, n0);
  tf.dispose([xs, ys]);
  opt.dispose();
  model.dispose();
});

test("Mean gradient (tile fast path on wasm) matches cpu", async () => {
  const shape = [3, 4, 5, 6];
  for (const axes of [[0, 1, 2], [0], [1, 2], [3]]) for (const keepDims of [false, true]) {
    const res: Float32Array[] = [];
    for (const be of ["cpu", "wasm"]) {
      await tf.setBackend(be);
      const x = tf.tensor(rand(shape, 51), shape);
      const outShape = tf.mean(x, axes, keepDims).shape;
      const probe = tf.tensor(rand(outShape, 52), outShape);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.mean(t, axes, keepDims), probe)))(x);
      res.push(Float32Array.from(g.dataSync() as Float32Array));
      tf.dispose([x, probe, g]);
    }
    assert.ok(maxRelErr(res[1], res[0]) < 1e-6, `${axes} ${keepDims}`);
  }
});

test("Identity / same-dtype Cast share buffers safely; other casts still convert", async () => {
  await tf.setBackend("wasm");
  const a = tf.tensor1d([1.5, -2.5, 3]);
  const b = tf.clone(a);
  const c = tf.cast(a, "float32");
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1.5, -2.5, 3]);
  b.dispose();
  assert.deepEqual(Array.from(c.dataSync()), [1.5, -2.5, 3]);
  const d = tf.cast(c, "int32");
  assert.equal(d.dtype, "int32");
  assert.deepEqual(Array.from(d.dataSync()), [1, -2, 3]);
  const v = tf.variable(c);
  v.assign(tf.tensor1d([7, 8, 9]));
  assert.deepEqual(Array.from(c.dataSync()), [1.5, -2.5, 3]);
  tf.dispose([c, d, v]);
});
