/**
 * Micro benchmark: one SGD-momentum training step of a ResNet20-style net (3 stages × 3 BasicBlocks,
 * widths 16/32/64, 4 classes) at batch 32 on 32×32×3 inputs, plus a per-kernel profile.
 *
 *   node --import tsx scripts/bench-step.ts [--steps 10] [--batch 32] [--mode ours|baseline] [--profile]
 *
 * --mode baseline runs the wasm package's own kernels plus a Conv2DBackpropFilter composed from wasm
 * kernels (per filter tap: pad + slice of x, then a transposed BatchMatMul with dy), i.e. the state before
 * src/backend/wasm-kernels.ts. LAB_BACKEND picks the backend as in initBackend.
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend, uninstallWasmTrainingKernels } from "../src/backend";

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const STEPS = Number(arg("steps", "10"));
const BATCH = Number(arg("batch", "32"));
const MODE = arg("mode", "ours");
const PROFILE = process.argv.includes("--profile");

function convBn(x: tf.SymbolicTensor, filters: number, k: number, stride: number, relu: boolean): tf.SymbolicTensor {
  let y = tf.layers
    .conv2d({ filters, kernelSize: k, strides: stride, padding: "same", useBias: false, kernelInitializer: "heNormal" })
    .apply(x) as tf.SymbolicTensor;
  y = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }).apply(y) as tf.SymbolicTensor;
  return relu ? (tf.layers.reLU().apply(y) as tf.SymbolicTensor) : y;
}

function basicBlock(x: tf.SymbolicTensor, inC: number, outC: number, stride: number): tf.SymbolicTensor {
  let y = convBn(x, outC, 3, stride, true);
  y = convBn(y, outC, 3, 1, false);
  const sc = stride !== 1 || inC !== outC ? convBn(x, outC, 1, stride, false) : x;
  return tf.layers.reLU().apply(tf.layers.add().apply([y, sc]) as tf.SymbolicTensor) as tf.SymbolicTensor;
}

/** ResNet20-style net, built here so that the benchmark does not depend on src/models. */
export function resnet20(numClasses = 4, widths = [16, 32, 64], blocks = [3, 3, 3]): tf.LayersModel {
  const input = tf.input({ shape: [32, 32, 3] });
  let x = convBn(input, widths[0], 3, 1, true);
  let inC = widths[0];
  blocks.forEach((n, s) => {
    for (let i = 0; i < n; i++) {
      x = basicBlock(x, inC, widths[s], s > 0 && i === 0 ? 2 : 1);
      inC = widths[s];
    }
  });
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: numClasses }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

/** The "before" Conv2DBackpropFilter: composed from stock wasm kernels, one transposed matmul per tap. */
function composedFilterKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as { disposeData(id: unknown): void };
  const call = (n: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap) =>
    tf.getKernel(n, "wasm")!.kernelFunc({ inputs, backend: backend as never, attrs }) as tf.TensorInfo;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = args.attrs!;
  const fs = a.filterShape as number[];
  const ci = tf.backend_util.computeConv2DInfo(x.shape as never, fs as never, a.strides as number, 1, a.pad as "same", undefined);
  const { top, bottom, left, right } = ci.padInfo;
  const xp = call("PadV2", { x }, { paddings: [[0, 0], [top, bottom + ci.strideHeight], [left, right + ci.strideWidth], [0, 0]], constantValue: 0 });
  const P = ci.batchSize * ci.outHeight * ci.outWidth;
  const dy2 = call("Reshape", { x: dy }, { shape: [1, P, ci.outChannels] });
  const taps: tf.TensorInfo[] = [];
  for (let ky = 0; ky < ci.filterHeight; ky++) {
    for (let kx = 0; kx < ci.filterWidth; kx++) {
      const s = call("StridedSlice", { x: xp }, {
        begin: [0, ky, kx, 0], end: [ci.batchSize, ky + ci.outHeight * ci.strideHeight, kx + ci.outWidth * ci.strideWidth, ci.inChannels],
        strides: [1, ci.strideHeight, ci.strideWidth, 1], beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
      });
      const s2 = call("Reshape", { x: s }, { shape: [1, P, ci.inChannels] });
      taps.push(call("BatchMatMul", { a: s2, b: dy2 }, { transposeA: true, transposeB: false }));
      backend.disposeData(s.dataId);
      backend.disposeData(s2.dataId);
    }
  }
  const packed = call("Concat", taps as never, { axis: 0 });
  const out = call("Reshape", { x: packed }, { shape: fs });
  for (const t of [xp, dy2, packed, ...taps]) backend.disposeData(t.dataId);
  return out;
}

