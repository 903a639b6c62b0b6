/**
 * Model registry: builds a tfjs-layers model from a plain ModelSpec, and
 * the named presets (kuangliu constructors plus small CIFAR-style variants).
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelSpec } from "../results/types";
import { checkActivation, dropoutLayer, scaleWidth, torchInit, withInitSeed } from "./layers";
import { ResNet, ResNet18, ResNet34, ResNet50, ResNet101 } from "./resnet";
import { PreActResNet, PreActResNet18, PreActResNet34, PreActResNet50, PreActResNet101, PreActResNet152 } from "./preact-resnet";
import { DenseNet, DenseNet121, DenseNet161, DenseNet169, DenseNet201, densenet_cifar } from "./densenet";
import { VGG, VGG11, VGG13, VGG16, VGG19, vggConfigFromStages } from "./vgg";

export { ResNet, ResNet18, ResNet34, ResNet50, ResNet101 } from "./resnet";
export { PreActResNet, PreActResNet18, PreActResNet34, PreActResNet50, PreActResNet101, PreActResNet152, preActBlock, preActBottleneck } from "./preact-resnet";
export { DenseNet, DenseNet121, DenseNet161, DenseNet169, DenseNet201, densenet_cifar } from "./densenet";
export { VGG, VGG11, VGG13, VGG16, VGG19, VGG_CONFIGS, vggConfigFromStages } from "./vgg";
export { modelSummary, forwardFlops, layerFlops, type ModelSummary, type LayerSummary } from "./summary";
export { ACTIVATIONS } from "./layers";
export { saveModel, loadModel } from "./checkpoint";

export const FAMILIES = ["resnet", "preact_resnet", "densenet", "vgg"] as const;
export type Family = (typeof FAMILIES)[number];

/** Every kuangliu-named constructor: name → (numClasses) => model with PyTorch's layer names and parameter count. */
export const CONSTRUCTORS: Record<string, (numClasses?: number) => tf.LayersModel> = {
  ResNet18, ResNet34, ResNet50, ResNet101,
  PreActResNet18, PreActResNet34, PreActResNet50, PreActResNet101, PreActResNet152,
  DenseNet121, DenseNet169, DenseNet201, DenseNet161, densenet_cifar,
  VGG11, VGG13, VGG16, VGG19,
};

/** The ModelSpec fields every family reads. */
const COMMON_KNOBS = ["family", "name", "blocks", "widths", "activation", "dropout", "numClasses", "widthMultiplier", "blockDropout"] as const;
/** Which knobs each family accepts (a spec field outside its family's list is an error). */
export const KNOBS: Record<Family, readonly string[]> = {
  resnet: [...COMMON_KNOBS, "block"],
  preact_resnet: [...COMMON_KNOBS, "block"],
  densenet: [...COMMON_KNOBS, "growth", "reduction"],
  vgg: [...COMMON_KNOBS, "config"],
};

type PresetSpec = Omit<ModelSpec, "numClasses">;
const relu = { activation: "relu", dropout: 0 } as const;
const W4 = [64, 128, 256, 512];
const resnet = (name: string, block: string, blocks: number[], widths = W4): PresetSpec => ({ family: "resnet", name, block, blocks, widths, ...relu });
const preact = (name: string, block: string, blocks: number[], widths = W4): PresetSpec => ({ family: "preact_resnet", name, block, blocks, widths, ...relu });
const densenet = (name: string, blocks: number[], growth: number): PresetSpec => ({ family: "densenet", name, blocks, widths: [2 * growth], growth, reduction: 0.5, ...relu });
const vgg = (name: string, blocks: number[], widths: number[]): PresetSpec => ({ family: "vgg", name, blocks, widths, ...relu });
const VGG_W = [64, 128, 256, 512, 512];

