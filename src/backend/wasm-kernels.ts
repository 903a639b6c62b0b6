/**
 * Training kernels for the tfjs `wasm` backend.
 *
 * tfjs-backend-wasm 4.22 runs conv nets forward well (XNNPACK) but trains them badly:
 *  - Conv2DBackpropFilter is missing (tf.grad of a conv throws),
 *  - Conv2DBackpropInput is a naive C++ loop (~1 GFLOP/s),
 *  - Tile is a naive element loop (~70 ms per 0.5M floats), and tfjs-core's FusedBatchNorm gradient tiles
 *    rsqrt(variance) to the activation shape in every BN layer,
 *  - Sum/Mean over leading axes (BN statistics, NHWC) transpose the whole tensor first,
 *  - Identity and same-dtype Cast copy the whole buffer.
 * Also missing on wasm but not needed by our conv nets: DepthwiseConv2dNativeBackpropFilter/Input (MobileNet
 * training), UnsortedSegmentSum (gather gradient), Complex/FFT, Einsum. Present and fine: AvgPoolGrad,
 * MaxPoolGrad, Relu/Step (relu gradient), Softmax, BatchMatMul, Transpose, PadV2, Slice.
 *
 * Registered here (all run directly on the WASM heap, delegating arithmetic to wasm's XNNPACK kernels):
 *  - Conv2DBackpropFilter: x split into stride phases and transposed to channel-major in JS, so that the
 *    transposed im2col matrix [K, Q] is built with one memmove per filter tap; then one BatchMatMul
 *    [K, Q] x [Q, Cout] (the only BatchMatMul layout that hits XNNPACK's fast path without transposes).
 *  - Conv2DBackpropInput: stride 1 -> a forward Conv2D of dy with the spatially flipped, in/out-swapped
 *    filter and explicit padding; stride > 1 -> BatchMatMul dy[P, Cout] x Wt[Cout, K] then col2im in JS.
 *  - Tile: block copies with copyWithin (doubling), any rank, numeric dtypes.
 *  - Sum, Mean: one pass with float64 accumulators when the reduced axes are the leading ones.
 *  - LabFusedBatchNormGrad + a FusedBatchNorm gradient that uses it on wasm (NHWC, per-channel stats): all
 *    five input gradients in one pass. Other backends/shapes keep tfjs-core's gradient.
 *  - A Mean gradient that Tiles the scaled dy on wasm (leading axes) instead of ones * dy / n.
 *  - Identity, same-dtype Cast: share the buffer by reference count (as the cpu backend does).
 *
 * Every kernel reads tensor memory through `backend.typedArrayFromHeap` *after* all allocations of the
 * call, since growing the WASM memory detaches older views. Temporaries are freed with disposeData.
 */
import * as tf from "@tensorflow/tfjs";

type TensorInfo = tf.TensorInfo;
type DataId = TensorInfo["dataId"];
type HeapArray = Float32Array | Int32Array | Uint8Array;

