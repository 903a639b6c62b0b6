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
