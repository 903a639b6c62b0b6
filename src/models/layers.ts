/**
 * Building pieces shared by every model family: PyTorch-style initialisation,
 * conv + batch-norm helpers, activations by name and the classifier head.
 * Layer names follow PyTorch state_dict keys (e.g. "layer1.0.conv1") so that
 * checkpoints map one to one.
 */
import * as tf from "@tensorflow/tfjs";
import { BN_TRAIN_KERNEL, activeBackendHas } from "../backend/onednn";

export type SymbolicTensor = tf.SymbolicTensor;

/** Activations the knobs accept. */
export const ACTIVATIONS = ["relu", "leaky_relu", "elu", "gelu", "silu"] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

export function checkActivation(name: string): ActivationName {
  if (!(ACTIVATIONS as readonly string[]).includes(name)) {
    throw new Error(`unknown activation "${name}"; valid: ${ACTIVATIONS.join(", ")}`);
  }
  return name as ActivationName;
}

let initSeed: number | undefined;
let initCount = 0;

/**
 * Run `build` with seeded weight initialisation: every layer created inside gets its own seed derived from
 * `seed`, so the same seed builds bit-identical weights. `undefined` leaves initialisation unseeded.
 */
export function withInitSeed<T>(seed: number | undefined, build: () => T): T {
  const saved = [initSeed, initCount] as const;
  initSeed = seed;
  initCount = 0;
  try {
    return build();
  } finally {
    [initSeed, initCount] = saved;
  }
}

/** The next per-layer seed inside withInitSeed (undefined outside it). */
export function nextSeed(): number | undefined {
  return initSeed === undefined ? undefined : (initSeed * 100_003 + ++initCount) % 2_147_483_647;
}

/** PyTorch's default for conv and linear weights: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function torchInit() {
  return tf.initializers.varianceScaling({ scale: 1 / 3, mode: "fanIn", distribution: "uniform", seed: nextSeed() });
}

export function activation(x: SymbolicTensor, name: string, layerName: string): SymbolicTensor {
  const act = checkActivation(name);
  switch (act) {
    case "relu":
      return tf.layers.reLU({ name: layerName }).apply(x) as SymbolicTensor;
    case "leaky_relu":
      // PyTorch's default negative slope.
      return tf.layers.leakyReLU({ alpha: 0.01, name: layerName }).apply(x) as SymbolicTensor;
    case "elu":
      return tf.layers.elu({ alpha: 1, name: layerName }).apply(x) as SymbolicTensor;
    case "gelu":
      return tf.layers.activation({ activation: "gelu", name: layerName }).apply(x) as SymbolicTensor;
    case "silu":
      return tf.layers.activation({ activation: "swish", name: layerName }).apply(x) as SymbolicTensor;
  }
}

export interface ConvOptions {
  filters: number;
  kernelSize: number;
  strides?: number;
  /** PyTorch padding: 1 for 3×3 "same", 0 for 1×1. */
  padding?: number;
  useBias?: boolean;
  name: string;
}

/** A PyTorch-style conv (explicit symmetric zero padding, no bias by default). */
export function conv(x: SymbolicTensor, o: ConvOptions): SymbolicTensor {
  const strides = o.strides ?? 1;
  const pad = o.padding ?? (o.kernelSize - 1) / 2;
  let input = x;
  // With stride 1, or stride 2 on even inputs with k=3,p=1 / k=1,p=0, TF "same" padding equals
  // PyTorch's symmetric padding only when the padding split is symmetric. For stride 2, TF pads
  // the bottom/right only, which differs from PyTorch; pad explicitly then use "valid".
  if (pad > 0 && strides !== 1) {
    input = tf.layers.zeroPadding2d({ padding: pad, name: `${o.name}.pad` }).apply(x) as SymbolicTensor;
  }
  return tf.layers
    .conv2d({
      filters: o.filters,
      kernelSize: o.kernelSize,
      strides,
      padding: pad > 0 && strides === 1 ? "same" : "valid",
      useBias: o.useBias ?? false,
      kernelInitializer: torchInit(),
      biasInitializer: "zeros",
      name: o.name,
    })
    .apply(input) as SymbolicTensor;
}

/** BatchNorm with PyTorch's epsilon (1e-5) and momentum (0.1, i.e. tfjs momentum 0.9). */
type BatchNormArgs = Parameters<typeof tf.layers.batchNormalization>[0];
type Kwargs = { [key: string]: unknown };
interface BatchNormFusedInternals {
  axis: number;
  epsilon: number;
  gamma: { read(): tf.Tensor } | null;
  beta: { read(): tf.Tensor } | null;
  movingMean: { read(): tf.Tensor; write(t: tf.Tensor): void };
}
interface BatchNormInternals {
  momentum: number;
  movingVariance: { read(): tf.Tensor; write(t: tf.Tensor): void };
}
// tfjs-layers does not export its BatchNormalization class from @tensorflow/tfjs; take it from an instance.
const BatchNormalization = Object.getPrototypeOf(tf.layers.batchNormalization({})).constructor as new (args?: BatchNormArgs) => tf.layers.Layer;

