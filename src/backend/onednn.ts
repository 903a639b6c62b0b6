/**
 * The `onednn` TensorFlow.js backend: tfjs's `cpu` backend (tensors are plain TypedArrays) whose hot kernels run in
 * a native addon on oneDNN, the CPU library behind PyTorch's convolutions (native/, built by `npm run build:native`
 * against Debian's libdnnl-dev). Both cores are used (OpenMP).
 *
 * Native here: Conv2D, FusedConv2D (bias, relu), Conv2DBackpropInput, Conv2DBackpropFilter, BatchMatMul,
 * _FusedMatMul (bias, relu), MaxPool, AvgPool and their gradients, FusedBatchNorm, the elementwise ops of conv-net
 * training (Add, Sub, Multiply, RealDiv, Maximum, Minimum, SquaredDifference with same-shape, scalar or trailing
 * broadcasting; Relu, Step, Neg, Square, Sqrt, Rsqrt, Exp, Log, Abs, Relu6, Sigmoid; AddN), Sum/Mean/Max/Min over a
 * contiguous block of axes, Slice, PadV2, Concat, SplitV, Transpose, Tile-free gradients, and three fused kernels of ours:
 *  - LabBatchNormTrain / LabBatchNormTrainGrad: batch-statistics batch norm in one pass each way (TorchBatchNorm
 *    uses it in training), instead of tfjs's moments + FusedBatchNorm and their ~13 full-size passes;
 *  - LabReluGrad: the ReLU gradient in one pass (tfjs: Step, Cast and Multiply);
 *  - LabSgdStep: the whole torch.optim.SGD update of one parameter in one pass (used by src/train/sgd.ts).
 * Every other kernel, and any case above outside the native fast path (other dtypes, NCHW, other broadcasts), is
 * the `cpu` backend's own.
 *
 * Exports: loadOneDnnAddon() (the addon or a reason it is unavailable), registerOneDnnBackend() (idempotent; throws
 * with the reason and the install command), ONEDNN_KERNELS, OneDnnAddon, and the custom kernel names.
 */
import * as path from "node:path";
import * as fs from "node:fs";
import * as os from "node:os";
import * as tf from "@tensorflow/tfjs";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { BN_GRAD_KERNEL, installBatchNormGradient } from "./wasm-kernels";

type TensorInfo = tf.TensorInfo;
type DataId = TensorInfo["dataId"];
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type KernelFn = (args: KernelArgs) => TensorInfo | TensorInfo[];
type F32 = Float32Array;

/** The addon's functions (native/src/addon.cc). */
export interface OneDnnAddon {
  conv2d(x: F32, w: F32, bias: F32 | null, y: F32, dims: Int32Array, act: number): void;
  conv2dBackpropInput(dy: F32, w: F32, dx: F32, dims: Int32Array): void;
  conv2dBackpropFilter(x: F32, dy: F32, dw: F32, dims: Int32Array): void;
  matmul(a: F32, b: F32, c: F32, dims: Int32Array): void;
  pool(x: F32, y: F32, dims: Int32Array, isMax: boolean): void;
  maxPoolGrad(dy: F32, x: F32, dx: F32, dims: Int32Array): void;
  avgPoolGrad(dy: F32, dx: F32, dims: Int32Array): void;
  batchNormTrain(x: F32, gamma: F32 | null, beta: F32 | null, y: F32, mean: F32, variance: F32, rows: number, C: number, eps: number): void;
  batchNormTrainGrad(
    dy: F32, x: F32, mean: F32, variance: F32, gamma: F32 | null, dMean: F32 | null, dVar: F32 | null,
    dx: F32, dGamma: F32, dBeta: F32, rows: number, C: number, eps: number,
  ): void;
  batchNormInfer(x: F32, mean: F32, variance: F32, gamma: F32 | null, beta: F32 | null, y: F32, rows: number, C: number, eps: number): void;
  batchNormGradParts(
    dy: F32, x: F32, mean: F32, variance: F32, gamma: F32 | null,
    dx: F32, dMean: F32, dVar: F32, dGamma: F32, dBeta: F32, rows: number, C: number, eps: number,
  ): void;
  binary(op: number, a: F32, b: F32, out: F32, swapped: boolean): void;
  binaryStrided(op: number, a: F32, b: F32, out: F32, outShape: Int32Array, aStrides: Int32Array, bStrides: Int32Array): void;
  unary(op: number, x: F32, out: F32, alpha: number): void;
  reluGrad(dy: F32, x: F32, out: F32): void;
  addN(xs: F32[], out: F32): void;
  reduce(op: number, x: F32, out: F32, outer: number, red: number, inner: number): void;
  copyND(src: F32 | Int32Array, dst: F32 | Int32Array, shape: Int32Array, srcStrides: Int32Array, srcOffset: number, dstStrides: Int32Array, dstOffset: number): void;
  fill(out: F32, value: number): void;
  sgdStep(w: F32, g: F32, bufOld: F32 | null, wOut: F32, bufOut: F32 | null, lr: number, momentum: number, weightDecay: number, dampening: number, nesterov: boolean): void;
  info(): { version: string; cpuRuntime: string; threads: number; cachedPrimitives: number };
  clearCache(): void;
}

export const BACKEND_NAME = "onednn";
export const BN_TRAIN_KERNEL = "LabBatchNormTrain";
export const BN_TRAIN_GRAD_KERNEL = "LabBatchNormTrainGrad";
export const RELU_GRAD_KERNEL = "LabReluGrad";
export const SGD_STEP_KERNEL = "LabSgdStep";

