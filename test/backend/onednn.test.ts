/**
 * The onednn backend (src/backend/onednn.ts on native/src/addon.cc) against tfjs's cpu backend.
 *
 * Metric: for every output tensor, relErr = max_i |onednn_i − cpu_i| / max(1e-6, max_i |cpu_i|), the largest absolute
 * difference relative to the largest reference magnitude of that tensor; it must stay below 1e-4 (TOL) unless a
 * case says otherwise. NaN and ±Infinity must sit at the same positions on both backends. Shapes and dtypes must
 * be equal.
 *
 * Each case runs the public tf ops (tf.conv2d, tf.grads, ...) once with tf.setBackend("cpu") and once with
 * tf.setBackend("onednn"), on tensors made afresh on each backend from the same deterministic arrays, and checks
 * that the addon functions the case targets were called on onednn (so a silent fallback to the cpu kernels cannot
 * pass for a native result), and that no tensor leaked. Every output buffer the onednn kernels get is NaN-filled
 * first (see `poisoned`), so a kernel that leaves part of its output unwritten, or reads it, fails.
 *
 * Also: one training step of small ResNet / PreActResNet / VGG / DenseNet models (gradients of every variable,
 * the SGD update and the BatchNorm moving statistics), 100 training steps in a child process (numTensors and RSS
 * flat), the buffer pool never overwriting data handed out (data(), views, split/unstack, moved tensors), and the
 * error initBackend gives when the addon is missing.
 *
 * Without the addon (native/build/Release/minicifar_dnnl.node) every onednn test is skipped with the reason,
 * except under CI (env CI set), where the availability test fails: CI installs libdnnl-dev and builds it.
 * The largest error of each kernel group is reported as a diagnostic by the last test.
 */
import { before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { BN_TRAIN_KERNEL, loadOneDnnAddon, registerOneDnnBackend } from "../../src/backend/onednn";
import { backendInfo, initBackend, resetBackendChoice } from "../../src/backend";
import { buildModel, presetSpec } from "../../src/models";
import { SGD, type SGDOptions } from "../../src/train/sgd";
import type { ModelSpec } from "../../src/results/types";

const ROOT = path.resolve(__dirname, "..", "..");
const CHILD = path.join(__dirname, "onednn-child.ts");
const TOL = 1e-4;

const loaded = loadOneDnnAddon();
const CI = process.env.CI != null && !/^(|0|false)$/i.test(process.env.CI.trim());
const SKIP: string | false = "error" in loaded ? `onednn addon unavailable: ${loaded.error}` : false;

// Count calls of every addon function, to prove the native path ran. The kernels call through the module object.
const calls = new Map<string, number>();
if ("addon" in loaded) {
  const mod = loaded.addon as unknown as Record<string, unknown>;
  for (const [name, fn] of Object.entries(mod)) {
    if (typeof fn !== "function" || calls.has(name)) continue;
    calls.set(name, 0);
    mod[name] = (...args: unknown[]) => {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return (fn as (...a: unknown[]) => unknown).apply(mod, args);
    };
  }
  registerOneDnnBackend();
}

/**
 * Every buffer the onednn backend hands a kernel (fresh or recycled from its pool) is filled with NaN first: the
 * kernels promise to write every element of their outputs without reading them, and a kernel that does not (an
 * accumulator not zeroed, a GEMM reading C) then fails the comparisons below instead of passing on zeroed memory.
 */
let poisoned = 0;
before(async () => {
  if (SKIP) return;
  assert.ok(await tf.setBackend("onednn"));
  const be = tf.backend() as unknown as { alloc(n: number): Float32Array };
  const alloc = be.alloc.bind(be);
  be.alloc = (n: number) => {
    poisoned++;
    return alloc(n).fill(NaN);
  };
});

/** A test that needs the addon: skipped with the reason when it is missing. */
function otest(name: string, fn: (t: TestContext) => Promise<void> | void): void {
  test(`onednn: ${name}`, { skip: SKIP }, fn);
}

test("onednn: the addon is built and loads (a missing addon fails under CI, else the onednn tests are skipped)", { skip: SKIP && !CI ? SKIP : false }, () => {
  assert.ok("addon" in loaded, `${SKIP} (CI is set: CI installs libdnnl-dev and runs npm run build:native)`);
  assert.ok(tf.findBackendFactory("onednn"), "the onednn backend is registered");
});

// ---------------------------------------------------------------------------------------------------------------
// Harness

/** Deterministic values in [lo, hi) (an LCG): identical on both backends. */
function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let st = (seed * 2654435761) >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    st = (Math.imul(st, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (st / 2 ** 32) * (hi - lo);
  }
  return out;
}
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
/** A fresh float32 tensor of deterministic values (made anew on each call, so never shared across backends). */
const T = (shape: number[], seed: number, lo = -1, hi = 1) => tf.tensor(rand(size(shape), seed, lo, hi), shape);
/** Values bounded away from zero: ±[0.5, 1.5) (divisors). */
const TNZ = (shape: number[], seed: number) => tf.tensor(rand(size(shape), seed).map((v) => Math.sign(v || 1) * (0.5 + Math.abs(v))), shape);

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "lengths");
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    const x = a[i], y = b[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      if (!(Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)))) return Infinity;
      continue;
    }
    diff = Math.max(diff, Math.abs(x - y));
    scale = Math.max(scale, Math.abs(y));
  }
  return diff / Math.max(1e-6, scale);
}

const worst = new Map<string, { err: number; at: string }>();
function record(group: string, err: number, at: string): void {
  const w = worst.get(group);
  if (!w || err > w.err) worst.set(group, { err, at });
}

interface Out { shape: number[]; dtype: string; values: ArrayLike<number> }

/** Runs fn on `backend` inside a tidy; copies of the outputs; asserts that no tensor leaked. */
async function runOn(backend: string, fn: () => tf.Tensor | tf.Tensor[]): Promise<Out[]> {
  assert.ok(await tf.setBackend(backend), `setBackend(${backend})`);
  const n0 = tf.memory().numTensors;
  const ts = tf.tidy(() => {
    const r = fn();
    return Array.isArray(r) ? r : [r];
  });
  const outs = ts.map((t) => ({ shape: [...t.shape], dtype: t.dtype, values: (t.dataSync() as Float32Array).slice() }));
  tf.dispose(ts);
  assert.equal(tf.memory().numTensors, n0, `${backend}: tensors leaked`);
  return outs;
}

const snapshot = () => new Map(calls);

interface CheckOpts {
  /** Addon functions that must run on onednn. */
  native?: string[];
  tol?: number;
  /** Names of the outputs, for messages. */
  names?: string[];
}

/** fn on cpu and on onednn: outputs equal within tol (see the metric above); returns the largest error. */
async function check(group: string, label: string, fn: () => tf.Tensor | tf.Tensor[], o: CheckOpts = {}): Promise<number> {
  const ref = await runOn("cpu", fn);
  const before = snapshot();
  const got = await runOn("onednn", fn);
  for (const k of o.native ?? []) {
    assert.ok((calls.get(k) ?? 0) > (before.get(k) ?? 0), `${label}: addon.${k} was not called (fell back to the cpu kernels?)`);
  }
  assert.equal(got.length, ref.length, `${label}: number of outputs`);
  let max = 0;
  for (let i = 0; i < ref.length; i++) {
    const what = `${label} ${o.names?.[i] ?? `output ${i}`}`;
    assert.deepEqual(got[i].shape, ref[i].shape, `${what}: shape`);
    assert.equal(got[i].dtype, ref[i].dtype, `${what}: dtype`);
    const e = maxRel(got[i].values, ref[i].values);
    record(group, e, what);
    max = Math.max(max, e);
    assert.ok(e < (o.tol ?? TOL), `${what}: max rel err ${e}`);
  }
  return max;
}