async function main() {
  const name = await initBackend();
  if (MODE === "baseline") {
    if (name !== "wasm") throw new Error("--mode baseline needs the wasm backend");
    uninstallWasmTrainingKernels();
    tf.registerKernel({ kernelName: "Conv2DBackpropFilter", backendName: "wasm", kernelFunc: composedFilterKernel as unknown as tf.KernelFunc });
  }
  const model = resnet20();
  const params = model.countParams();
  const opt = tf.train.momentum(0.05, 0.9);
  const xs = tf.randomNormal([BATCH, 32, 32, 3]);
  const ys = tf.oneHot(tf.randomUniform([BATCH], 0, 4, "int32") as tf.Tensor1D, 4).toFloat();
  const step = () => {
    const loss = opt.minimize(() => {
      const logits = model.apply(xs, { training: true }) as tf.Tensor;
      return tf.losses.softmaxCrossEntropy(ys, logits).mean() as tf.Scalar;
    }, true) as tf.Scalar;
    const v = loss.dataSync()[0];
    loss.dispose();
    return v;
  };
  // warm-up (XNNPACK operator creation, optimizer slots)
  step();
  step();
  const heapBytes = () => ((tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length ?? 0) / 2 ** 20;
  const tensors0 = tf.memory().numTensors;
  const heap0 = heapBytes();
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let loss = 0;
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    loss = step();
    const c = process.cpuUsage(c0);
    cpuTimes.push((c.user + c.system) / 1000);
    times.push(performance.now() - t0);
  }
  const tensors1 = tf.memory().numTensors;
  const heap1 = heapBytes();
  times.sort((a, b) => a - b);
  cpuTimes.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)];
  const cpuMed = cpuTimes[Math.floor(cpuTimes.length / 2)];
  console.log(
    `backend=${name} mode=${MODE} params=${params} batch=${BATCH} steps=${STEPS} median ${med.toFixed(1)} ms/step ` +
      `min ${times[0].toFixed(1)} → ${((BATCH * 1000) / med).toFixed(1)} img/s (best ${((BATCH * 1000) / times[0]).toFixed(1)}); ` +
      `CPU time ${cpuMed.toFixed(1)} ms/step → ${((BATCH * 1000) / cpuMed).toFixed(1)} img/s per CPU-second; loss ${loss.toFixed(4)}; ` +
      `numTensors ${tensors0} → ${tensors1}` + (heap0 ? `; wasm heap ${heap0.toFixed(0)} → ${heap1.toFixed(0)} MiB` : ""),
  );
  if (PROFILE) {
    const prof = await tf.profile(() => {
      step();
    });
    const agg = new Map<string, { ms: number; n: number }>();
    let total = 0;
    for (const k of prof.kernels) {
      const ms = Number(k.kernelTimeMs) || 0;
      const e = agg.get(k.name) ?? { ms: 0, n: 0 };
      e.ms += ms;
      e.n++;
      agg.set(k.name, e);
      total += ms;
    }
    const rows = [...agg.entries()].sort((a, b) => b[1].ms - a[1].ms);
    console.log(`kernel profile (one step, sum of kernel times ${total.toFixed(1)} ms):`);
    for (const [k, e] of rows.slice(0, 25)) {
      console.log(`  ${k.padEnd(22)} ${e.ms.toFixed(1).padStart(8)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  ×${e.n}`);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