const ADDON_REL = path.join("native", "build", "Release", "minicifar_dnnl.node");
const INSTALL_HINT = "install oneDNN with `sudo apt-get install -y libdnnl-dev`, then run `npm run build:native`";

/** The repository root: src/backend or dist/backend are two levels below it. */
function addonPath(): string {
  return process.env.LAB_ONEDNN_ADDON || path.resolve(__dirname, "..", "..", ADDON_REL);
}

let addon: OneDnnAddon | null = null;

/** Loads the addon once; returns it or the reason it cannot be used (with the command that fixes it). */
export function loadOneDnnAddon(): { addon: OneDnnAddon } | { error: string } {
  if (addon) return { addon };
  const file = addonPath();
  // The fix comes before the details: callers may cut long messages (initBackend keeps 200 characters).
  if (!fs.existsSync(file)) return { error: `onednn addon not built: ${INSTALL_HINT} (missing: ${file})` };
  try {
    addon = require(file) as OneDnnAddon;
    return { addon };
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    if (/libdnnl\.so/.test(msg)) return { error: `onednn addon cannot load oneDNN: install it with \`sudo apt-get install -y libdnnl2\` (${msg})` };
    return { error: `onednn addon failed to load: rebuild it with \`npm run build:native\` (${msg})` };
  }
}

function native(): OneDnnAddon {
  if (!addon) throw new Error("onednn addon not loaded");
  return addon;
}

// ---------------------------------------------------------------------------------------------------------------
// Access to the cpu backend's storage

interface CpuLike {
  data: { get(id: TensorInfo["dataId"]): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: unknown): TensorInfo;
}

function vals(backend: unknown, t: TensorInfo): F32 {
  return (backend as CpuLike).data.get(t.dataId).values as F32;
}
function anyVals(backend: unknown, t: TensorInfo): F32 | Int32Array {
  return (backend as CpuLike).data.get(t.dataId).values as F32 | Int32Array;
}
function out(backend: unknown, shape: number[], values: F32 | Int32Array, dtype: tf.DataType = "float32"): TensorInfo {
  return (backend as CpuLike).makeTensorInfo(shape, dtype, values);
}
const isF32 = (backend: unknown, ...ts: (TensorInfo | undefined | null)[]) =>
  ts.every((t) => t == null || (t.dtype === "float32" && vals(backend, t) instanceof Float32Array));
const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

const cpuKernels = new Map<string, KernelFn>();
function cpu(name: string, args: KernelArgs): TensorInfo | TensorInfo[] {
  const k = cpuKernels.get(name);
  if (!k) throw new Error(`onednn: the cpu backend has no ${name} kernel to fall back to`);
  return k(args);
}

// ---------------------------------------------------------------------------------------------------------------
// Convolutions

function convDims(ci: tf.backend_util.Conv2DInfo): Int32Array {
  return Int32Array.from([
    ci.batchSize, ci.inHeight, ci.inWidth, ci.inChannels, ci.filterHeight, ci.filterWidth, ci.outChannels,
    ci.outHeight, ci.outWidth, ci.strideHeight, ci.strideWidth, ci.padInfo.top, ci.padInfo.left, ci.padInfo.bottom,
    ci.padInfo.right, ci.dilationHeight, ci.dilationWidth,
  ]);
}

type ConvAttrs = {
  strides: number | [number, number]; pad: "same" | "valid" | number | tf.backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW"; dilations: number | [number, number]; dimRoundingMode?: "floor" | "round" | "ceil";
};

function conv2dImpl(args: KernelArgs, name: "Conv2D" | "FusedConv2D"): TensorInfo {
  const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
  const a = args.attrs as unknown as ConvAttrs & { activation?: string };
  const act = a.activation ?? "linear";
  const ok =
    a.dataFormat !== "NCHW" && isF32(args.backend, x, filter, bias) && !preluActivationWeights &&
    (act === "linear" || act === "relu") && (!bias || sizeOf(bias.shape) === filter!.shape[3]);
  if (!ok) return cpu(name, args) as TensorInfo;
  const ci = tf.backend_util.computeConv2DInfo(
    x!.shape as [number, number, number, number], filter!.shape as [number, number, number, number], a.strides,
    a.dilations ?? 1, a.pad, a.dimRoundingMode, false, "channelsLast",
  );
  const y = alloc(args.backend, sizeOf(ci.outShape));
  native().conv2d(vals(args.backend, x!), vals(args.backend, filter!), bias ? vals(args.backend, bias) : null, y, convDims(ci), act === "relu" ? 1 : 0);
  return out(args.backend, ci.outShape, y);
}

function conv2dBackpropInput(args: KernelArgs): TensorInfo {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = args.attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
  if (a.dataFormat === "NCHW" || !isF32(args.backend, dy, filter)) return cpu("Conv2DBackpropInput", args) as TensorInfo;
  const ci = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as [number, number, number, number], a.strides, 1, a.pad, a.dimRoundingMode, false, "channelsLast");
  const dx = alloc(args.backend, sizeOf(ci.inShape));
  native().conv2dBackpropInput(vals(args.backend, dy), vals(args.backend, filter), dx, convDims(ci));
  return out(args.backend, [...ci.inShape], dx);
}