/** The slice of tfjs-backend-wasm's BackendWasm that these kernels use. */
export interface WasmBackendLike {
  incRef(dataId: DataId): void;
  typedArrayFromHeap(t: TensorInfo): HeapArray;
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  disposeData(dataId: DataId, force?: boolean): boolean;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type KernelFn = (args: KernelArgs) => TensorInfo | TensorInfo[];

/** The kernels this module registers on `wasm`, in registration order. */
export const WASM_TRAINING_KERNELS = [
  "Conv2DBackpropFilter",
  "Conv2DBackpropInput",
  "Tile",
  "Sum",
  "Mean",
  "LabFusedBatchNormGrad",
  "Identity",
  "Cast",
] as const;

const originals = new Map<string, KernelFn>();
const originalConfigs = new Map<string, tf.KernelConfig>();
let installed = false;

function wasmKernel(name: string): KernelFn {
  const orig = originals.get(name);
  if (orig) return orig;
  const k = tf.getKernel(name, "wasm");
  if (!k) throw new Error(`wasm backend has no ${name} kernel`);
  return k.kernelFunc as unknown as KernelFn;
}

function call(name: string, inputs: tf.NamedTensorInfoMap, backend: WasmBackendLike, attrs: tf.NamedAttrMap = {}): TensorInfo {
  return wasmKernel(name)({ inputs, backend, attrs }) as TensorInfo;
}

function f32(backend: WasmBackendLike, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

function convInfoOf(
  xShape: number[],
  filterShape: number[],
  attrs: tf.NamedAttrMap,
): tf.backend_util.Conv2DInfo {
  const dataFormat = (attrs.dataFormat as string | undefined) ?? "NHWC";
  if (dataFormat !== "NHWC" && dataFormat !== "channelsLast") {
    throw new Error(`wasm training kernels support NHWC only, got dataFormat ${dataFormat}`);
  }
  const dil = attrs.dilations as number | [number, number] | undefined;
  if (dil != null && (Array.isArray(dil) ? dil[0] !== 1 || dil[1] !== 1 : dil !== 1)) {
    throw new Error("wasm conv backprop kernels support dilation 1 only");
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as "valid" | "same" | number,
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
    false,
    "channelsLast",
  );
}

// ---------------------------------------------------------------------------------------------
// Conv2DBackpropFilter: dW[ky,kx,ci,co] = sum_p cols[p, (ky,kx,ci)] * dy[p, co]

/*
 * Phase layout. For stride s, split the (virtually zero-padded) input into s×s phases and transpose each to
 * channel-major: xq[ph][c][n][i][j] = x[n, i*s + py - padTop, j*s + px - padLeft, c] (0 outside x), with
 * ph = py*s + px, i < Hq = OH + floor((KH-1)/s), j < Wq = OW + floor((KW-1)/s). Filter tap (ky, kx) then
 * reads phase (ky mod s, kx mod s) at a constant flat offset off = floor(ky/s)*Wq + floor(kx/s) from the
 * output position q = (n*Hq + oy)*Wq + ox. So the im2col rows of one tap, for all channels, are ONE
 * contiguous block of the phase array (C*Qp floats starting at ph*C*Qp + off): a single memmove per tap.
 * Positions with oy >= OH or ox >= OW read neighbouring (finite) values, but they pair with zeros in the
 * likewise laid out dy, so they add nothing.
 */
function fillPhases(x: Float32Array, xq: Float32Array, ci: tf.backend_util.Conv2DInfo, Hq: number, Wq: number): void {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, strideHeight: SH, strideWidth: SW } = ci;
  const pt = ci.padInfo.top, pl = ci.padInfo.left;
  const Qp = N * Hq * Wq;
  // Reads x sequentially (channels innermost) and writes C sequential streams, one per channel row.
  for (let py = 0; py < SH; py++) {
    for (let px = 0; px < SW; px++) {
      const phBase = (py * SW + px) * C * Qp;
      // columns j with a real x column: j*SW + px - pl in [0, W)
      const j0 = Math.min(Wq, Math.max(0, Math.ceil((pl - px) / SW)));
      const j1 = Math.max(j0, Math.min(Wq, Math.ceil((W + pl - px) / SW))); // exclusive
      for (let n = 0; n < N; n++) {
        for (let i = 0; i < Hq; i++) {
          const q = phBase + (n * Hq + i) * Wq;
          const y = i * SH + py - pt;
          if (y < 0 || y >= H || j1 === j0) {
            for (let c = 0, r = q; c < C; c++, r += Qp) xq.fill(0, r, r + Wq);
            continue;
          }
          if (j0 > 0) for (let c = 0, r = q; c < C; c++, r += Qp) xq.fill(0, r, r + j0);
          if (j1 < Wq) for (let c = 0, r = q; c < C; c++, r += Qp) xq.fill(0, r + j1, r + Wq);
          let xi = (n * H * W + y * W + j0 * SW + px - pl) * C;
          const skip = (SW - 1) * C;
          for (let j = j0; j < j1; j++, xi += skip) {
            for (let c = 0, o = q + j; c < C; c++, o += Qp) xq[o] = x[xi++];
          }
        }
      }
    }
  }
}

function conv2DBackpropFilter(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs ?? {};
  const filterShape = attrs.filterShape as number[];
  const ci = convInfoOf(x.shape, filterShape, attrs);
  const { batchSize: N, outHeight: OH, outWidth: OW, inChannels: C, outChannels: CO } = ci;
  const { filterHeight: KH, filterWidth: KW, strideHeight: SH, strideWidth: SW } = ci;
  const K = KH * KW * C;
  const Hq = OH + Math.floor((KH - 1) / SH);
  const Wq = OW + Math.floor((KW - 1) / SW);
  const Qp = N * Hq * Wq;
  const nPh = SH * SW;
  const offMax = Math.floor((KH - 1) / SH) * Wq + Math.floor((KW - 1) / SW);
  const phSize = nPh * C * Qp;

  const xq = backend.makeOutput([phSize + offMax], "float32");
  const colsT = backend.makeOutput([1, K, Qp], "float32");
  const dyP = backend.makeOutput([1, Qp, CO], "float32");
  // Views only after the last allocation (allocation may grow and detach the heap).
  const xqa = f32(backend, xq);
  fillPhases(f32(backend, x), xqa, ci, Hq, Wq);
  xqa.fill(0, phSize);
  const dya = f32(backend, dy);
  const dyPa = f32(backend, dyP);
  if (Hq === OH && Wq === OW) {
    dyPa.set(dya);
  } else {
    dyPa.fill(0);
    const run = OW * CO;
    for (let n = 0; n < N; n++) {
      for (let oy = 0; oy < OH; oy++) {
        const src = (n * OH + oy) * run;
        dyPa.set(dya.subarray(src, src + run), ((n * Hq + oy) * Wq) * CO);
      }
    }
  }
  const heap = new Float32Array(xqa.buffer);
  const xq0 = xqa.byteOffset >> 2;
  const cols0 = f32(backend, colsT).byteOffset >> 2;
  const block = C * Qp;
  for (let ky = 0; ky < KH; ky++) {
    for (let kx = 0; kx < KW; kx++) {
      const ph = (ky % SH) * SW + (kx % SW);
      const off = Math.floor(ky / SH) * Wq + Math.floor(kx / SW);
      const src = xq0 + ph * block + off;
      heap.copyWithin(cols0 + (ky * KW + kx) * block, src, src + block);
    }
  }
  backend.disposeData(xq.dataId);
  const prod = call("BatchMatMul", { a: colsT, b: dyP }, backend, { transposeA: false, transposeB: false });
  backend.disposeData(colsT.dataId);
  backend.disposeData(dyP.dataId);
  const out = call("Reshape", { x: prod }, backend, { shape: filterShape });
  backend.disposeData(prod.dataId);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Conv2DBackpropInput

/** W[kh,kw,ci,co] -> W'[kh,kw,co,ci] with W'[ky,kx,o,i] = W[kh-1-ky, kw-1-kx, i, o]. */
function flipSwapFilter(w: Float32Array, out: Float32Array, KH: number, KW: number, C: number, CO: number): void {
  for (let ky = 0; ky < KH; ky++) {
    for (let kx = 0; kx < KW; kx++) {
      const src = ((KH - 1 - ky) * KW + (KW - 1 - kx)) * C * CO;
      const dst = (ky * KW + kx) * CO * C;
      for (let i = 0; i < C; i++) {
        const s = src + i * CO;
        for (let o = 0; o < CO; o++) out[dst + o * C + i] = w[s + o];
      }
    }
  }
}

/** W[kh,kw,ci,co] viewed as [K, co] -> Wt[co, K]. */
function transposeFilter(w: Float32Array, out: Float32Array, K: number, CO: number): void {
  for (let k = 0; k < K; k++) {
    const s = k * CO;
    for (let o = 0; o < CO; o++) out[o * K + k] = w[s + o];
  }
}

/** dx[n,iy,ix,c] += cols[p, (ky,kx,c)]; dx must be zeroed first. */
function col2im(cols: Float32Array, dx: Float32Array, ci: tf.backend_util.Conv2DInfo): void {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = ci;
  const { filterHeight: KH, filterWidth: KW, strideHeight: SH, strideWidth: SW } = ci;
  const pt = ci.padInfo.top, pl = ci.padInfo.left;
  const K = KH * KW * C;
  let p = 0;
  for (let n = 0; n < N; n++) {
    const xn = n * H * W * C;
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++, p++) {
        const cp = p * K;
        for (let ky = 0; ky < KH; ky++) {
          const iy = oy * SH - pt + ky;
          if (iy < 0 || iy >= H) continue;
          const xr = xn + iy * W * C;
          for (let kx = 0; kx < KW; kx++) {
            const ix = ox * SW - pl + kx;
            if (ix < 0 || ix >= W) continue;
            const xo = xr + ix * C;
            const co = cp + (ky * KW + kx) * C;
            for (let c = 0; c < C; c++) dx[xo + c] += cols[co + c];
          }
        }
      }
    }
  }
}