/** Named presets. Each is a complete ModelSpec minus the class count. */
export const PRESETS: Record<string, PresetSpec> = {
  ResNet18: resnet("ResNet18", "basic", [2, 2, 2, 2]),
  ResNet34: resnet("ResNet34", "basic", [3, 4, 6, 3]),
  ResNet50: resnet("ResNet50", "bottleneck", [3, 4, 6, 3]),
  ResNet101: resnet("ResNet101", "bottleneck", [3, 4, 23, 3]),
  "ResNet20-w16": resnet("ResNet20-w16", "basic", [3, 3, 3], [16, 32, 64]),
  "ResNet8-w16": resnet("ResNet8-w16", "basic", [1, 1, 1], [16, 32, 64]),
  "ResNet8-w8": resnet("ResNet8-w8", "basic", [1, 1, 1], [8, 16, 32]),
  PreActResNet18: preact("PreActResNet18", "basic", [2, 2, 2, 2]),
  PreActResNet34: preact("PreActResNet34", "basic", [3, 4, 6, 3]),
  PreActResNet50: preact("PreActResNet50", "bottleneck", [3, 4, 6, 3]),
  PreActResNet101: preact("PreActResNet101", "bottleneck", [3, 4, 23, 3]),
  PreActResNet152: preact("PreActResNet152", "bottleneck", [3, 8, 36, 3]),
  "PreActResNet20-w16": preact("PreActResNet20-w16", "basic", [3, 3, 3], [16, 32, 64]),
  "PreActResNet8-w16": preact("PreActResNet8-w16", "basic", [1, 1, 1], [16, 32, 64]),
  DenseNet121: densenet("DenseNet121", [6, 12, 24, 16], 32),
  DenseNet169: densenet("DenseNet169", [6, 12, 32, 32], 32),
  DenseNet201: densenet("DenseNet201", [6, 12, 48, 32], 32),
  DenseNet161: densenet("DenseNet161", [6, 12, 36, 24], 48),
  densenet_cifar: densenet("densenet_cifar", [6, 12, 24, 16], 12),
  "DenseNet-g12-small": densenet("DenseNet-g12-small", [2, 2, 2], 12),
  VGG11: vgg("VGG11", [1, 1, 2, 2, 2], VGG_W),
  VGG13: vgg("VGG13", [2, 2, 2, 2, 2], VGG_W),
  VGG16: vgg("VGG16", [2, 2, 3, 3, 3], VGG_W),
  VGG19: vgg("VGG19", [2, 2, 4, 4, 4], VGG_W),
  "VGG11-w16": vgg("VGG11-w16", [1, 1, 2, 2, 2], [16, 32, 64, 128, 128]),
};

/**
 * A complete spec for a preset name, with overrides (e.g. activation, dropout). Overriding a DenseNet's growth
 * without its widths keeps kuangliu's stem of 2 × growth channels.
 */
export function presetSpec(name: string, numClasses: number, overrides: Partial<ModelSpec> = {}): ModelSpec {
  const base = PRESETS[name];
  if (!base) throw new Error(`unknown model "${name}"; valid: ${Object.keys(PRESETS).join(", ")}`);
  const stem = base.family === "densenet" && overrides.growth !== undefined && overrides.widths === undefined ? { widths: [2 * overrides.growth] } : {};
  return { ...base, ...stem, ...overrides, numClasses };
}

function checkPositiveInts(field: string, list: unknown): void {
  if (!Array.isArray(list) || list.length === 0 || list.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new Error(`${field} must be a non-empty list of positive integers, got ${JSON.stringify(list)}`);
  }
}