function conv2dBackpropFilter(args: KernelArgs): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const a = args.attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
  if (a.dataFormat === "NCHW" || !isF32(args.backend, x, dy)) return cpu("Conv2DBackpropFilter", args) as TensorInfo;
  const ci = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, "channelsLast");
  const dw = alloc(args.backend, sizeOf(a.filterShape));
  native().conv2dBackpropFilter(vals(args.backend, x), vals(args.backend, dy), dw, convDims(ci));
  return out(args.backend, [...a.filterShape], dw);
}

// ---------------------------------------------------------------------------------------------------------------
// Matrix products

function matmulImpl(args: KernelArgs, name: "BatchMatMul" | "_FusedMatMul"): TensorInfo {
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo | undefined>;
  const { transposeA, transposeB, activation } = args.attrs as { transposeA: boolean; transposeB: boolean; activation?: string };
  const act = activation ?? "linear";
  if (!isF32(args.backend, a, b, bias) || preluActivationWeights || (act !== "linear" && act !== "relu") || a!.shape.length < 2 || b!.shape.length < 2) {
    return cpu(name, args) as TensorInfo;
  }
  const ar = a!.shape.length, br = b!.shape.length;
  const M = transposeA ? a!.shape[ar - 1] : a!.shape[ar - 2];
  const K = transposeA ? a!.shape[ar - 2] : a!.shape[ar - 1];
  const K2 = transposeB ? b!.shape[br - 1] : b!.shape[br - 2];
  const N = transposeB ? b!.shape[br - 2] : b!.shape[br - 1];
  const batchA = sizeOf(a!.shape.slice(0, -2)), batchB = sizeOf(b!.shape.slice(0, -2));
  if (K !== K2 || (batchA !== batchB && batchA !== 1 && batchB !== 1)) return cpu(name, args) as TensorInfo;
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a!.shape.slice(0, -2), b!.shape.slice(0, -2));
  const outShape = [...outer, M, N];
  // The bias is added by repetition: same shape, trailing (e.g. [N]) or scalar. A column bias ([M, 1]) or one that
  // broadcasts over a middle axis is the cpu backend's, even when its length happens to equal N.
  if (bias && !trailingBroadcast(outShape, bias.shape)) return cpu(name, args) as TensorInfo;
  const c = alloc(args.backend, sizeOf(outShape));
  native().matmul(vals(args.backend, a!), vals(args.backend, b!), c, Int32Array.from([batchA, batchB, M, N, K, transposeA ? 1 : 0, transposeB ? 1 : 0]));
  if (bias) native().binary(BIN.Add, c, vals(args.backend, bias), c, false);
  if (act === "relu") native().unary(UN.Relu, c, c, 0);
  return out(args.backend, outShape, c);
}

// ---------------------------------------------------------------------------------------------------------------
// Pooling

type PoolAttrs = { filterSize: number | [number, number]; strides: number | [number, number]; pad: "same" | "valid" | number; dimRoundingMode?: "floor" | "round" | "ceil" };

function poolDims(ci: tf.backend_util.Conv2DInfo): Int32Array {
  return Int32Array.from([
    ci.batchSize, ci.inHeight, ci.inWidth, ci.inChannels, ci.outHeight, ci.outWidth, ci.effectiveFilterHeight,
    ci.effectiveFilterWidth, ci.strideHeight, ci.strideWidth, ci.padInfo.top, ci.padInfo.left,
  ]);
}

function poolInfo(x: TensorInfo, a: PoolAttrs) {
  return tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
}

function poolImpl(args: KernelArgs, name: "MaxPool" | "AvgPool"): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  if (x.shape.length !== 4 || !isF32(args.backend, x)) return cpu(name, args) as TensorInfo;
  const a = args.attrs as unknown as PoolAttrs;
  const ci = poolInfo(x, a);
  // Like tfjs: a 1×1 window with stride 1 and no padding is the identity.
  if (ci.filterWidth === 1 && ci.filterHeight === 1 && tf.util.arraysEqual(ci.inShape, ci.outShape)) return cpu(name, args) as TensorInfo;
  const y = alloc(args.backend, sizeOf(ci.outShape));
  native().pool(vals(args.backend, x), y, poolDims(ci), name === "MaxPool");
  return out(args.backend, ci.outShape, y);
}

function maxPoolGrad(args: KernelArgs): TensorInfo {
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  if (input.shape.length !== 4 || !isF32(args.backend, dy, input)) return cpu("MaxPoolGrad", args) as TensorInfo;
  const ci = poolInfo(input, args.attrs as unknown as PoolAttrs);
  const dx = alloc(args.backend, sizeOf(input.shape));
  native().maxPoolGrad(vals(args.backend, dy), vals(args.backend, input), dx, poolDims(ci));
  return out(args.backend, [...input.shape], dx);
}

function avgPoolGrad(args: KernelArgs): TensorInfo {
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  if (input.shape.length !== 4 || !isF32(args.backend, dy)) return cpu("AvgPoolGrad", args) as TensorInfo;
  const ci = poolInfo(input, args.attrs as unknown as PoolAttrs);
  const dx = alloc(args.backend, sizeOf(input.shape));
  native().avgPoolGrad(vals(args.backend, dy), dx, poolDims(ci));
  return out(args.backend, [...input.shape], dx);
}

// ---------------------------------------------------------------------------------------------------------------
// Batch norm