/**
 * BatchNormalization whose running variance follows PyTorch: tfjs-layers averages the biased batch variance,
 * PyTorch the unbiased one (× n/(n−1), n = values per channel). After tfjs's update
 * new = m·old + (1−m)·v, this adds (new − m·old)/(n−1), giving m·old + (1−m)·v·n/(n−1).
 */
export class TorchBatchNorm extends BatchNormalization {
  static className = "TorchBatchNorm";

  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    if (kwargs?.training !== true) return super.call(inputs, kwargs);
    const self = this as unknown as BatchNormInternals;
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const n = x.size / (x.shape[x.shape.length - 1] as number);
    if (this.fusedTrainingPossible(x)) return this.fusedTraining(x, n);
    const old = tf.clone(self.movingVariance.read());
    const out = super.call(inputs, kwargs);
    if (n > 1) {
      tf.tidy(() => {
        const updated = self.movingVariance.read();
        self.movingVariance.write(tf.add(updated, tf.div(tf.sub(updated, tf.mul(old, self.momentum)), n - 1)));
      });
    }
    old.dispose();
    return out;
  }

  private fusedTrainingPossible(x: tf.Tensor): boolean {
    const self = this as unknown as BatchNormFusedInternals;
    const axis = self.axis < 0 ? self.axis + x.rank : self.axis;
    return axis === x.rank - 1 && x.dtype === "float32" && self.gamma != null && self.beta != null && activeBackendHas(BN_TRAIN_KERNEL);
  }

  /**
   * Training mode on backends with the fused kernel (onednn): batch statistics, normalisation and, on the way back,
   * the whole gradient in one pass each, with the same moving-average updates as above.
   */
  private fusedTraining(x: tf.Tensor, n: number): tf.Tensor {
    const self = this as unknown as BatchNormFusedInternals & BatchNormInternals;
    return tf.tidy(() => {
      const [y, mean, variance] = tf.engine().runKernel(
        BN_TRAIN_KERNEL, { x, scale: self.gamma!.read(), offset: self.beta!.read() }, { epsilon: self.epsilon },
      ) as unknown as tf.Tensor[];
      const decay = 1 - self.momentum;
      const unbiased = n > 1 ? tf.mul(variance, n / (n - 1)) : variance;
      for (const [v, value] of [[self.movingMean, mean], [self.movingVariance, unbiased]] as const) {
        const orig = v.read();
        v.write(tf.sub(orig, tf.mul(tf.sub(orig, value), decay)));
      }
      return y;
    });
  }
}
tf.serialization.registerClass(TorchBatchNorm as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

/** BatchNorm with PyTorch's epsilon (1e-5), momentum (0.1, i.e. tfjs momentum 0.9) and running-variance update. */
export function bn(x: SymbolicTensor, name: string): SymbolicTensor {
  return new TorchBatchNorm({ axis: -1, momentum: 0.9, epsilon: 1e-5, name }).apply(x) as SymbolicTensor;
}

export function add(a: SymbolicTensor, b: SymbolicTensor, name: string): SymbolicTensor {
  return tf.layers.add({ name }).apply([a, b]) as SymbolicTensor;
}

/**
 * Global average pooling (the "features" layer used for linear probes), optional
 * dropout, then the linear classifier named "linear" as in kuangliu's code.
 */
export function classifierHead(
  x: SymbolicTensor,
  numClasses: number,
  dropout: number,
  linearName = "linear",
): SymbolicTensor {
  let h = tf.layers.globalAveragePooling2d({ name: "features" }).apply(x) as SymbolicTensor;
  if (dropout > 0) h = dropoutLayer(dropout, "dropout").apply(h) as SymbolicTensor;
  return tf.layers
    .dense({ units: numClasses, kernelInitializer: torchInit(), biasInitializer: "zeros", name: linearName })
    .apply(h) as SymbolicTensor;
}

export function imageInput(): SymbolicTensor {
  return tf.input({ shape: [32, 32, 3], name: "image" });
}

/** PyTorch MaxPool2d(size, size): non-overlapping max pooling (floor mode, no padding). */
export function maxPool(x: SymbolicTensor, size: number, name: string): SymbolicTensor {
  return tf.layers.maxPooling2d({ poolSize: size, strides: size, padding: "valid", name }).apply(x) as SymbolicTensor;
}

/** PyTorch AvgPool2d / avg_pool2d(x, size): non-overlapping average pooling (floor mode, no padding). */
export function avgPool(x: SymbolicTensor, size: number, name: string): SymbolicTensor {
  return tf.layers.averagePooling2d({ poolSize: size, strides: size, padding: "valid", name }).apply(x) as SymbolicTensor;
}

/**
 * Dropout whose masks are seeded and differ from call to call, like torch.nn.Dropout under torch.manual_seed.
 * tfjs's Dropout layer with a `seed` draws the very same mask at every training step (the seed is reused as is),
 * which makes dropout a fixed random pruning. This layer draws training-mode call k's mask with the seed derived
 * from (seed, k); `calls` is the RNG state a training checkpoint saves and restores (`dropoutState`). Without a seed
 * the masks are unseeded. Inference mode is the identity and does not count.
 */
export class SeededDropout extends tf.layers.Layer {
  static className = "SeededDropout";
  readonly rate: number;
  readonly seed: number | undefined;
  calls = 0;

  constructor(args: { rate: number; seed?: number; name?: string }) {
    super(args);
    if (!(args.rate >= 0 && args.rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
    this.seed = args.seed;
    this.supportsMasking = true;
  }

  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (!kwargs.training || this.rate === 0) return tf.clone(x);
    const k = this.calls++;
    const seed = this.seed === undefined ? undefined : (this.seed * 1_000_003 + k * 7919 + 1) % 2_147_483_647;
    return tf.dropout(x, this.rate, undefined, seed);
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, ...(this.seed !== undefined ? { seed: this.seed } : {}) };
  }
}
tf.serialization.registerClass(SeededDropout as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

/** A seeded dropout layer (seed from withInitSeed). */
export function dropoutLayer(rate: number, name: string): SeededDropout {
  return new SeededDropout({ rate, name, seed: nextSeed() });
}

/** The dropout RNG state of `model`: the number of training-mode calls of each SeededDropout layer, by name. */
export function dropoutState(model: tf.LayersModel): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of model.layers) if (l instanceof SeededDropout) out[l.name] = l.calls;
  return out;
}