function conv2DBackpropInput(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs ?? {};
  const inputShape = attrs.inputShape as number[];
  const ci = convInfoOf(inputShape, filter.shape, attrs);
  const { filterHeight: KH, filterWidth: KW, inChannels: C, outChannels: CO } = ci;
  const { inHeight: H, inWidth: W, outHeight: OH, outWidth: OW, batchSize: N } = ci;

  if (ci.strideHeight === 1 && ci.strideWidth === 1) {
    // Full correlation of dy with the flipped filter: a forward conv on XNNPACK.
    const t = KH - 1 - ci.padInfo.top;
    const l = KW - 1 - ci.padInfo.left;
    const b = H - OH + KH - 1 - t;
    const r = W - OW + KW - 1 - l;
    if (t >= 0 && l >= 0 && b >= 0 && r >= 0) {
      const wf = backend.makeOutput([KH, KW, CO, C], "float32");
      flipSwapFilter(f32(backend, filter), f32(backend, wf), KH, KW, C, CO);
      const out = call("Conv2D", { x: dy, filter: wf }, backend, {
        strides: [1, 1],
        pad: [[0, 0], [t, b], [l, r], [0, 0]] as unknown as tf.NamedAttrMap[string],
        dataFormat: "NHWC",
        dilations: [1, 1],
        dimRoundingMode: null as unknown as string,
      });
      backend.disposeData(wf.dataId);
      return out;
    }
  }
  // General stride: cols[P, K] = dy[P, CO] x Wt[CO, K], then scatter-add (col2im).
  const K = KH * KW * C;
  const P = N * OH * OW;
  const wt = backend.makeOutput([1, CO, K], "float32");
  transposeFilter(f32(backend, filter), f32(backend, wt), K, CO);
  const dy3 = call("Reshape", { x: dy }, backend, { shape: [1, P, CO] });
  const cols = call("BatchMatMul", { a: dy3, b: wt }, backend, { transposeA: false, transposeB: false });
  backend.disposeData(dy3.dataId);
  backend.disposeData(wt.dataId);
  const dx = backend.makeOutput(inputShape, "float32");
  const dxa = f32(backend, dx);
  dxa.fill(0);
  col2im(f32(backend, cols), dxa, ci);
  backend.disposeData(cols.dataId);
  return dx;
}