/** A per-channel parameter as a length-C array (size-1 parameters are broadcast), or null if absent. */
function channelParam(backend: unknown, t: TensorInfo | undefined, C: number): F32 | null | undefined {
  if (!t) return null;
  const v = vals(backend, t);
  if (v.length === C) return v;
  if (v.length === 1) return new Float32Array(C).fill(v[0]);
  return undefined;
}

function fusedBatchNorm(args: KernelArgs): TensorInfo {
  const { x, mean, variance, offset, scale } = args.inputs as Record<string, TensorInfo | undefined>;
  const eps = Number((args.attrs ?? {}).varianceEpsilon ?? 0.001);
  if (!isF32(args.backend, x, mean, variance, offset, scale) || x!.shape.length < 1) return cpu("FusedBatchNorm", args) as TensorInfo;
  const C = x!.shape[x!.shape.length - 1];
  const m = channelParam(args.backend, mean, C), v = channelParam(args.backend, variance, C);
  const g = channelParam(args.backend, scale, C), b = channelParam(args.backend, offset, C);
  if (!m || !v || g === undefined || b === undefined) return cpu("FusedBatchNorm", args) as TensorInfo;
  const y = alloc(args.backend, sizeOf(x!.shape));
  native().batchNormInfer(vals(args.backend, x!), m, v, g, b, y, y.length / C, C, eps);
  return out(args.backend, [...x!.shape], y);
}

/** tfjs's FusedBatchNorm gradient parts in one pass (see wasm-kernels.ts, whose gradient calls this kernel). */
function fusedBatchNormGradParts(args: KernelArgs): TensorInfo[] {
  const { dy, x, mean, variance, scale } = args.inputs as Record<string, TensorInfo>;
  const eps = Number((args.attrs ?? {}).varianceEpsilon ?? 0.001);
  const C = mean.shape[0];
  const n = sizeOf(x.shape);
  const dx = alloc(args.backend, n), dMean = alloc(args.backend, C), dVar = alloc(args.backend, C), dScale = alloc(args.backend, C), dOffset = alloc(args.backend, C);
  native().batchNormGradParts(
    vals(args.backend, dy), vals(args.backend, x), vals(args.backend, mean), vals(args.backend, variance),
    scale ? vals(args.backend, scale) : null, dx, dMean, dVar, dScale, dOffset, n / C, C, eps,
  );
  return [out(args.backend, [...x.shape], dx), out(args.backend, [C], dMean), out(args.backend, [C], dVar), out(args.backend, [C], dScale), out(args.backend, [C], dOffset)];
}

/** LabBatchNormTrain(x, scale, offset; epsilon) -> [y, mean, variance (biased)], statistics over all but the last axis. */
function batchNormTrain(args: KernelArgs): TensorInfo[] {
  const { x, scale, offset } = args.inputs as Record<string, TensorInfo>;
  const eps = Number((args.attrs ?? {}).epsilon ?? 1e-3);
  const C = x.shape[x.shape.length - 1];
  const y = alloc(args.backend, sizeOf(x.shape)), mean = alloc(args.backend, C), variance = alloc(args.backend, C);
  native().batchNormTrain(vals(args.backend, x), vals(args.backend, scale), vals(args.backend, offset), y, mean, variance, y.length / C, C, eps);
  return [out(args.backend, [...x.shape], y), out(args.backend, [C], mean), out(args.backend, [C], variance)];
}

/** LabBatchNormTrainGrad(dy, x, scale, mean, variance, dMean, dVariance; epsilon) -> [dx, dScale, dOffset]. */
function batchNormTrainGrad(args: KernelArgs): TensorInfo[] {
  const { dy, x, scale, mean, variance, dMean, dVariance } = args.inputs as Record<string, TensorInfo>;
  const eps = Number((args.attrs ?? {}).epsilon ?? 1e-3);
  const C = x.shape[x.shape.length - 1];
  const dx = alloc(args.backend, sizeOf(x.shape)), dScale = alloc(args.backend, C), dOffset = alloc(args.backend, C);
  native().batchNormTrainGrad(
    vals(args.backend, dy), vals(args.backend, x), vals(args.backend, mean), vals(args.backend, variance), vals(args.backend, scale),
    dMean ? vals(args.backend, dMean) : null, dVariance ? vals(args.backend, dVariance) : null, dx, dScale, dOffset, dx.length / C, C, eps,
  );
  return [out(args.backend, [...x.shape], dx), out(args.backend, [C], dScale), out(args.backend, [C], dOffset)];
}

// ---------------------------------------------------------------------------------------------------------------
// Elementwise

const BIN = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6 } as const;
const UN = { Relu: 0, Step: 1, Neg: 2, Square: 3, Sqrt: 4, Rsqrt: 5, Exp: 6, Log: 7, Abs: 8, Relu6: 10, Sigmoid: 11 } as const;

/** True when `small` broadcasts over `big` by repetition: its shape, without leading 1s, is a suffix of big's. */
function trailingBroadcast(big: number[], small: number[]): boolean {
  let s = small;
  while (s.length > 0 && s[0] === 1) s = s.slice(1);
  if (s.length > big.length) return false;
  return s.every((d, i) => d === big[big.length - s.length + i]);
}