/** Restores dropoutState; throws naming the layers that do not match (missing here or in the state). */
export function setDropoutState(model: tf.LayersModel, state: Record<string, number>): void {
  const layers = model.layers.filter((l): l is SeededDropout => l instanceof SeededDropout);
  const names = new Set(layers.map((l) => l.name));
  const missing = Object.keys(state).filter((n) => !names.has(n));
  const absent = layers.filter((l) => !(l.name in state)).map((l) => l.name);
  if (missing.length || absent.length) {
    throw new Error(`dropout state does not fit the model: ${[...missing.map((n) => `${n} is not a dropout layer of the model`), ...absent.map((n) => `no state for dropout layer ${n}`)].join("; ")}`);
  }
  for (const l of layers) {
    const c = state[l.name];
    if (!Number.isInteger(c) || c < 0) throw new Error(`dropout state of ${l.name} must be an integer ≥ 0, got ${c}`);
    l.calls = c;
  }
}

/** Dropout with a seeded mask (inside withInitSeed); a rate of 0 returns `x` unchanged and adds no layer. */
export function maybeDropout(x: SymbolicTensor, rate: number, name: string): SymbolicTensor {
  if (!(rate > 0)) return x;
  return dropoutLayer(rate, name).apply(x) as SymbolicTensor;
}

/** torch.cat(parts, dim=1) for NCHW tensors: concatenation on the channel axis, in the order given. */
export function concatChannels(parts: SymbolicTensor[], name: string): SymbolicTensor {
  return tf.layers.concatenate({ axis: -1, name }).apply(parts) as SymbolicTensor;
}

/** Scale a channel count by a width multiplier (rounded, at least 1). */
export function scaleWidth(channels: number, multiplier = 1): number {
  return Math.max(1, Math.round(channels * multiplier));
}

/** A residual net's stage config must give as many widths as stages, at least one. */
export function checkStages(family: string, cfg: { blocks: number[]; widths: number[] }): void {
  if (cfg.blocks.length === 0 || cfg.blocks.length !== cfg.widths.length) {
    throw new Error(`${family}: blocks (${cfg.blocks.length} stages) and widths (${cfg.widths.length}) must be non-empty and of equal length`);
  }
}

/**
 * kuangliu's `_make_layer` for residual nets: stage k (named `layer{k}`) stacks `blocks[k]` blocks of
 * `widths[k]` planes; the first block of every stage after the first has stride 2. `expansion` is the ratio
 * of a block's output channels to its planes (4 for bottlenecks). `block` builds one block.
 */
export function residualStages(
  x: SymbolicTensor,
  cfg: { blocks: number[]; widths: number[] },
  expansion: number,
  block: (x: SymbolicTensor, b: { inPlanes: number; planes: number; stride: number; name: string }) => SymbolicTensor,
): SymbolicTensor {
  let inPlanes = cfg.widths[0];
  cfg.blocks.forEach((count, stage) => {
    for (let i = 0; i < count; i++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      x = block(x, { inPlanes, planes: cfg.widths[stage], stride, name: `layer${stage + 1}.${i}` });
      inPlanes = cfg.widths[stage] * expansion;
    }
  });
  return x;
}