// ---------------------------------------------------------------------------------------------
// Tile

/** Tiles `src` (shape) by `reps` into `out`, which must be sized prod(shape[i] * reps[i]). */
export function tileInto(src: ArrayLike<number> & { length: number }, out: HeapArray | Float32Array, shape: number[], reps: number[]): void {
  const rank = shape.length;
  const srcSize = shape.reduce((a, b) => a * b, 1);
  if (srcSize === 0) return;
  (out as Float32Array).set(src as Float32Array, 0);
  // Expand axis by axis, from the innermost: layout [outer, s_d * inner] -> [outer, r_d * s_d * inner].
  let inner = 1;
  for (let d = rank - 1; d >= 0; d--) {
    const block = shape[d] * inner;
    const r = reps[d];
    if (r !== 1) {
      let outer = 1;
      for (let i = 0; i < d; i++) outer *= shape[i];
      const wide = block * r;
      for (let j = outer - 1; j >= 0; j--) {
        const dst = j * wide;
        if (j > 0) out.copyWithin(dst, j * block, (j + 1) * block);
        // doubling copies: [dst, dst+block) -> fill to dst+wide
        let filled = block;
        while (filled < wide) {
          const n = Math.min(filled, wide - filled);
          out.copyWithin(dst + filled, dst, dst + n);
          filled += n;
        }
      }
    }
    inner *= shape[d] * r;
  }
}