function binaryImpl(name: keyof typeof BIN) {
  return (args: KernelArgs): TensorInfo => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    if (!isF32(args.backend, a, b)) return cpu(name, args) as TensorInfo;
    const outShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const n = sizeOf(outShape);
    if (n === 0) return cpu(name, args) as TensorInfo;
    let big = a, small = b, swapped = false;
    if (sizeOf(a.shape) !== n) [big, small, swapped] = [b, a, true];
    const y = alloc(args.backend, n);
    if (sizeOf(big.shape) === n && trailingBroadcast(outShape, small.shape)) {
      native().binary(BIN[name], vals(args.backend, big), vals(args.backend, small), y, swapped);
    } else {
      // General broadcasting: walk the output, reading each input through strides that are 0 on broadcast axes.
      const bcast = (t: TensorInfo) => {
        const shape = [...Array(outShape.length - t.shape.length).fill(1), ...t.shape];
        const st = stridesOf(shape);
        return Int32Array.from(shape.map((d, i) => (d === 1 ? 0 : st[i])));
      };
      native().binaryStrided(BIN[name], vals(args.backend, a), vals(args.backend, b), y, Int32Array.from(outShape), bcast(a), bcast(b));
    }
    return out(args.backend, outShape, y);
  };
}

function unaryImpl(name: keyof typeof UN) {
  return (args: KernelArgs): TensorInfo => {
    const { x } = args.inputs as { x: TensorInfo };
    if (!isF32(args.backend, x)) return cpu(name, args) as TensorInfo;
    const alpha = name === "Step" ? Number((args.attrs ?? {}).alpha ?? 0) : 0;
    const y = alloc(args.backend, sizeOf(x.shape));
    native().unary(UN[name], vals(args.backend, x), y, alpha);
    return out(args.backend, [...x.shape], y);
  };
}

function reluGrad(args: KernelArgs): TensorInfo {
  const { dy, x } = args.inputs as { dy: TensorInfo; x: TensorInfo };
  const y = alloc(args.backend, sizeOf(x.shape));
  native().reluGrad(vals(args.backend, dy), vals(args.backend, x), y);
  return out(args.backend, [...x.shape], y);
}

function addN(args: KernelArgs): TensorInfo {
  const ts = args.inputs as unknown as TensorInfo[];
  if (ts.length === 0 || !isF32(args.backend, ...ts) || ts.some((t) => !tf.util.arraysEqual(t.shape, ts[0].shape))) return cpu("AddN", args) as TensorInfo;
  const y = alloc(args.backend, sizeOf(ts[0].shape));
  native().addN(ts.map((t) => vals(args.backend, t)), y);
  return out(args.backend, [...ts[0].shape], y);
}

// ---------------------------------------------------------------------------------------------------------------
// Reductions over a contiguous block of axes

const RED = { Sum: 0, Mean: 1, Max: 2, Min: 3 } as const;