/** [y, dL/dx_i...] with L = Σ f(xs)·probe (a random probe, so every output element matters). */
function withGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], probeSeed = 99): tf.Tensor[] {
  const y = f(...xs);
  const probe = T(y.shape, probeSeed);
  const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), probe)))(xs);
  return [y, ...grads];
}

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === "number" ? [v, v] : v);
type Explicit = [[number, number], [number, number], [number, number], [number, number]];
type ConvPad = "same" | "valid" | number | Explicit;

// ---------------------------------------------------------------------------------------------------------------
// Convolutions

interface ConvCase { n: number; h: number; w: number; ci: number; co: number; k: Pair; s: Pair; pad: ConvPad; dil?: number; bias?: boolean; relu?: boolean }

const convCases: ConvCase[] = [];
for (const k of [1, 3]) for (const s of [1, 2]) for (const pad of ["same", "valid"] as const) {
  convCases.push({ n: 1, h: 7, w: 9, ci: 3, co: 5, k, s, pad });
}
convCases.push(
  { n: 2, h: 8, w: 8, ci: 5, co: 16, k: 3, s: 1, pad: "same" },
  { n: 2, h: 6, w: 6, ci: 16, co: 16, k: 3, s: 1, pad: "valid" },
  { n: 2, h: 8, w: 8, ci: 16, co: 5, k: 1, s: 2, pad: "valid" },
  { n: 2, h: 9, w: 7, ci: 5, co: 3, k: 5, s: 2, pad: "same" },
  { n: 1, h: 9, w: 11, ci: 3, co: 4, k: 5, s: 1, pad: "valid" },
  { n: 1, h: 7, w: 9, ci: 5, co: 4, k: [3, 1], s: [2, 1], pad: "same" },
  { n: 2, h: 9, w: 7, ci: 4, co: 8, k: 3, s: 1, pad: [[0, 0], [1, 2], [2, 0], [0, 0]] },
  { n: 2, h: 9, w: 7, ci: 4, co: 8, k: 3, s: 2, pad: [[0, 0], [0, 1], [1, 1], [0, 0]] },
  { n: 2, h: 8, w: 8, ci: 3, co: 4, k: 3, s: 2, pad: 1 },
  // fused: bias, relu, both
  { n: 2, h: 9, w: 7, ci: 4, co: 8, k: 3, s: 1, pad: "same", bias: true },
  { n: 2, h: 9, w: 7, ci: 4, co: 8, k: 3, s: 1, pad: "same", relu: true },
  { n: 2, h: 9, w: 7, ci: 4, co: 8, k: 3, s: 2, pad: "same", bias: true, relu: true },
  { n: 1, h: 8, w: 8, ci: 16, co: 3, k: 1, s: 1, pad: "valid", bias: true, relu: true },
  // dilated (forward only: tfjs has no gradient for dilation > 1)
  { n: 2, h: 9, w: 9, ci: 3, co: 4, k: 3, s: 1, pad: "same", dil: 2 },
  { n: 1, h: 11, w: 10, ci: 5, co: 3, k: 3, s: 1, pad: "valid", dil: 2, bias: true, relu: true },
);

function convLabel(c: ConvCase): string {
  const pad = typeof c.pad === "string" || typeof c.pad === "number" ? String(c.pad) : JSON.stringify(c.pad.slice(1, 3));
  const k = pair(c.k), s = pair(c.s);
  return `n${c.n} ${c.h}x${c.w} ${c.ci}->${c.co} k${k.join("x")} s${s.join("x")} pad ${pad}${c.dil ? ` dil${c.dil}` : ""}${c.bias ? " +bias" : ""}${c.relu ? " +relu" : ""}`;
}

for (const c of convCases) {
  otest(`conv2d forward${c.dil ? "" : ", backward-data and backward-weights"} match cpu: ${convLabel(c)}`, async () => {
    const [kh, kw] = pair(c.k);
    const fused = c.bias || c.relu;
    const f = (x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor) =>
      fused
        ? tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: c.s, pad: c.pad, dilations: c.dil ?? 1, bias: b, activation: c.relu ? "relu" : "linear" })
        : tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad, "NHWC", c.dil ?? 1);
    const fn = () => {
      const xs = [T([c.n, c.h, c.w, c.ci], 1), T([kh, kw, c.ci, c.co], 2)];
      if (c.bias) xs.push(T([c.co], 3));
      return c.dil ? [f(xs[0], xs[1], xs[2])] : withGrads(f, xs);
    };
    const native = c.dil ? ["conv2d"] : ["conv2d", "conv2dBackpropInput", "conv2dBackpropFilter"];
    await check("conv", convLabel(c), fn, { native, names: ["y", "dx", "dw", "dbias"] });
  });
}