function tile(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x } = args.inputs as { x: TensorInfo };
  const reps = (args.attrs ?? {}).reps as number[];
  if (x.dtype === "string" || x.dtype === "complex64") return call("Tile", args.inputs, backend, args.attrs ?? {});
  const outShape = x.shape.map((s, i) => s * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (outShape.reduce((a, b) => a * b, 1) === 0) return out;
  tileInto(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), x.shape, reps);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Sum / Mean over leading axes (e.g. [0,1,2] of NHWC): the wasm kernels transpose the reduced axes to the
// end first (a full copy); here one pass with float64 accumulators per output element.

function leadingAxesCount(x: TensorInfo, axisAttr: number | number[] | undefined): number {
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(axisAttr ?? [...Array(rank).keys()], x.shape).slice().sort((a, b) => a - b);
  for (let i = 0; i < axes.length; i++) if (axes[i] !== i) return -1;
  return axes.length;
}

function reduceLeading(args: KernelArgs, name: "Sum" | "Mean"): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x } = args.inputs as { x: TensorInfo };
  const attrs = args.attrs ?? {};
  const r = x.dtype === "float32" ? leadingAxesCount(x, attrs.axis as number | number[] | undefined) : -1;
  const rank = x.shape.length;
  if (r <= 0 || r >= rank) return call(name, args.inputs, backend, attrs);
  let outer = 1;
  for (let i = 0; i < r; i++) outer *= x.shape[i];
  const innerShape = x.shape.slice(r);
  const inner = innerShape.reduce((a, b) => a * b, 1);
  const outShape = attrs.keepDims ? [...x.shape.slice(0, r).map(() => 1), ...innerShape] : innerShape;
  const out = backend.makeOutput(outShape, "float32");
  const xa = f32(backend, x);
  const oa = f32(backend, out);
  const acc = new Float64Array(inner);
  // Four rows per iteration: ~3x faster in V8 than one (fewer accumulator round trips).
  let i = 0, o = 0;
  const in2 = 2 * inner, in3 = 3 * inner;
  for (; i + 4 <= outer; i += 4, o += 4 * inner) {
    for (let j = 0; j < inner; j++) acc[j] += xa[o + j] + xa[o + inner + j] + xa[o + in2 + j] + xa[o + in3 + j];
  }
  for (; i < outer; i++, o += inner) for (let j = 0; j < inner; j++) acc[j] += xa[o + j];
  const k = name === "Mean" ? 1 / outer : 1;
  for (let j = 0; j < inner; j++) oa[j] = acc[j] * k;
  return out;
}

// ---------------------------------------------------------------------------------------------
// FusedBatchNorm gradient. tfjs-core's gradient runs ~15 full-size ops per BN layer (sub, mul, a Tile of
// rsqrt(var) to the activation shape, and four Sums that each transpose). For NHWC float32 with per-channel
// statistics on wasm we compute all five input gradients in one pass over dy and x, as kernel
// "LabFusedBatchNormGrad"; elsewhere the stock gradient runs.

export const BN_GRAD_KERNEL = "LabFusedBatchNormGrad";