function reduceImpl(name: keyof typeof RED) {
  return (args: KernelArgs): TensorInfo => {
    const { x } = args.inputs as { x: TensorInfo };
    const a = (args.attrs ?? {}) as { axis?: number | number[]; reductionIndices?: number | number[]; keepDims?: boolean };
    const axis = name === "Max" ? a.reductionIndices : a.axis;
    const keepDims = a.keepDims;
    if (!isF32(args.backend, x) || x.shape.length === 0) return cpu(name, args) as TensorInfo;
    const axes = tf.util.parseAxisParam(axis ?? [...Array(x.shape.length).keys()], x.shape).slice().sort((p, q) => p - q);
    if (axes.length === 0 || axes.some((v, i) => i > 0 && v !== axes[i - 1] + 1)) return cpu(name, args) as TensorInfo;
    const first = axes[0], last = axes[axes.length - 1];
    const outer = sizeOf(x.shape.slice(0, first)), red = sizeOf(x.shape.slice(first, last + 1)), inner = sizeOf(x.shape.slice(last + 1));
    if (red === 0) return cpu(name, args) as TensorInfo;
    const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const y = alloc(args.backend, outer * inner);
    native().reduce(RED[name], vals(args.backend, x), y, outer, red, inner);
    return out(args.backend, outShape, y);
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Strided copies: Slice, PadV2, Concat, Transpose

function stridesOf(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

const copyable = (backend: unknown, t: TensorInfo) => {
  const v = anyVals(backend, t);
  return (t.dtype === "float32" && v instanceof Float32Array) || (t.dtype === "int32" && v instanceof Int32Array);
};
const newLike = (backend: unknown, dtype: tf.DataType, n: number): F32 | Int32Array => (dtype === "int32" ? new Int32Array(n) : alloc(backend, n));

function copyInto(src: F32 | Int32Array, srcShape: number[], srcStrides: number[], srcOffset: number, dst: F32 | Int32Array, dstStrides: number[], dstOffset: number): void {
  if (srcShape.length === 0) {
    dst[dstOffset] = src[srcOffset];
    return;
  }
  native().copyND(src, dst, Int32Array.from(srcShape), Int32Array.from(srcStrides), srcOffset, Int32Array.from(dstStrides), dstOffset);
}

function slice(args: KernelArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const { begin, size } = args.attrs as { begin: number | number[]; size?: number | number[] };
  if (!copyable(args.backend, x) || x.shape.length === 0) return cpu("Slice", args) as TensorInfo;
  const [b, s] = tf.slice_util.parseSliceParams(x, begin, size);
  tf.slice_util.assertParamsValid(x, b, s);
  // Contiguous slices are views in the cpu backend (no copy): keep them.
  if (sizeOf(s) === 0 || tf.slice_util.isSliceContinous(x.shape, b, s)) return cpu("Slice", args) as TensorInfo;
  const xs = stridesOf(x.shape);
  const y = newLike(args.backend, x.dtype, sizeOf(s));
  copyInto(anyVals(args.backend, x), s, xs, b.reduce((acc, bi, i) => acc + bi * xs[i], 0), y, stridesOf(s), 0);
  return out(args.backend, s, y, x.dtype);
}

function padV2(args: KernelArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const { paddings, constantValue } = args.attrs as { paddings: [number, number][]; constantValue: number };
  if (!isF32(args.backend, x) || x.shape.length === 0) return cpu("PadV2", args) as TensorInfo;
  const outShape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
  const y = alloc(args.backend, sizeOf(outShape));
  native().fill(y, constantValue);
  const os = stridesOf(outShape);
  if (sizeOf(x.shape) > 0) copyInto(vals(args.backend, x), x.shape, stridesOf(x.shape), 0, y, os, paddings.reduce((acc, p, i) => acc + p[0] * os[i], 0));
  return out(args.backend, outShape, y);
}

function concat(args: KernelArgs): TensorInfo {
  const ts = (args.inputs as unknown as TensorInfo[]).filter((t) => sizeOf(t.shape) > 0);
  const all = args.inputs as unknown as TensorInfo[];
  if (ts.length < 2 || !ts.every((t) => copyable(args.backend, t) && t.dtype === ts[0].dtype)) return cpu("Concat", args) as TensorInfo;
  const axis = tf.util.parseAxisParam((args.attrs as { axis: number }).axis, all[0].shape)[0];
  const outShape = tf.backend_util.computeOutShape(all.map((t) => t.shape), axis);
  const y = newLike(args.backend, ts[0].dtype, sizeOf(outShape));
  const os = stridesOf(outShape);
  let at = 0;
  for (const t of ts) {
    copyInto(anyVals(args.backend, t), t.shape, stridesOf(t.shape), 0, y, os, at * os[axis]);
    at += t.shape[axis];
  }
  return out(args.backend, outShape, y, ts[0].dtype);
}

/** SplitV: the gradient of Concat (DenseNet has one per layer); the cpu backend's goes element by element. */
function splitV(args: KernelArgs): TensorInfo[] {
  const { x } = args.inputs as { x: TensorInfo };
  const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
  const cpuSplit = () => cpu("SplitV", args) as TensorInfo[];
  if (!copyable(args.backend, x) || x.shape.length === 0) return cpuSplit();
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  // Parts along a leading axis are contiguous: the cpu backend makes them views (no copy).
  if (x.shape.slice(0, ax).every((d) => d === 1)) return cpuSplit();
  const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
  const xs = stridesOf(x.shape);
  const src = anyVals(args.backend, x);
  const res: TensorInfo[] = [];
  let at = 0;
  for (const n of sizes) {
    const shape = x.shape.slice();
    shape[ax] = n;
    const y = newLike(args.backend, x.dtype, sizeOf(shape));
    if (n > 0) copyInto(src, shape, xs, at * xs[ax], y, stridesOf(shape), 0);
    res.push(out(args.backend, shape, y, x.dtype));
    at += n;
  }
  return res;
}

function transpose(args: KernelArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const { perm } = args.attrs as { perm: number[] };
  if (!copyable(args.backend, x) || x.shape.length < 2) return cpu("Transpose", args) as TensorInfo;
  const outShape = perm.map((p) => x.shape[p]);
  const xs = stridesOf(x.shape);
  const y = newLike(args.backend, x.dtype, sizeOf(outShape));
  // Walk the output in order; read x through permuted strides.
  copyInto(anyVals(args.backend, x), outShape, perm.map((p) => xs[p]), 0, y, stridesOf(outShape), 0);
  return out(args.backend, outShape, y, x.dtype);
}

// ---------------------------------------------------------------------------------------------------------------
// SGD

/** LabSgdStep(w, g, buf?; lr, momentum, weightDecay, dampening, nesterov) -> [w'] or [w', buf'] when momentum > 0. */
function sgdStep(args: KernelArgs): TensorInfo[] {
  const { w, g, buf } = args.inputs as Record<string, TensorInfo | undefined>;
  const a = args.attrs as { lr: number; momentum: number; weightDecay: number; dampening: number; nesterov: boolean };
  const n = sizeOf(w!.shape);
  const w2 = alloc(args.backend, n);
  const b2 = a.momentum ? alloc(args.backend, n) : null;
  native().sgdStep(vals(args.backend, w!), vals(args.backend, g!), buf ? vals(args.backend, buf) : null, w2, b2, a.lr, a.momentum, a.weightDecay, a.dampening, a.nesterov);
  const res = [out(args.backend, [...w!.shape], w2)];
  if (b2) res.push(out(args.backend, [...w!.shape], b2));
  return res;
}

// ---------------------------------------------------------------------------------------------------------------

const KERNELS: Record<string, KernelFn> = {
  Conv2D: (a) => conv2dImpl(a, "Conv2D"),
  FusedConv2D: (a) => conv2dImpl(a, "FusedConv2D"),
  Conv2DBackpropInput: conv2dBackpropInput,
  Conv2DBackpropFilter: conv2dBackpropFilter,
  BatchMatMul: (a) => matmulImpl(a, "BatchMatMul"),
  _FusedMatMul: (a) => matmulImpl(a, "_FusedMatMul"),
  MaxPool: (a) => poolImpl(a, "MaxPool"),
  AvgPool: (a) => poolImpl(a, "AvgPool"),
  MaxPoolGrad: maxPoolGrad,
  AvgPoolGrad: avgPoolGrad,
  FusedBatchNorm: fusedBatchNorm,
  [BN_GRAD_KERNEL]: fusedBatchNormGradParts as unknown as KernelFn,
  [BN_TRAIN_KERNEL]: batchNormTrain as unknown as KernelFn,
  [BN_TRAIN_GRAD_KERNEL]: batchNormTrainGrad as unknown as KernelFn,
  ...Object.fromEntries((Object.keys(BIN) as (keyof typeof BIN)[]).map((k) => [k, binaryImpl(k)])),
  ...Object.fromEntries((Object.keys(UN) as (keyof typeof UN)[]).map((k) => [k, unaryImpl(k)])),
  [RELU_GRAD_KERNEL]: reluGrad,
  AddN: addN,
  ...Object.fromEntries((Object.keys(RED) as (keyof typeof RED)[]).map((k) => [k, reduceImpl(k)])),
  Slice: slice,
  PadV2: padV2,
  Concat: concat,
  SplitV: splitV as unknown as KernelFn,
  Transpose: transpose,
  [SGD_STEP_KERNEL]: sgdStep as unknown as KernelFn,
};

/** Kernel names the onednn backend runs natively (others are the cpu backend's). */
export const ONEDNN_KERNELS = Object.keys(KERNELS);

/**
 * The cpu backend plus a pool of output buffers. Allocating a fresh Float32Array for every activation makes V8 run a
 * full GC every few milliseconds ("external memory pressure"), which cost about a third of a training step. Buffers
 * that our kernels allocate are recycled when their tensor is disposed, unless they escaped: read by the user
 * (dataSync/data return the backend's own array), or aliased by another tensor (a cpu kernel's subarray view).
 *
 * The pool keeps freed buffers by length, up to a cap (`poolCapBytes`: LAB_ONEDNN_POOL_MB, default a quarter of
 * the machine's memory, at least 1 GiB and at most 8 GiB). It must hold a whole training step's activations: a
 * DenseNet step at batch 64 frees about 1.5 GB, and with a 1 GiB cap every step page-faulted its buffers afresh
 * (3.3 s/step instead of 1.2 s for densenet_cifar). When a freed buffer would exceed the cap, the sizes used least
 * recently are dropped first, so a new model or batch size replaces the old one's buffers instead of being
 * refused.
 */
/** The buffer pool's cap in bytes: LAB_ONEDNN_POOL_MB, else a quarter of the memory, within [1 GiB, 8 GiB]. */
export function poolCapBytes(env: NodeJS.ProcessEnv = process.env, totalMem = os.totalmem()): number {
  const raw = env.LAB_ONEDNN_POOL_MB;
  if (raw !== undefined && raw.trim() !== "") {
    const mb = Number(raw);
    if (!Number.isFinite(mb) || mb < 0) throw new Error(`LAB_ONEDNN_POOL_MB must be a number of MiB ≥ 0, got "${raw}"`);
    return Math.floor(mb * 2 ** 20);
  }
  return Math.min(8 * 2 ** 30, Math.max(2 ** 30, Math.floor(totalMem / 4)));
}

class OneDnnBackend extends MathBackendCPU {
  private pool = new Map<number, F32[]>();
  private pooledBytes = 0;
  private maxPooledBytes = poolCapBytes();
  /** Buffers we allocated and may recycle, by their ArrayBuffer; registered: held by a tensor. */
  private owned = new WeakMap<ArrayBufferLike, F32>();
  private registered = new WeakSet<ArrayBufferLike>();

  constructor() {
    super();
    // The cpu backend's first write prints "install our node backend" in Node: wrong advice here (this is the
    // native backend, and tfjs-node cannot install offline).
    (this as unknown as { firstUse: boolean }).firstUse = false;
  }

  alloc(n: number): F32 {
    const free = this.pool.get(n);
    let arr = free?.pop();
    if (arr) {
      this.pooledBytes -= arr.byteLength;
      // Most recently used sizes go to the end of the map's order; eviction starts at the front.
      this.pool.delete(n);
      this.pool.set(n, free!);
    } else arr = new Float32Array(n);
    this.owned.set(arr.buffer, arr);
    return arr;
  }

  private escape(values: unknown): void {
    if (ArrayBuffer.isView(values)) this.owned.delete(values.buffer);
  }

  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): DataId {
    this.track(values);
    return super.write(values, shape, dtype);
  }

  override move(dataId: DataId, values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    this.track(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  /** A second holder of an owned buffer (a view, or the same array twice) makes it unrecyclable. */
  private track(values: unknown): void {
    if (!ArrayBuffer.isView(values)) return;
    const own = this.owned.get(values.buffer);
    if (!own) return;
    if (own !== values || this.registered.has(values.buffer)) this.owned.delete(values.buffer);
    else this.registered.add(values.buffer);
  }

  override readSync(dataId: DataId): tf.backend_util.BackendValues {
    const v = super.readSync(dataId);
    this.escape(v);
    return v;
  }

  override async read(dataId: DataId): Promise<tf.backend_util.BackendValues> {
    const v = await super.read(dataId);
    this.escape(v);
    return v;
  }

  override disposeData(dataId: DataId, force?: boolean): boolean {
    const entry = (this as unknown as CpuLike).data.get(dataId) as { values?: unknown } | undefined;
    const values = entry?.values;
    const had = entry != null;
    const gone = super.disposeData(dataId, force);
    if (had && gone && values instanceof Float32Array && this.owned.get(values.buffer) === values) {
      this.owned.delete(values.buffer);
      this.registered.delete(values.buffer);
      if (values.byteLength <= this.maxPooledBytes) {
        this.evictFor(values.byteLength, values.length);
        let free = this.pool.get(values.length);
        if (!free) this.pool.set(values.length, (free = []));
        free.push(values);
        this.pooledBytes += values.byteLength;
      }
    }
    return gone;
  }

  /** Drops the buffers of the least recently used sizes (never `keep`'s) until `bytes` more fit under the cap. */
  private evictFor(bytes: number, keep: number): void {
    for (const [n, free] of this.pool) {
      if (this.pooledBytes + bytes <= this.maxPooledBytes) return;
      if (n === keep) continue;
      for (const a of free) this.pooledBytes -= a.byteLength;
      this.pool.delete(n);
    }
    const own = this.pool.get(keep);
    while (own && own.length && this.pooledBytes + bytes > this.maxPooledBytes) this.pooledBytes -= own.pop()!.byteLength;
  }

  /** Empties the buffer pool (tests, memory pressure). */
  releasePool(): void {
    this.pool.clear();
    this.pooledBytes = 0;
  }

  /** Sets the pool's cap (bytes), dropping the least recently used buffers beyond it. */
  setPoolCap(bytes: number): void {
    if (!Number.isFinite(bytes) || bytes < 0) throw new Error(`onednn pool cap must be a number of bytes ≥ 0, got ${bytes}`);
    this.maxPooledBytes = bytes;
    this.evictFor(0, -1);
  }

  /** The pooled lengths, least recently used first (tests). */
  poolSizes(): number[] {
    return [...this.pool].filter(([, free]) => free.length > 0).map(([n]) => n);
  }

  poolStats(): { buffers: number; bytes: number; capBytes: number } {
    let buffers = 0;
    for (const f of this.pool.values()) buffers += f.length;
    return { buffers, bytes: this.pooledBytes, capBytes: this.maxPooledBytes };
  }
}

/** A zero-free output buffer of n floats from the backend's pool (every kernel writes all of it). */
function alloc(backend: unknown, n: number): F32 {
  return backend instanceof OneDnnBackend ? backend.alloc(n) : new Float32Array(n);
}

let registered = false;

/** True when `kernel` is registered for the active backend (how models and optimizers pick fused paths). */
export function activeBackendHas(kernel: string): boolean {
  return tf.getKernel(kernel, tf.getBackend()) != null;
}

function installGradients(): void {
  // One-pass ReLU gradient where the active backend has it.
  const relu = tf.getGradient("Relu");
  if (relu && !(relu as { labPatched?: boolean }).labPatched) {
    const patched = {
      ...relu,
      labPatched: true,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
        if (!activeBackendHas(RELU_GRAD_KERNEL) || (dy as tf.Tensor).dtype !== "float32" || saved[0].dtype !== "float32") return relu.gradFunc(dy, saved, attrs);
        const [x] = saved;
        return { x: () => tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: dy as tf.Tensor, x }) as tf.Tensor };
      },
    };
    tf.registerGradient(patched as tf.GradConfig);
  }
  if (!tf.getGradient(BN_TRAIN_KERNEL)) {
    tf.registerGradient({
      kernelName: BN_TRAIN_KERNEL,
      inputsToSave: ["x", "scale", "offset"],
      outputsToSave: [false, true, true],
      gradFunc: (dys, saved, attrs) => {
        const [dy, dMean, dVariance] = dys as tf.Tensor[];
        const [x, scale, , mean, variance] = saved;
        // Computed eagerly: the tape calls each returned function in its own tidy.
        const res = tf.engine().runKernel(BN_TRAIN_GRAD_KERNEL, { dy, x, scale, mean, variance, dMean, dVariance }, attrs as tf.NamedAttrMap) as unknown as tf.Tensor[];
        return { x: () => res[0], scale: () => res[1], offset: () => res[2] };
      },
    });
  }
  installBatchNormGradient();
}

/**
 * Registers the `onednn` backend and its kernels (idempotent). Throws, with the reason and the command that fixes
 * it, when the addon is not built or cannot load. Does not make it the active backend.
 */
export function registerOneDnnBackend(): void {
  if (registered) return;
  const loaded = loadOneDnnAddon();
  if ("error" in loaded) throw new Error(loaded.error);
  const cpuConfigs = tf.getKernelsForBackend("cpu");
  if (cpuConfigs.length === 0) throw new Error("onednn: the tfjs cpu backend registered no kernels");
  for (const k of cpuConfigs) cpuKernels.set(k.kernelName, k.kernelFunc as unknown as KernelFn);
  tf.registerBackend(BACKEND_NAME, () => new OneDnnBackend(), 1);
  for (const k of cpuConfigs) {
    if (!KERNELS[k.kernelName]) tf.registerKernel({ ...k, backendName: BACKEND_NAME });
  }
  for (const [kernelName, kernelFunc] of Object.entries(KERNELS)) {
    tf.registerKernel({ kernelName, backendName: BACKEND_NAME, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
  installGradients();
  registered = true;
}
