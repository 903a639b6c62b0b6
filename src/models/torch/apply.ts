/**
 * Copying a PyTorch state dict into a tfjs-layers model whose weighted layers are named like the
 * PyTorch module paths (kuangliu/pytorch-cifar). The mapping is generic by layer class:
 *   Conv2D  `<name>.weight` [out, in, kh, kw] → kernel [kh, kw, in, out]; `<name>.bias` → bias
 *   Dense   `<name>.weight` [out, in] → kernel [in, out]; `<name>.bias` → bias
 *           (after a Flatten of an H×W×C map, the input index is reordered from PyTorch's CHW to HWC)
 *   BatchNormalization `.weight` → gamma, `.bias` → beta, `.running_mean` → moving_mean,
 *           `.running_var` → moving_variance; `.num_batches_tracked` is ignored.
 */
import * as tf from "@tensorflow/tfjs";
import type { StateDict, TorchTensor } from "./load";

export interface ApplyReport {
  /** PyTorch keys the model needs but the state dict lacks. */
  missing: string[];
  /** State-dict keys that no model weight uses. */
  unexpected: string[];
  /** Keys present on both sides with different shapes (PyTorch layout). */
  mismatched: { key: string; expected: number[]; got: number[] }[];
}

export interface ApplyOptions {
  /** Throw on any missing, unexpected or wrongly shaped key (default true); otherwise load what matches. */
  strict?: boolean;
}

const IGNORED_SUFFIXES = [".num_batches_tracked"];

type Converter = (t: TorchTensor) => Float32Array;

interface Slot {
  key: string;
  /** The shape the PyTorch tensor must have. */
  torchShape: number[];
  convert: Converter;
}

function shapeEq(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** [out, in, kh, kw] → [kh, kw, in, out]. */
function convKernel(t: TorchTensor): Float32Array {
  const [O, I, KH, KW] = t.shape;
  const src = t.data;
  const dst = new Float32Array(src.length);
  for (let o = 0; o < O; o++)
    for (let i = 0; i < I; i++)
      for (let kh = 0; kh < KH; kh++)
        for (let kw = 0; kw < KW; kw++) dst[((kh * KW + kw) * I + i) * O + o] = src[((o * I + i) * KH + kh) * KW + kw];
  return dst;
}

/** [out, in] → [in, out]; with `chw` = [C, H, W], the in index goes from c·H·W + h·W + w to (h·W + w)·C + c. */
function denseKernel(chw?: [number, number, number]): Converter {
  return (t) => {
    const [O, I] = t.shape;
    const src = t.data;
    const dst = new Float32Array(src.length);
    for (let o = 0; o < O; o++) {
      for (let i = 0; i < I; i++) {
        let j = i;
        if (chw) {
          const [C, H, W] = chw;
          const c = Math.floor(i / (H * W));
          const hw = i % (H * W);
          j = hw * C + c;
        }
        dst[j * O + o] = src[o * I + i];
      }
    }
    return dst;
  };
}

const identity: Converter = (t) => t.data;

/** If `layer` (a Dense) is fed by a Flatten of a map larger than 1×1, the [C, H, W] of that map. */
function flattenedMap(layer: tf.layers.Layer): [number, number, number] | undefined {
  const inbound = layer.inboundNodes[0]?.inboundLayers ?? [];
  if (inbound.length !== 1 || inbound[0].getClassName() !== "Flatten") return undefined;
  const input = inbound[0].input;
  if (Array.isArray(input)) return undefined;
  const shape = input.shape;
  if (shape.length !== 4) return undefined;
  const [, H, W, C] = shape as number[];
  return H * W > 1 ? [C, H, W] : undefined;
}

/** The PyTorch slots of each weight of `layer`, in `layer.weights` order. */
function slotsOf(layer: tf.layers.Layer): Slot[] {
  const cls = layer.getClassName();
  return layer.weights.map((w) => {
    const role = w.originalName.slice(w.originalName.lastIndexOf("/") + 1);
    const shape = w.shape as number[];
    const where = `layer "${layer.name}" (${cls}) weight ${role}`;
    switch (cls) {
      case "Conv2D":
        if (role === "kernel") return { key: `${layer.name}.weight`, torchShape: [shape[3], shape[2], shape[0], shape[1]], convert: convKernel };
        if (role === "bias") return { key: `${layer.name}.bias`, torchShape: shape, convert: identity };
        break;
      case "Dense":
        if (role === "kernel") return { key: `${layer.name}.weight`, torchShape: [shape[1], shape[0]], convert: denseKernel(flattenedMap(layer)) };
        if (role === "bias") return { key: `${layer.name}.bias`, torchShape: shape, convert: identity };
        break;
      case "BatchNormalization":
      case "TorchBatchNorm": {
        const names: Record<string, string> = { gamma: "weight", beta: "bias", moving_mean: "running_mean", moving_variance: "running_var" };
        if (names[role]) return { key: `${layer.name}.${names[role]}`, torchShape: shape, convert: identity };
        break;
      }
    }
    throw new Error(`cannot map ${where} to a PyTorch state-dict key`);
  });
}

function fmt(shape: number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Copy `stateDict` into `model`. Returns the missing, unexpected and wrongly shaped keys; with `strict`
 * (the default) any of those throws, listing them all, and no weight is changed.
 */
export function applyStateDict(model: tf.LayersModel, stateDict: StateDict, opts: ApplyOptions = {}): ApplyReport {
  const strict = opts.strict ?? true;
  const report: ApplyReport = { missing: [], unexpected: [], mismatched: [] };
  const used = new Set<string>();
  const plan: { layer: tf.layers.Layer; slots: Slot[] }[] = [];
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const slots = slotsOf(layer);
    plan.push({ layer, slots });
    for (const s of slots) {
      used.add(s.key);
      const t = stateDict.get(s.key);
      if (!t) report.missing.push(s.key);
      else if (!shapeEq(t.shape, s.torchShape)) report.mismatched.push({ key: s.key, expected: s.torchShape, got: t.shape });
    }
  }
  for (const key of stateDict.keys()) {
    if (!used.has(key) && !IGNORED_SUFFIXES.some((suf) => key.endsWith(suf))) report.unexpected.push(key);
  }
  const bad = report.missing.length + report.unexpected.length + report.mismatched.length;
  if (strict && bad > 0) {
    const lines = [`state dict does not match model "${model.name}":`];
    if (report.missing.length) lines.push(`  missing keys (${report.missing.length}): ${report.missing.join(", ")}`);
    if (report.unexpected.length) lines.push(`  unexpected keys (${report.unexpected.length}): ${report.unexpected.join(", ")}`);
    for (const m of report.mismatched) lines.push(`  shape mismatch for ${m.key}: model expects ${fmt(m.expected)}, checkpoint has ${fmt(m.got)}`);
    throw new Error(lines.join("\n"));
  }
  const badKeys = new Set([...report.missing, ...report.mismatched.map((m) => m.key)]);
  for (const { layer, slots } of plan) {
    if (slots.some((s) => badKeys.has(s.key))) {
      // Partial layers are skipped whole (non-strict mode): a half-loaded BN is worse than none.
      continue;
    }
    const tensors = slots.map((s, i) => tf.tensor(s.convert(stateDict.get(s.key)!), layer.weights[i].shape as number[], "float32"));
    try {
      layer.setWeights(tensors);
    } finally {
      tf.dispose(tensors);
    }
  }
  return report;
}