function fusedBatchNormGrad(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as WasmBackendLike;
  const { dy, x, mean, variance, scale } = args.inputs as Record<string, TensorInfo | undefined> as {
    dy: TensorInfo; x: TensorInfo; mean: TensorInfo; variance: TensorInfo; scale?: TensorInfo;
  };
  const eps = Number((args.attrs ?? {}).varianceEpsilon ?? 0.001);
  const C = mean.shape[0];
  const dx = backend.makeOutput(x.shape, "float32");
  const dMean = backend.makeOutput([C], "float32");
  const dVar = backend.makeOutput([C], "float32");
  const dScale = backend.makeOutput([C], "float32");
  const dOffset = backend.makeOutput([C], "float32");
  const xa = f32(backend, x), dya = f32(backend, dy), dxa = f32(backend, dx);
  const ma = f32(backend, mean), va = f32(backend, variance);
  const sa = scale ? f32(backend, scale) : null;
  const rstd = new Float64Array(C), k = new Float32Array(C), m = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    rstd[c] = 1 / Math.sqrt(va[c] + eps);
    k[c] = (sa ? sa[c] : 1) * rstd[c];
    m[c] = ma[c];
  }
  const s1 = new Float64Array(C), s2 = new Float64Array(C);
  const rows = xa.length / C;
  let r = 0, o = 0;
  for (; r + 4 <= rows; r += 4, o += 4 * C) {
    for (let c = 0; c < C; c++) {
      const o0 = o + c, o1 = o0 + C, o2 = o1 + C, o3 = o2 + C;
      const d0 = dya[o0], d1 = dya[o1], d2 = dya[o2], d3 = dya[o3];
      const mc = m[c], kc = k[c];
      s1[c] += d0 + d1 + d2 + d3;
      s2[c] += d0 * (xa[o0] - mc) + d1 * (xa[o1] - mc) + d2 * (xa[o2] - mc) + d3 * (xa[o3] - mc);
      dxa[o0] = d0 * kc;
      dxa[o1] = d1 * kc;
      dxa[o2] = d2 * kc;
      dxa[o3] = d3 * kc;
    }
  }
  for (; r < rows; r++) {
    for (let c = 0; c < C; c++, o++) {
      const d = dya[o];
      s1[c] += d;
      s2[c] += d * (xa[o] - m[c]);
      dxa[o] = d * k[c];
    }
  }
  const dm = f32(backend, dMean), dv = f32(backend, dVar), ds = f32(backend, dScale), dof = f32(backend, dOffset);
  for (let c = 0; c < C; c++) {
    const g = sa ? sa[c] : 1;
    dof[c] = s1[c];
    ds[c] = s2[c] * rstd[c];
    dm[c] = -rstd[c] * g * s1[c];
    dv[c] = -0.5 * rstd[c] * rstd[c] * rstd[c] * g * s2[c];
  }
  return [dx, dMean, dVar, dScale, dOffset];
}

let origBnGrad: tf.GradConfig | undefined;

/**
 * Replaces tfjs-core's FusedBatchNorm gradient with one that calls BN_GRAD_KERNEL when the active backend has it
 * (wasm with our kernels, onednn), NHWC float32 with per-channel statistics; the stock gradient otherwise.
 */