/** Throws, naming the value and listing the valid ones, when `spec` is not buildable. */
export function checkSpec(spec: ModelSpec): void {
  if (!(FAMILIES as readonly string[]).includes(spec.family)) {
    throw new Error(`unknown model family "${spec.family}"; valid: ${FAMILIES.join(", ")}`);
  }
  const family = spec.family as Family;
  const valid = KNOBS[family];
  for (const [k, v] of Object.entries(spec)) {
    if (v !== undefined && !valid.includes(k)) throw new Error(`unknown knob "${k}" for family ${family}; valid: ${valid.join(", ")}`);
  }
  if (!Number.isInteger(spec.numClasses) || spec.numClasses < 2) {
    throw new Error(`numClasses must be an integer ≥ 2, got ${spec.numClasses}`);
  }
  if (!(spec.dropout >= 0 && spec.dropout < 1)) throw new Error(`dropout must be in [0, 1), got ${spec.dropout}`);
  const bd = spec.blockDropout ?? 0;
  if (!(bd >= 0 && bd < 1)) throw new Error(`blockDropout must be in [0, 1), got ${spec.blockDropout}`);
  const wm = spec.widthMultiplier ?? 1;
  if (!(Number.isFinite(wm) && wm > 0)) throw new Error(`widthMultiplier must be a number > 0, got ${spec.widthMultiplier}`);
  checkPositiveInts("blocks", spec.blocks);
  checkPositiveInts("widths", spec.widths);
  checkActivation(spec.activation);
  if (family === "resnet" || family === "preact_resnet") {
    if (spec.block !== undefined && spec.block !== "basic" && spec.block !== "bottleneck") {
      throw new Error(`unknown block "${spec.block}"; valid: basic, bottleneck`);
    }
  }
  // Stage widths go with stage depths, except DenseNet (widths = stem) and a VGG given as a full config.
  const stageWidths = family !== "densenet" && !(family === "vgg" && spec.config !== undefined);
  if (stageWidths && spec.blocks.length !== spec.widths.length) {
    throw new Error(`blocks (${spec.blocks.length} stages) and widths (${spec.widths.length}) must be of equal length`);
  }
  if (family === "vgg") {
    if (spec.config !== undefined) {
      if (!Array.isArray(spec.config) || spec.config.some((c) => c !== "M" && !(Number.isInteger(c) && (c as number) >= 1))) {
        throw new Error(`config must be a list of positive integers and "M", got ${JSON.stringify(spec.config)}`);
      }
    }
    const pools = spec.config ? spec.config.filter((c) => c === "M").length : spec.blocks.length;
    if (pools > 5) throw new Error(`vgg: at most 5 max-pools fit a 32×32 input, got ${pools}`);
  }
  if (family === "densenet") {
    if (!(Number.isInteger(spec.growth) && (spec.growth as number) >= 1)) throw new Error(`densenet needs growth, a positive integer; got ${spec.growth}`);
    if (spec.widths.length !== 1) throw new Error(`densenet widths is [stem channels], got ${JSON.stringify(spec.widths)}`);
    const r = spec.reduction ?? 0.5;
    if (!(r > 0 && r <= 1)) throw new Error(`reduction must be in (0, 1], got ${spec.reduction}`);
    if (spec.blocks.length > 4) throw new Error(`densenet: at most 4 dense blocks (3 transitions) fit a 32×32 input, got ${spec.blocks.length}`);
  }
}

/** Build the model of `spec`; with a `seed`, weight initialisation is reproducible. */
export function buildModel(spec: ModelSpec, seed?: number): tf.LayersModel {
  checkSpec(spec);
  return withInitSeed(seed, () => buildFamily(spec));
}

function buildFamily(spec: ModelSpec): tf.LayersModel {
  const wm = spec.widthMultiplier ?? 1;
  const widths = spec.widths.map((w) => scaleWidth(w, wm));
  const common = {
    numClasses: spec.numClasses,
    activation: spec.activation,
    dropout: spec.dropout,
    blockDropout: spec.blockDropout ?? 0,
    name: spec.name.replace(/[^A-Za-z0-9_]/g, "_"),
  };
  const family = spec.family as Family;
  switch (family) {
    case "resnet":
      return ResNet({ ...common, block: spec.block === "bottleneck" ? "bottleneck" : "basic", blocks: spec.blocks, widths });
    case "preact_resnet":
      return PreActResNet({ ...common, block: spec.block === "bottleneck" ? "bottleneck" : "basic", blocks: spec.blocks, widths });
    case "densenet":
      return DenseNet({ ...common, blocks: spec.blocks, growth: scaleWidth(spec.growth as number, wm), stem: widths[0], reduction: spec.reduction ?? 0.5 });
    case "vgg": {
      const config = spec.config
        ? spec.config.map((c) => (c === "M" ? c : scaleWidth(c, wm)))
        : vggConfigFromStages(spec.blocks, widths);
      return VGG({ ...common, config });
    }
    default:
      throw new Error(`unknown model family "${spec.family}"; valid: ${FAMILIES.join(", ")}`);
  }
}

/** Number of trainable parameters (PyTorch's `sum(p.numel() for p in parameters())`). */
export function countParams(model: tf.LayersModel): number {
  return model.trainableWeights.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

/** The model up to the global-average-pooled features (the input of the linear layer). */
export function featureExtractor(model: tf.LayersModel): tf.LayersModel {
  return tf.model({ inputs: model.inputs, outputs: model.getLayer("features").output as tf.SymbolicTensor });
}

/**
 * A copy of `backbone` with a fresh linear head of `numClasses` (and optional dropout);
 * the backbone's layers (and weights) are shared with the original.
 */
export function withNewHead(backbone: tf.LayersModel, numClasses: number, dropout = 0, seed?: number): tf.LayersModel {
  return withInitSeed(seed, () => {
    let h = backbone.getLayer("features").output as tf.SymbolicTensor;
    if (dropout > 0) h = dropoutLayer(dropout, "head_dropout").apply(h) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: numClasses, kernelInitializer: torchInit(), name: "head" }).apply(h) as tf.SymbolicTensor;
    return tf.model({ inputs: backbone.inputs, outputs: out });
  });
}