otest("conv2dTranspose (Conv2DBackpropInput on its own) matches cpu, incl. stride-2 shapes that round", async () => {
  const cases: { dy: number[]; w: number[]; out: [number, number, number, number]; s: number; pad: "same" | "valid" }[] = [
    { dy: [2, 4, 5, 6], w: [3, 3, 5, 6], out: [2, 7, 9, 5], s: 2, pad: "same" },
    { dy: [2, 4, 5, 6], w: [3, 3, 5, 6], out: [2, 8, 10, 5], s: 2, pad: "same" },
    { dy: [1, 3, 3, 4], w: [3, 3, 3, 4], out: [1, 8, 8, 3], s: 2, pad: "valid" },
    { dy: [1, 7, 9, 16], w: [1, 1, 3, 16], out: [1, 7, 9, 3], s: 1, pad: "valid" },
  ];
  for (const c of cases) {
    await check("conv", `conv2dTranspose ${JSON.stringify(c)}`, () => tf.conv2dTranspose(T(c.dy, 5) as tf.Tensor4D, T(c.w, 6) as tf.Tensor4D, c.out, c.s, c.pad), {
      native: ["conv2dBackpropInput"],
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Matrix products

interface MatCase { a: number[]; b: number[]; ta?: boolean; tb?: boolean; bias?: number[]; relu?: boolean }
const matCases: MatCase[] = [];
for (const ta of [false, true]) for (const tb of [false, true]) {
  matCases.push({ a: ta ? [7, 5] : [5, 7], b: tb ? [3, 7] : [7, 3], ta, tb });
  matCases.push({ a: ta ? [3, 7, 5] : [3, 5, 7], b: tb ? [1, 4, 7] : [1, 7, 4], ta, tb }); // b broadcast over the batch
}
matCases.push(
  { a: [3, 5, 7], b: [3, 7, 4] },
  { a: [1, 5, 7], b: [4, 7, 3] },
  { a: [5, 7], b: [2, 7, 3] },
  { a: [2, 3, 5, 7], b: [2, 3, 7, 4], tb: false },
  { a: [2, 3, 7, 5], b: [2, 3, 4, 7], ta: true, tb: true },
  { a: [16, 64], b: [64, 10] },
  // fused: bias of every broadcastable shape, relu
  { a: [6, 5], b: [5, 4], bias: [4], relu: true },
  { a: [6, 5], b: [4, 5], tb: true, bias: [4] },
  { a: [5, 6], b: [5, 4], ta: true, bias: [1], relu: true },
  { a: [6, 5], b: [5, 4], bias: [6, 4], relu: true },
  { a: [4, 5], b: [5, 4], bias: [4, 1] }, // a column bias on a square product: must not be taken for a row bias
  { a: [2, 4, 5], b: [2, 5, 4], bias: [2, 1, 4], relu: true },
  { a: [2, 3, 5], b: [5, 4], bias: [4], relu: true },
);

for (const c of matCases) {
  const label = `a${JSON.stringify(c.a)}${c.ta ? "ᵀ" : ""} b${JSON.stringify(c.b)}${c.tb ? "ᵀ" : ""}${c.bias ? ` +bias${JSON.stringify(c.bias)}` : ""}${c.relu ? " +relu" : ""}`;
  otest(`matMul and its gradient match cpu: ${label}`, async () => {
    const fused = c.bias || c.relu;
    const f = (a: tf.Tensor, b: tf.Tensor, bias?: tf.Tensor) =>
      fused
        ? tf.fused.matMul({ a, b, transposeA: c.ta, transposeB: c.tb, bias, activation: c.relu ? "relu" : "linear" })
        : tf.matMul(a, b, c.ta, c.tb);
    // tfjs's BatchMatMul gradient does not reduce over broadcast batch axes (it fails on cpu too): forward only there.
    const batchBroadcast = JSON.stringify(c.a.slice(0, -2)) !== JSON.stringify(c.b.slice(0, -2));
    const fn = () => {
      const xs = c.bias ? [T(c.a, 11), T(c.b, 12), T(c.bias, 13)] : [T(c.a, 11), T(c.b, 12)];
      return batchBroadcast ? [f(xs[0], xs[1], xs[2])] : withGrads(f, xs);
    };
    await check("matmul", label, fn, { native: ["matmul"], names: ["y", "da", "db", "dbias"] });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Pooling

interface PoolCase { n: number; h: number; w: number; c: number; f: Pair; s: Pair; pad: "same" | "valid" | number }
const poolCases: PoolCase[] = [
  { n: 2, h: 8, w: 8, c: 3, f: 2, s: 2, pad: "valid" },
  { n: 1, h: 7, w: 9, c: 5, f: 3, s: 2, pad: "same" },
  { n: 2, h: 9, w: 7, c: 16, f: 3, s: 2, pad: "valid" },
  { n: 1, h: 7, w: 9, c: 5, f: 3, s: 1, pad: "same" },
  { n: 2, h: 7, w: 7, c: 4, f: 2, s: 1, pad: "valid" },
  { n: 1, h: 8, w: 10, c: 3, f: [3, 2], s: [2, 3], pad: "same" },
  { n: 2, h: 8, w: 8, c: 3, f: 3, s: 2, pad: 1 },
  { n: 1, h: 4, w: 4, c: 16, f: 4, s: 4, pad: "valid" },
];
for (const c of poolCases) {
  for (const kind of ["max", "avg"] as const) {
    const label = `${kind}Pool n${c.n} ${c.h}x${c.w}x${c.c} f${pair(c.f).join("x")} s${pair(c.s).join("x")} ${c.pad}`;
    otest(`${label} and its gradient match cpu`, async () => {
      const f = (x: tf.Tensor) => (kind === "max" ? tf.maxPool : tf.avgPool)(x as tf.Tensor4D, c.f, c.s, c.pad);
      await check("pool", label, () => withGrads(f, [T([c.n, c.h, c.w, c.c], 21)]), {
        native: ["pool", kind === "max" ? "maxPoolGrad" : "avgPoolGrad"],
        names: ["y", "dx"],
      });
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Batch norm

otest("FusedBatchNorm inference matches cpu (with/without scale and offset, size-1 parameters, rank 2) and its gradient", async () => {
  const shape = [2, 5, 3, 6];
  const C = 6;
  const stats = (m: number): [tf.Tensor, tf.Tensor] => [T([m], 31), T([m], 32, 0.5, 2)];
  for (const [label, fn] of [
    ["scale+offset", () => tf.batchNorm(T(shape, 30), ...stats(C), T([C], 33), T([C], 34), 1e-3)],
    ["no scale, no offset", () => tf.batchNorm(T(shape, 30), ...stats(C), undefined, undefined, 1e-5)],
    ["offset only", () => tf.batchNorm(T(shape, 30), ...stats(C), T([C], 33), undefined, 1e-3)],
    ["size-1 mean/variance", () => tf.batchNorm(T(shape, 30), ...stats(1), T([C], 33), T([C], 34), 1e-3)],
    ["rank 2", () => tf.batchNorm(T([10, C], 30), ...stats(C), T([C], 33), T([C], 34), 1e-3)],
  ] as [string, () => tf.Tensor][]) {
    await check("batchnorm-infer", `FusedBatchNorm ${label}`, fn, { native: ["batchNormInfer"] });
  }
  // The gradient with respect to every input (the one-pass kernel of wasm-kernels.ts' gradient)
  const f = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
    tf.batchNorm4d(x as tf.Tensor4D, m as tf.Tensor1D, v as tf.Tensor1D, o as tf.Tensor1D, s as tf.Tensor1D, 1e-3);
  await check("batchnorm-infer", "FusedBatchNorm gradient", () => withGrads(f, [T(shape, 30), ...stats(C), T([C], 33), T([C], 34)]), {
    native: ["batchNormInfer", "batchNormGradParts"],
    names: ["y", "dx", "dmean", "dvariance", "dscale", "doffset"],
  });
});

/** Training batch norm: LabBatchNormTrain on onednn, tfjs's moments + batchNorm elsewhere; [y, mean, variance]. */
function bnTrain(x: tf.Tensor, scale: tf.Tensor, offset: tf.Tensor, eps: number): tf.Tensor[] {
  if (tf.getBackend() === "onednn") return tf.engine().runKernel(BN_TRAIN_KERNEL, { x, scale, offset }, { epsilon: eps }) as unknown as tf.Tensor[];
  const { mean, variance } = tf.moments(x, [...Array(x.rank - 1).keys()]);
  return [tf.batchNorm(x, mean, variance, offset, scale, eps), mean, variance];
}

for (const [label, shape, shift, eps, throughStats] of [
  ["[4,5,3,8] y only", [4, 5, 3, 8], 0, 1e-5, false],
  ["[4,5,3,8] y, mean and variance", [4, 5, 3, 8], 0, 1e-5, true],
  ["[8,6,6,16] offset mean (x ≈ 3 ± 1), eps 1e-3", [8, 6, 6, 16], 3, 1e-3, true],
  ["[3,7] rank 2", [3, 7], 0, 1e-5, true],
] as [string, number[], number, number, boolean][]) {
  otest(`LabBatchNormTrain forward and full gradient match moments+batchNorm on cpu: ${label}`, async () => {
    const C = shape[shape.length - 1];
    const fn = () => {
      const x = tf.add(T(shape, 41), shift);
      const scale = T([C], 42, 0.5, 1.5), offset = T([C], 43);
      const [py, pm, pv] = [T(shape, 44), T([C], 45), T([C], 46)];
      const loss = (xx: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => {
        const [y, m, v] = bnTrain(xx, s, o, eps);
        const l = tf.sum(tf.mul(y, py));
        return throughStats ? tf.addN([l, tf.sum(tf.mul(m, pm)), tf.sum(tf.mul(v, pv))]) : l;
      };
      const [y, m, v] = bnTrain(x, scale, offset, eps);
      return [y, m, v, ...tf.grads(loss)([x, scale, offset])];
    };
    await check("batchnorm-train", `LabBatchNormTrain ${label}`, fn, {
      native: ["batchNormTrain", "batchNormTrainGrad"],
      names: ["y", "mean", "variance", "dx", "dscale", "doffset"],
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Elementwise

const BINARY: Record<string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
  Add: tf.add, Sub: tf.sub, Multiply: tf.mul, RealDiv: tf.div, Maximum: tf.maximum, Minimum: tf.minimum, SquaredDifference: tf.squaredDifference,
};
/** [shape of a, shape of b, addon function]: each pair is also run with the operands swapped. */
const BROADCASTS: [number[], number[], string][] = [
  [[2, 3, 4, 5], [2, 3, 4, 5], "binary"],
  [[2, 3, 4, 5], [], "binary"],
  [[2, 3, 4, 5], [1], "binary"],
  [[2, 3, 4, 5], [5], "binary"],
  [[2, 3, 4, 5], [4, 5], "binary"],
  [[2, 3, 4, 5], [1, 1, 4, 5], "binary"],
  [[2, 3, 4, 5], [2, 1, 1, 5], "binaryStrided"], // middle: [N,1,1,C] × [N,H,W,C]
  [[2, 3, 4, 5], [1, 3, 1, 1], "binaryStrided"],
  [[3, 4], [3, 1], "binaryStrided"],
  [[2, 1, 5], [1, 3, 1], "binaryStrided"], // both broadcast
];

for (const [op, f] of Object.entries(BINARY)) {
  otest(`${op} matches cpu: same shape, scalar, trailing, middle and two-sided broadcasting, both operand orders, and gradients`, async () => {
    for (const [sa, sb, fnName] of BROADCASTS) {
      for (const swap of [false, true]) {
        const [s1, s2] = swap ? [sb, sa] : [sa, sb];
        const label = `${op} ${JSON.stringify(s1)} × ${JSON.stringify(s2)}`;
        await check("elementwise-binary", label, () => f(TNZ(s1, 51), TNZ(s2, 52)), { native: [fnName] });
      }
    }
    // Gradients, through the broadcasts (reductions over the broadcast axes) where tfjs supports it: its Maximum,
    // Minimum and SquaredDifference gradients do not reduce broadcast axes (they fail on cpu too).
    const pairs: [number[], number[]][] = ["Maximum", "Minimum", "SquaredDifference"].includes(op)
      ? [[[2, 3, 4, 5], [2, 3, 4, 5]]]
      : [[[2, 3, 4, 5], [2, 1, 1, 5]], [[2, 3, 4, 5], [5]], [[2, 3, 4, 5], []]];
    for (const [sa, sb] of pairs) {
      for (const [s1, s2] of [[sa, sb], [sb, sa]]) {
        await check("elementwise-binary", `${op} gradient ${JSON.stringify(s1)} × ${JSON.stringify(s2)}`, () => withGrads(f, [TNZ(s1, 53), TNZ(s2, 54)]), {
          names: ["y", "da", "db"],
        });
      }
    }
  });
}

const UNARY: [string, (x: tf.Tensor) => tf.Tensor, number, number][] = [
  ["Relu", tf.relu, -1, 1],
  ["Step", (x) => tf.step(x, 0.3), -1, 1],
  ["Neg", tf.neg, -1, 1],
  ["Square", tf.square, -2, 2],
  ["Sqrt", tf.sqrt, 0.05, 4],
  ["Rsqrt", tf.rsqrt, 0.05, 4],
  ["Exp", tf.exp, -4, 4],
  ["Log", tf.log, 0.05, 4],
  ["Abs", tf.abs, -1, 1],
  ["Relu6", tf.relu6, -9, 9],
  ["Sigmoid", tf.sigmoid, -8, 8],
];
otest("unary ops and their gradients match cpu (Relu, Step, Neg, Square, Sqrt, Rsqrt, Exp, Log, Abs, Relu6, Sigmoid)", async () => {
  for (const [name, f, lo, hi] of UNARY) {
    await check("elementwise-unary", name, () => withGrads(f, [T([3, 4, 5, 6], 61, lo, hi)]), { native: ["unary"], names: ["y", "dx"] });
  }
});

otest("NaN and ±Infinity propagate as on cpu (Relu, Step, Relu6, Maximum, Minimum, Max, Min, Abs)", async () => {
  const special = () => tf.tensor([NaN, 1, -2, Infinity, -Infinity, 0, 7, -0.5], [2, 4]);
  const other = () => tf.tensor([1, NaN, -3, 2, 5, -1, NaN, 0.25], [2, 4]);
  const fns: [string, () => tf.Tensor, string][] = [
    ["Relu", () => tf.relu(special()), "unary"],
    ["Step", () => tf.step(special(), 0.5), "unary"],
    ["Relu6", () => tf.relu6(special()), "unary"],
    ["Abs", () => tf.abs(special()), "unary"],
    ["Maximum", () => tf.maximum(special(), other()), "binary"],
    ["Minimum", () => tf.minimum(other(), special()), "binary"],
    ["Max", () => tf.max(special(), 1), "reduce"],
    ["Min", () => tf.min(other(), 0), "reduce"],
  ];
  for (const [name, fn, nat] of fns) await check("nan", name, fn, { native: [nat] });
});

otest("Relu gradient (LabReluGrad) matches cpu, incl. exact zeros", async () => {
  const fn = () => {
    const v = rand(4 * 6 * 6 * 5, 71).map((x, i) => (i % 7 === 0 ? 0 : x));
    return withGrads((x) => tf.relu(x), [tf.tensor(v, [4, 6, 6, 5])]);
  };
  const err = await check("relu-grad", "relu gradient", fn, { native: ["reluGrad"], names: ["y", "dx"] });
  assert.equal(err, 0, "the ReLU gradient is exact");
  // NaN inputs give NaN gradients (dy · step(x), as cpu computes it), and a size past the threaded path's threshold.
  const nan = () => {
    const v = rand(2 * 32 * 32 * 24, 72).map((x, i) => (i % 11 === 0 ? NaN : i % 13 === 0 ? 0 : x));
    return withGrads((x) => tf.relu(x), [tf.tensor(v, [2, 32, 32, 24])]);
  };
  assert.equal(await check("relu-grad", "relu gradient with NaN inputs, 49k elements", nan, { native: ["reluGrad"], names: ["y", "dx"] }), 0);
});

otest("AddN and its gradient match cpu", async () => {
  await check("elementwise-binary", "AddN", () => withGrads((a, b, c) => tf.addN([a, b, c]), [T([3, 4, 5], 81), T([3, 4, 5], 82), T([3, 4, 5], 83)]), { native: ["addN"] });
});

// ---------------------------------------------------------------------------------------------------------------
// Reductions

otest("Sum/Mean/Max/Min over leading, trailing, middle and all axes, keepDims on and off, match cpu", async () => {
  const shape = [3, 5, 7, 4];
  const axesList: (number | number[] | undefined)[] = [[0], [0, 1], [0, 1, 2], 3, [2, 3], 1, [1, 2], -1, [-2, -3], undefined, [0, 2], [1, 3]];
  const ops: Record<string, (x: tf.Tensor, axis?: number | number[], keepDims?: boolean) => tf.Tensor> = { Sum: tf.sum, Mean: tf.mean, Max: tf.max, Min: tf.min };
  for (const [name, f] of Object.entries(ops)) {
    for (const axes of axesList) {
      for (const keepDims of [false, true]) {
        const contiguous = !(JSON.stringify(axes) === "[0,2]" || JSON.stringify(axes) === "[1,3]");
        await check("reduce", `${name} axes ${JSON.stringify(axes)} keepDims ${keepDims}`, () => f(T(shape, 91), axes, keepDims), {
          native: contiguous ? ["reduce"] : [],
        });
      }
    }
  }
  // Long reductions into few outputs (the addon splits these across threads), and their gradients
  await check("reduce", "Sum/Mean over [0,1,2] of [16,16,16,8]", () => [tf.sum(T([16, 16, 16, 8], 92, 0, 2), [0, 1, 2]), tf.mean(T([16, 16, 16, 8], 93), [0, 1, 2])], {
    native: ["reduce"],
  });
  await check("reduce", "Sum/Mean gradients", () => [...withGrads((x) => tf.sum(x, [1, 2]), [T([2, 3, 4, 5], 94)]), ...withGrads((x) => tf.mean(x, 0), [T([2, 3, 4, 5], 95)])]);
});

// ---------------------------------------------------------------------------------------------------------------
// Copies: Slice, PadV2, Concat, Transpose

otest("Slice matches cpu (non-contiguous float32 and int32 slices, and the gradient)", async () => {
  const shape = [4, 5, 6, 3];
  const I = (seed: number) => tf.tensor(Int32Array.from(rand(size(shape), seed), (v) => Math.round(v * 1000)), shape, "int32");
  for (const [begin, sz] of [[[1, 2, 0, 1], [2, 3, 6, 2]], [[0, 1, 0, 0], [4, 3, 6, 3]], [[1, 1, 1, 0], [3, -1, 4, 3]]] as [number[], number[]][]) {
    await check("copy", `Slice float32 ${begin} ${sz}`, () => tf.slice(T(shape, 101), begin, sz), { native: ["copyND"] });
    await check("copy", `Slice int32 ${begin} ${sz}`, () => tf.slice(I(102), begin, sz), { native: ["copyND"] });
    await check("copy", `Slice gradient ${begin} ${sz}`, () => withGrads((x) => tf.slice(x, begin, sz), [T(shape, 103)]), { native: ["copyND", "fill"] });
  }
  // Contiguous slices stay the cpu backend's views; their values must match too.
  await check("copy", "contiguous Slice", () => tf.slice(T(shape, 104), [1, 0, 0, 0], [2, 5, 6, 3]));
});

otest("PadV2 with a nonzero constant matches cpu, and its gradient", async () => {
  const cases: [number[], [number, number][], number][] = [
    [[2, 5, 4, 3], [[0, 0], [1, 2], [2, 1], [0, 0]], 0.75],
    [[2, 5, 4, 3], [[1, 0], [0, 0], [0, 0], [2, 3]], -1.5],
    [[3, 4], [[1, 2], [3, 0]], 2],
    [[2, 3, 3, 2], [[0, 0], [1, 1], [1, 1], [0, 0]], 0],
  ];
  for (const [shape, paddings, value] of cases) {
    await check("copy", `PadV2 ${JSON.stringify(paddings)} ${value}`, () => withGrads((x) => tf.pad(x, paddings, value), [T(shape, 111)]), {
      native: ["fill", "copyND"],
      names: ["y", "dx"],
    });
  }
});

otest("Concat on the last, middle and first axes (float32 and int32, with an empty part) matches cpu, and its gradient", async () => {
  const I = (shape: number[], seed: number) => tf.tensor(Int32Array.from(rand(size(shape), seed), (v) => Math.round(v * 1000)), shape, "int32");
  const cases: [number[][], number][] = [
    [[[2, 3, 4, 5], [2, 3, 4, 2], [2, 3, 4, 1]], -1],
    [[[2, 3, 4, 5], [2, 1, 4, 5]], 1],
    [[[2, 3, 4, 5], [2, 0, 4, 5], [2, 2, 4, 5]], 1],
    [[[2, 3, 4, 5], [1, 3, 4, 5]], 0],
    [[[3, 4], [3, 7]], 1],
  ];
  for (const [shapes, axis] of cases) {
    const label = `${JSON.stringify(shapes)} axis ${axis}`;
    await check("copy", `Concat float32 ${label}`, () => tf.concat(shapes.map((s, i) => T(s, 121 + i)), axis), { native: ["copyND"] });
    await check("copy", `Concat int32 ${label}`, () => tf.concat(shapes.map((s, i) => I(s, 131 + i)), axis), { native: ["copyND"] });
    if (shapes.every((s) => size(s) > 0)) {
      await check("copy", `Concat gradient ${label}`, () => withGrads((...xs) => tf.concat(xs, axis), shapes.map((s, i) => T(s, 141 + i))));
    }
  }
});

otest("SplitV (tf.split, the gradient of Concat) on inner axes matches cpu, and its gradient; leading-axis splits stay views", async () => {
  const cases: [number[], number | number[], number][] = [
    [[2, 3, 4, 7], [2, 4, 1], -1],
    [[2, 5, 4, 3], [1, 3, 1], 1],
    [[3, 4, 6], 3, 2],
    [[4, 9], [9, 0], 1],
  ];
  for (const [shape, splits, axis] of cases) {
    const label = `${JSON.stringify(shape)} ${JSON.stringify(splits)} axis ${axis}`;
    await check("copy", `SplitV ${label}`, () => tf.split(T(shape, 161), splits, axis), { native: ["copyND"] });
    await check("copy", `SplitV gradient ${label}`, () => withGrads((x) => tf.addN(tf.split(x, splits, axis).filter((p) => p.size > 0).map((p, i) => tf.sum(tf.mul(p, i + 1)))), [T(shape, 162)]));
  }
  await tf.setBackend("onednn");
  const x = tf.add(T([4, 3, 2], 1), 0);
  const parts = tf.split(x, [1, 3], 0);
  assert.equal(backendValues(parts[1]).buffer, backendValues(x).buffer, "a leading-axis part is a view of x");
  tf.dispose([x, ...parts]);
});

otest("Transpose matches cpu (float32 and int32, rank 2 to 4), and its gradient", async () => {
  const I = (shape: number[], seed: number) => tf.tensor(Int32Array.from(rand(size(shape), seed), (v) => Math.round(v * 1000)), shape, "int32");
  const cases: [number[], number[]][] = [[[2, 3, 4, 5], [0, 3, 1, 2]], [[2, 3, 4, 5], [3, 2, 1, 0]], [[2, 3, 4, 5], [1, 0, 2, 3]], [[7, 9], [1, 0]], [[3, 4, 5], [2, 0, 1]]];
  for (const [shape, perm] of cases) {
    await check("copy", `Transpose float32 ${shape} ${perm}`, () => withGrads((x) => tf.transpose(x, perm), [T(shape, 151)]), { native: ["copyND"] });
    await check("copy", `Transpose int32 ${shape} ${perm}`, () => tf.transpose(I(shape, 152), perm), { native: ["copyND"] });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// SGD

otest("SGD (LabSgdStep) matches the same SGD class on cpu: momentum, nesterov, weight decay, dampening, changing lr", async () => {
  const options: SGDOptions[] = [
    { lr: 0.1 },
    { lr: 0.1, weightDecay: 5e-4 },
    { lr: 0.05, momentum: 0.9 },
    { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: true },
    { lr: 0.05, momentum: 0.9, weightDecay: 1e-2, dampening: 0.1 },
  ];
  const shapes = [[3, 3, 4, 8], [8], [37]];
  for (const opts of options) {
    const fn = () => {
      const vars = shapes.map((s, i) => tf.variable(T(s, 161 + i)));
      const opt = new SGD(opts);
      for (let step = 0; step < 3; step++) {
        opt.lr = opts.lr * (1 - step / 4);
        const grads: tf.NamedTensorMap = {};
        vars.forEach((v, i) => (grads[v.name] = T(v.shape, 171 + 10 * step + i)));
        opt.step(vars, grads);
        tf.dispose(Object.values(grads));
      }
      const res = vars.map((v) => tf.clone(v));
      opt.dispose();
      tf.dispose(vars);
      return res;
    };
    await check("sgd", `SGD ${JSON.stringify(opts)}`, fn, { native: ["sgdStep"] });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// One training step of real models

interface StepResult { names: string[]; init: Float32Array[]; loss: number; grads: Float32Array[]; weights: Float32Array[]; stats: Float32Array[]; statNames: string[]; logits: Float32Array }

async function modelStep(backend: string, spec: ModelSpec, seed: number, batch: number): Promise<StepResult> {
  assert.ok(await tf.setBackend(backend));
  const n0 = tf.memory().numTensors;
  const model = buildModel(spec, seed);
  const copy = (t: tf.Tensor) => (t.dataSync() as Float32Array).slice();
  const init = model.weights.map((w) => copy(w.read()));
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const x = T([batch, 32, 32, 3], seed + 1000);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => (i * 3) % spec.numClasses), "int32"), spec.numClasses));
  let logitsT: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.apply(x, { training: true }) as tf.Tensor;
    logitsT = tf.keep(logits);
    return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
  }, vars);
  const res: StepResult = {
    names: model.trainableWeights.map((w) => w.originalName),
    init,
    loss: value.dataSync()[0],
    logits: copy(logitsT!),
    grads: vars.map((v) => copy(grads[v.name])),
    weights: [],
    stats: [],
    statNames: model.nonTrainableWeights.map((w) => w.originalName),
  };
  const opt = new SGD({ lr: LR, momentum: 0.9, weightDecay: 5e-4 });
  opt.step(vars, grads);
  res.weights = vars.map(copy);
  res.stats = model.nonTrainableWeights.map((w) => copy(w.read()));
  tf.dispose([value, x, y, logitsT!, ...Object.values(grads)]);
  opt.dispose();
  model.dispose();
  assert.equal(tf.memory().numTensors, n0, `${backend}: tensors leaked`);
  return res;
}

// Gradients are compared per variable with the metric above, at 1e-4: these nets are shallow (up to ~10 layers) and
// the measured errors are ~1e-6 (different summation orders in the convolution and batch-norm reductions), so no
// loosening is needed. One exception: a conv bias followed by a training-mode batch norm (VGG's features.N/bias)
// has a gradient that is exactly 0 mathematically (the norm subtracts the batch mean), so both backends return
// rounding noise (~1e-8 against gradients of ~1e-1) and a relative error of that noise means nothing. Such
// variables (reference gradient below ZERO_GRAD × the model's largest gradient) must be that small on onednn too,
// and their SGD update is compared absolutely, at TOL × lr × the largest gradient (a step's typical size).
const ZERO_GRAD = 1e-5;
const LR = 0.05;
const MODELS: [string, ModelSpec, number][] = [
  ["ResNet18 blocks [1,1] widths [8,16]", presetSpec("ResNet18", 4, { blocks: [1, 1], widths: [8, 16] }), 4],
  ["PreActResNet18 blocks [1,1] widths [8,16]", presetSpec("PreActResNet18", 4, { blocks: [1, 1], widths: [8, 16] }), 4],
  ["VGG blocks [1,1,1] widths [8,16,16]", presetSpec("VGG11-w16", 4, { blocks: [1, 1, 1], widths: [8, 16, 16] }), 4],
  ["DenseNet blocks [2,1] growth 4", presetSpec("DenseNet-g12-small", 4, { blocks: [2, 1], growth: 4 }), 4],
];
for (const [label, spec, batch] of MODELS) {
  otest(`one training step of ${label}: loss, every gradient, the SGD update and the BatchNorm moving statistics match cpu`, async () => {
    const ref = await modelStep("cpu", spec, 7, batch);
    const before = snapshot();
    const got = await modelStep("onednn", spec, 7, batch);
    for (const k of ["conv2d", "conv2dBackpropInput", "conv2dBackpropFilter", "batchNormTrain", "batchNormTrainGrad", "sgdStep", "matmul", "reluGrad"]) {
      assert.ok((calls.get(k) ?? 0) > (before.get(k) ?? 0), `addon.${k} was not called`);
    }
    assert.deepEqual(got.names, ref.names);
    assert.deepEqual(got.statNames, ref.statNames);
    assert.ok(got.statNames.some((n) => /moving_mean/.test(n)) && got.statNames.some((n) => /moving_variance/.test(n)), "the model has BatchNorm moving statistics");
    // Same seed, same initial weights (the initialisers run tf ops on the active backend)
    got.init.forEach((w, i) => assert.ok(maxRel(w, ref.init[i]) < 1e-6, `initial weight ${i}`));
    const cmp = (group: string, what: string, a: Float32Array, b: Float32Array) => {
      const e = maxRel(a, b);
      record(group, e, `${label} ${what}`);
      assert.ok(e < TOL, `${label} ${what}: max rel err ${e}`);
    };
    const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    cmp("model-forward", "logits", got.logits, ref.logits);
    cmp("model-forward", "loss", Float32Array.of(got.loss), Float32Array.of(ref.loss));
    const G = Math.max(...ref.grads.map(maxAbs));
    ref.grads.forEach((g, i) => {
      const name = ref.names[i];
      if (maxAbs(g) >= ZERO_GRAD * G) {
        cmp("model-grads", `grad of ${name}`, got.grads[i], g);
        cmp("model-update", `updated ${name}`, got.weights[i], ref.weights[i]);
        return;
      }
      assert.match(name, /bias/, `${label}: only a conv bias before a batch norm may have a zero gradient, not ${name}`);
      assert.ok(maxAbs(got.grads[i]) < ZERO_GRAD * G, `${label} grad of ${name} is ${maxAbs(got.grads[i])}, should be ~0 like cpu's ${maxAbs(g)}`);
      const d = maxAbs(got.weights[i].map((v, j) => v - ref.weights[i][j]));
      assert.ok(d < TOL * LR * G, `${label} updated ${name}: differs by ${d}`);
    });
    ref.stats.forEach((s, i) => cmp("model-bn-stats", ref.statNames[i], got.stats[i], s));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The buffer pool never corrupts data it handed out

interface PoolingBackend { poolStats(): { buffers: number; bytes: number }; data: { get(id: unknown): { values: unknown } } }
const backendValues = (t: tf.Tensor) => (tf.backend() as unknown as PoolingBackend).data.get(t.dataId).values as Float32Array;

/** Runs native ops whose outputs have `n` elements, several times: they take recycled buffers from the pool. */
function churn(n: number): void {
  for (let i = 0; i < 6; i++) {
    tf.tidy(() => {
      const a = T([n], 500 + i), b = T([n], 600 + i);
      tf.relu(tf.mul(tf.add(a, b), tf.sub(a, b)));
    });
  }
}

otest("the pool recycles disposed outputs (so the tests below exercise reuse)", async () => {
  await tf.setBackend("onednn");
  const a = T([4, 6], 1), b = T([4, 6], 2);
  const t = tf.add(a, b);
  const buf = backendValues(t);
  t.dispose();
  const u = tf.mul(a, b);
  assert.equal(backendValues(u), buf, "the next output of the same size reuses the disposed buffer");
  tf.dispose([a, b, u]);
});

otest("pool: over its cap it drops the least recently used sizes first; LAB_ONEDNN_POOL_MB sets the cap", async () => {
  await tf.setBackend("onednn");
  const be = tf.backend() as unknown as { setPoolCap(b: number): void; poolSizes(): number[]; releasePool(): void; poolStats(): { bytes: number; capBytes: number } };
  const cap0 = be.poolStats().capBytes;
  try {
    be.releasePool();
    be.setPoolCap(3 * 4096 * 4);
    const make = (n: number) => tf.tidy(() => tf.add(T([n], n), 1)); // a native output of length n
    const free = (ns: number[]) => tf.dispose(ns.map(make));
    free([4096, 4000, 3000]);
    assert.deepEqual(be.poolSizes().slice(-3), [4096, 4000, 3000]);
    tf.dispose(make(4096)); // 4096 is now the most recently used size
    assert.deepEqual(be.poolSizes().slice(-3), [4000, 3000, 4096]);
    free([2000, 2000]); // no room: the least recently used (4000, then 3000) go
    const sizes = be.poolSizes();
    assert.ok(!sizes.includes(4000), `4000 evicted first: ${sizes}`);
    assert.deepEqual(sizes.slice(-2), [4096, 2000]);
    assert.ok(be.poolStats().bytes <= 3 * 4096 * 4);
    be.setPoolCap(0);
    assert.deepEqual(be.poolSizes(), [], "a zero cap empties the pool");
  } finally {
    be.setPoolCap(cap0);
  }
  const { poolCapBytes } = await import("../../src/backend/onednn");
  assert.equal(poolCapBytes({ LAB_ONEDNN_POOL_MB: "512" }, 64 * 2 ** 30), 512 * 2 ** 20);
  assert.equal(poolCapBytes({}, 24 * 2 ** 30), 6 * 2 ** 30, "a quarter of the memory");
  assert.equal(poolCapBytes({}, 2 * 2 ** 30), 2 ** 30, "at least 1 GiB");
  assert.equal(poolCapBytes({}, 128 * 2 ** 30), 8 * 2 ** 30, "at most 8 GiB");
  assert.throws(() => poolCapBytes({ LAB_ONEDNN_POOL_MB: "lots" }), /LAB_ONEDNN_POOL_MB must be a number of MiB ≥ 0, got "lots"/);
});

otest("pool: values from data()/dataSync()/array() stay intact after the tensor is disposed and more ops run", async () => {
  await tf.setBackend("onednn");
  const n0 = tf.memory().numTensors;
  const a = T([4, 6], 1), b = T([4, 6], 2);
  const t1 = tf.add(a, b), t2 = tf.mul(a, b), t3 = tf.sub(a, b);
  const d1 = await t1.data();
  const d2 = t2.dataSync();
  const d3 = (await t3.array()) as number[][];
  const [e1, e2, e3] = [Float32Array.from(d1 as Float32Array), Float32Array.from(d2 as Float32Array), JSON.stringify(d3)];
  tf.dispose([t1, t2, t3]);
  churn(24);
  assert.deepEqual(d1, e1, "data()");
  assert.deepEqual(d2, e2, "dataSync()");
  assert.equal(JSON.stringify(d3), e3, "array()");
  // A tensor made from an array that data() returned must not see it overwritten either
  const t4 = tf.add(a, b);
  const d4 = t4.dataSync();
  const t5 = tf.tensor(d4, [4, 6]);
  const e4 = Float32Array.from(d4 as Float32Array);
  tf.dispose([t4]);
  churn(24);
  assert.deepEqual(t5.dataSync(), e4);
  tf.dispose([a, b, t5]);
  assert.equal(tf.memory().numTensors, n0);
});

otest("pool: a contiguous slice (a view into its parent's buffer) stays correct after the parent is disposed", async () => {
  await tf.setBackend("onednn");
  const a = T([4, 6], 1), b = T([4, 6], 2);
  const p = tf.add(a, b);
  const s = tf.slice(p, [1, 0], [2, 6]);
  assert.equal(backendValues(s).buffer, backendValues(p).buffer, "the cpu Slice kernel returns a view (the case under test)");
  const expected = tf.tidy(() => tf.slice(tf.add(T([4, 6], 1), T([4, 6], 2)), [1, 0], [2, 6]).arraySync());
  p.dispose();
  churn(24);
  assert.deepEqual(s.arraySync(), expected);
  // and the view's buffer is never recycled under a live tensor afterwards
  s.dispose();
  churn(24);
  tf.dispose([a, b]);
});

otest("pool: tf.split / tf.unstack / reshape / stridedSlice outputs stay correct after the parent is disposed", async () => {
  await tf.setBackend("onednn");
  const shape = [4, 3, 5];
  // Each parent has its own values: a recycled buffer refilled with the same values would hide corruption.
  const mk = (seed: number) => tf.mul(T(shape, seed), T(shape, seed + 1));
  const expect = (seed: number) => tf.tidy(() => mk(seed).arraySync() as number[][][]);
  const cases: [string, (p: tf.Tensor) => tf.Tensor[], (e: number[][][]) => unknown[]][] = [
    ["split on axis 0 (views)", (p) => tf.split(p, 4, 0), (e) => e.map((m) => [m])],
    ["split on the last axis (copies)", (p) => tf.split(p, [2, 3], 2), (e) => [e.map((m) => m.map((r) => r.slice(0, 2))), e.map((m) => m.map((r) => r.slice(2)))]],
    ["unstack (views)", (p) => tf.unstack(p, 0), (e) => e],
    ["reshape (shared data)", (p) => [tf.reshape(p, [60])], (e) => [e.flat(2)]],
    ["contiguous stridedSlice (a view)", (p) => [tf.stridedSlice(p, [1, 0, 0], [3, 3, 5], [1, 1, 1])], (e) => [e.slice(1, 3)]],
  ];
  let seed = 700;
  for (const [label, parts, expected] of cases) {
    seed += 2;
    // (computed first: computing it later would refill the recycled buffer with the very same values)
    const want = expected(expect(seed));
    const p = mk(seed);
    const outs = parts(p);
    p.dispose();
    churn(60);
    churn(15);
    churn(20);
    outs.forEach((o, i) => assert.deepEqual(o.arraySync(), want[i], `${label}: part ${i}`));
    tf.dispose(outs);
  }
});

otest("pool: a tensor moved to another backend, and variables after assign, keep their values", async () => {
  await tf.setBackend("onednn");
  const t = tf.add(T([4, 6], 1), T([4, 6], 2));
  const expected = tf.tidy(() => tf.add(T([4, 6], 1), T([4, 6], 2)).arraySync());
  await tf.setBackend("cpu");
  const viaCpu = tf.mul(t, 1); // moves t's data to cpu
  await tf.setBackend("onednn");
  churn(24);
  assert.deepEqual(t.arraySync(), expected);
  assert.deepEqual(viaCpu.arraySync(), expected);
  // Variables: the old value's buffer is recycled after assign, never the new one
  const v = tf.variable(tf.add(T([4, 6], 1), T([4, 6], 2)));
  const next = tf.mul(T([4, 6], 3), T([4, 6], 4));
  const expectedNext = tf.tidy(() => tf.mul(T([4, 6], 3), T([4, 6], 4)).arraySync());
  v.assign(next);
  next.dispose();
  churn(24);
  assert.deepEqual(v.arraySync(), expectedNext);
  tf.dispose([t, viaCpu, v]);
});

otest("pool: one buffer never backs two live tensors across a training-like sequence", async () => {
  await tf.setBackend("onednn");
  // Every live tensor's buffer must be distinct unless the tensors share a dataId (or one is a view of the other).
  const live: tf.Tensor[] = [];
  const verify = () => {
    const seen = new Map<ArrayBufferLike, unknown>();
    for (const t of live) {
      const buf = backendValues(t).buffer;
      const other = seen.get(buf);
      assert.ok(other === undefined || other === t.dataId, "two live tensors share a recycled buffer");
      seen.set(buf, t.dataId);
    }
  };
  for (let i = 0; i < 40; i++) {
    const x = T([8, 8], i);
    live.push(tf.relu(x), tf.add(x, 1), tf.mul(x, x));
    x.dispose();
    if (i % 3 === 0) tf.dispose(live.splice(0, 4));
    verify();
  }
  tf.dispose(live);
});

// ---------------------------------------------------------------------------------------------------------------
// Memory over 100 training steps (child process, so that global.gc is available)

otest("100 training steps leave tf.memory().numTensors flat and process RSS flat", async () => {
  // OMP_WAIT_POLICY=passive: with libgomp's default spinning, a step is ~15× slower whenever another process keeps
  // a core busy (measured: 50 → 700 ms); memory does not depend on it, and this keeps the test quick on a busy machine.
  const env = { ...process.env, LAB_BACKEND: "", OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? "passive" };
  const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", CHILD, "steps"], { cwd: ROOT, encoding: "utf8", timeout: 240_000, env });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  const res = JSON.parse(r.stdout.trim().split("\n").pop()!) as {
    tensors: number[]; rss: Record<string, number>; heap: Record<string, number>; pool: Record<string, { buffers: number; bytes: number }>; after: number;
  };
  assert.equal(res.tensors.length, 100);
  // From the first step on (which creates the momentum buffers) the count never changes.
  assert.ok(res.tensors.every((n) => n === res.tensors[0]), `numTensors per step: ${res.tensors.join(",")}`);
  assert.equal(res.after, 0, "nothing is left after the model and optimizer are disposed");
  const mb = (b: number) => b / 2 ** 20;
  const growth = mb(res.rss["100"] - res.rss["20"]);
  // Measured after global.gc every 10 steps. One activation of the first stage is 0.5 MB at batch 16 (the step's
  // tensors total ~16 MB): leaking a single one per step would add 40 MB by step 100.
  assert.ok(growth < 20, `RSS grew by ${growth.toFixed(1)} MB between steps 20 and 100 (${mb(res.rss["20"]).toFixed(0)} → ${mb(res.rss["100"]).toFixed(0)} MB)`);
  assert.deepEqual(res.pool["100"], res.pool["20"], "the buffer pool is stable after warm-up");
  record("memory: RSS growth MB steps 20→100", growth, `numTensors ${res.tensors[0]}, pool ${mb(res.pool["100"].bytes).toFixed(1)} MB`);
});

// ---------------------------------------------------------------------------------------------------------------
// Availability

otest("initBackend({ prefer: 'onednn' }) selects onednn with its kernels", async () => {
  const saved = process.env.LAB_BACKEND;
  delete process.env.LAB_BACKEND;
  resetBackendChoice();
  try {
    assert.equal(await initBackend({ prefer: "onednn", log: () => {} }), "onednn");
    assert.equal(tf.getBackend(), "onednn");
    const info = backendInfo();
    assert.ok(info?.kernels.includes("Conv2D") && info.kernels.includes(BN_TRAIN_KERNEL));
    assert.match(info!.detail, /^oneDNN \d+\.\d+/);
  } finally {
    resetBackendChoice();
    if (saved !== undefined) process.env.LAB_BACKEND = saved;
  }
});

function missingAddonError(addonPath: string): string {
  const r = spawnSync(process.execPath, ["--import", "tsx", CHILD, "missing-addon"], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, LAB_ONEDNN_ADDON: addonPath, LAB_BACKEND: "" },
  });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  const res = JSON.parse(r.stdout.trim().split("\n").pop()!) as { ok: boolean; message?: string };
  assert.equal(res.ok, false, "initBackend must throw when the addon is missing");
  return res.message!;
}

// Runs without the addon too: it simulates the missing file.
test("onednn: initBackend({ prefer: 'onednn' }) without the addon throws, naming `npm run build:native` and libdnnl-dev", () => {
  for (const p of ["/nonexistent", path.join("/nonexistent", "a-long-checkout-path".repeat(4), "native", "build", "Release", "minicifar_dnnl.node")]) {
    const msg = missingAddonError(p);
    assert.match(msg, /prefer=onednn requested but unavailable/, msg);
    assert.ok(msg.includes("npm run build:native"), `names npm run build:native: ${msg}`);
    assert.ok(msg.includes("libdnnl-dev"), `names libdnnl-dev: ${msg}`);
  }
  // A file that exists but is no addon: the message says to rebuild it
  const bogus = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "onednn-test-")), "minicifar_dnnl.node");
  fs.writeFileSync(bogus, "not an ELF file");
  try {
    const msg = missingAddonError(bogus);
    assert.ok(msg.includes("npm run build:native"), msg);
  } finally {
    fs.rmSync(path.dirname(bogus), { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------------------------

otest("error summary (largest relative error per kernel group)", (t) => {
  const lines = [...worst].map(([group, w]) => `${group}: ${w.err.toExponential(2)} (${w.at})`);
  for (const l of lines) t.diagnostic(l);
  assert.ok(poisoned > 0, "the onednn kernels' output buffers were NaN-poisoned");
});