export function installBatchNormGradient(): void {
  if (origBnGrad) return;
  const orig = tf.getGradient("FusedBatchNorm");
  if (!orig) return;
  origBnGrad = orig;
  tf.registerGradient({
    ...orig,
    gradFunc: (dy, saved, attrs) => {
      const [x, mean, variance, scale] = saved;
      const dyT = dy as tf.Tensor;
      const fast =
        tf.getKernel(BN_GRAD_KERNEL, tf.getBackend()) != null && x.rank === 4 && mean.rank === 1 && variance.rank === 1 &&
        (scale == null || scale.rank === 1) && x.dtype === "float32" && dyT.dtype === "float32" &&
        mean.shape[0] === x.shape[3] && variance.shape[0] === x.shape[3];
      if (!fast) return orig.gradFunc(dy, saved, attrs);
      // Computed eagerly: the tape calls each returned function inside its own tidy, which would dispose
      // the sibling outputs of a lazily shared kernel call.
      const inputs: tf.NamedTensorMap = { dy: dyT, x, mean, variance };
      if (scale != null) inputs.scale = scale;
      const res = tf.engine().runKernel(BN_GRAD_KERNEL, inputs, attrs as tf.NamedAttrMap) as unknown as tf.Tensor[];
      const get = (i: number) => () => res[i];
      return { x: get(0), mean: get(1), variance: get(2), scale: get(3), offset: get(4) };
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Identity / same-dtype Cast: the wasm kernels copy the whole buffer; like the cpu backend (and wasm's own
// Reshape) we share it with a reference count instead. Kernels never write into their inputs.

function aliasOf(backend: WasmBackendLike, x: TensorInfo): TensorInfo {
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

function identity(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === "string") return call("Identity", args.inputs, backend, args.attrs ?? {});
  return aliasOf(backend, x);
}

function cast(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x } = args.inputs as { x: TensorInfo };
  const dtype = (args.attrs ?? {}).dtype;
  if (x.dtype === "string" || dtype !== x.dtype) return call("Cast", args.inputs, backend, args.attrs ?? {});
  return aliasOf(backend, x);
}

// ---------------------------------------------------------------------------------------------
// Mean gradient. tfjs-core broadcasts dy with Fill(ones) + Multiply + RealDiv (three full-size passes);
// BN's moments use Mean over the leading axes twice per layer. On wasm, for leading axes, scale the small dy
// and Tile it (block copies): one memcpy-speed pass.

let origMeanGrad: tf.GradConfig | undefined;

function installMeanGradient(): void {
  if (origMeanGrad) return;
  const orig = tf.getGradient("Mean");
  if (!orig) return;
  origMeanGrad = orig;
  tf.registerGradient({
    ...orig,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const dyT = dy as tf.Tensor;
      const rank = x.rank;
      const axes = tf.util.parseAxisParam((attrs as { axis?: number | number[] }).axis ?? [...Array(rank).keys()], x.shape).slice().sort((a, b) => a - b);
      const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
      if (tf.getBackend() !== "wasm" || !leading || x.dtype !== "float32" || dyT.dtype !== "float32") {
        return orig.gradFunc(dy, saved, attrs);
      }
      const reduceSize = axes.reduce((p, a) => p * x.shape[a], 1);
      const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const reps = x.shape.map((d, i) => (axes.includes(i) ? d : 1));
      return { x: () => tf.tidy(() => tf.tile(tf.reshape(tf.mul(dyT, 1 / reduceSize), expanded), reps)) };
    },
  });
}

// ---------------------------------------------------------------------------------------------

const KERNELS: Record<(typeof WASM_TRAINING_KERNELS)[number], KernelFn> = {
  Conv2DBackpropFilter: conv2DBackpropFilter as KernelFn,
  Conv2DBackpropInput: conv2DBackpropInput as KernelFn,
  Tile: tile as KernelFn,
  Sum: ((a: KernelArgs) => reduceLeading(a, "Sum")) as KernelFn,
  Mean: ((a: KernelArgs) => reduceLeading(a, "Mean")) as KernelFn,
  LabFusedBatchNormGrad: fusedBatchNormGrad as unknown as KernelFn,
  Identity: identity as KernelFn,
  Cast: cast as KernelFn,
};

/**
 * Registers the training kernels on the `wasm` backend (idempotent). Loads @tensorflow/tfjs-backend-wasm
 * first (throws if it cannot), so that its own kernels exist to delegate to and cannot later overwrite
 * ours. Returns the names.
 */
export function installWasmTrainingKernels(): string[] {
  if (installed) return [...WASM_TRAINING_KERNELS];
  // The package registers its kernels when loaded; loading it after us would overwrite ours.
  require("@tensorflow/tfjs-backend-wasm");
  for (const name of WASM_TRAINING_KERNELS) {
    const existing = tf.getKernel(name, "wasm");
    if (existing) {
      originals.set(name, existing.kernelFunc as unknown as KernelFn);
      originalConfigs.set(name, existing);
      tf.unregisterKernel(name, "wasm");
    }
    // Keep the original setupFunc: the backend runs it at initialisation, and we delegate to the original
    // kernel for dtypes we do not handle.
    tf.registerKernel({
      kernelName: name,
      backendName: "wasm",
      kernelFunc: KERNELS[name] as unknown as tf.KernelFunc,
      setupFunc: existing?.setupFunc,
    });
  }
  installBatchNormGradient();
  installMeanGradient();
  installed = true;
  return [...WASM_TRAINING_KERNELS];
}

/** Restores the wasm package's own kernels (for A/B measurements). */
export function uninstallWasmTrainingKernels(): void {
  if (!installed) return;
  for (const name of WASM_TRAINING_KERNELS) {
    tf.unregisterKernel(name, "wasm");
    const orig = originalConfigs.get(name);
    if (orig) tf.registerKernel(orig);
  }
  originals.clear();
  originalConfigs.clear();
  if (origBnGrad) tf.registerGradient(origBnGrad);
  if (origMeanGrad) tf.registerGradient(origMeanGrad);
  origBnGrad = undefined;
  origMeanGrad = undefined;
  installed = false;
}
