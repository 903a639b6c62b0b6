/**
 * Model registry: builds a tfjs-layers model from a plain ModelSpec, and
 * the named presets (kuangliu constructors plus small CIFAR-style variants).
 */
import * as tf from "@tensorflow/tfjs";
import type { ModelSpec } from "../results/types";
import { checkActivation, nextSeed, torchInit, withInitSeed } from "./layers";
import { ResNet } from "./resnet";

export { ResNet, ResNet18, ResNet34, ResNet50, ResNet101 } from "./resnet";
export { ACTIVATIONS } from "./layers";
export { saveModel, loadModel } from "./checkpoint";

export const FAMILIES = ["resnet"] as const;

/** Named presets. Each is a complete ModelSpec minus the class count. */
export const PRESETS: Record<string, Omit<ModelSpec, "numClasses">> = {
  ResNet18: { family: "resnet", name: "ResNet18", block: "basic", blocks: [2, 2, 2, 2], widths: [64, 128, 256, 512], activation: "relu", dropout: 0 },
  ResNet34: { family: "resnet", name: "ResNet34", block: "basic", blocks: [3, 4, 6, 3], widths: [64, 128, 256, 512], activation: "relu", dropout: 0 },
  ResNet50: { family: "resnet", name: "ResNet50", block: "bottleneck", blocks: [3, 4, 6, 3], widths: [64, 128, 256, 512], activation: "relu", dropout: 0 },
  ResNet101: { family: "resnet", name: "ResNet101", block: "bottleneck", blocks: [3, 4, 23, 3], widths: [64, 128, 256, 512], activation: "relu", dropout: 0 },
  "ResNet20-w16": { family: "resnet", name: "ResNet20-w16", block: "basic", blocks: [3, 3, 3], widths: [16, 32, 64], activation: "relu", dropout: 0 },
  "ResNet8-w16": { family: "resnet", name: "ResNet8-w16", block: "basic", blocks: [1, 1, 1], widths: [16, 32, 64], activation: "relu", dropout: 0 },
  "ResNet8-w8": { family: "resnet", name: "ResNet8-w8", block: "basic", blocks: [1, 1, 1], widths: [8, 16, 32], activation: "relu", dropout: 0 },
};

/** A complete spec for a preset name, with overrides (e.g. activation, dropout). */
export function presetSpec(name: string, numClasses: number, overrides: Partial<ModelSpec> = {}): ModelSpec {
  const base = PRESETS[name];
  if (!base) throw new Error(`unknown model "${name}"; valid: ${Object.keys(PRESETS).join(", ")}`);
  return { ...base, ...overrides, numClasses };
}

function checkSpec(spec: ModelSpec): void {
  if (!(FAMILIES as readonly string[]).includes(spec.family)) {
    throw new Error(`unknown model family "${spec.family}"; valid: ${FAMILIES.join(", ")}`);
  }
  if (!Number.isInteger(spec.numClasses) || spec.numClasses < 2) {
    throw new Error(`numClasses must be an integer ≥ 2, got ${spec.numClasses}`);
  }
  if (!(spec.dropout >= 0 && spec.dropout < 1)) throw new Error(`dropout must be in [0, 1), got ${spec.dropout}`);
  for (const [field, list] of [["blocks", spec.blocks], ["widths", spec.widths]] as const) {
    if (!Array.isArray(list) || list.length === 0 || list.some((v) => !Number.isInteger(v) || v < 1)) {
      throw new Error(`${field} must be a non-empty list of positive integers, got ${JSON.stringify(list)}`);
    }
  }
  checkActivation(spec.activation);
}

/** Build the model of `spec`; with a `seed`, weight initialisation is reproducible. */
export function buildModel(spec: ModelSpec, seed?: number): tf.LayersModel {
  checkSpec(spec);
  return withInitSeed(seed, () => buildFamily(spec));
}

function buildFamily(spec: ModelSpec): tf.LayersModel {
  switch (spec.family) {
    case "resnet":
      return ResNet({
        block: spec.block === "bottleneck" ? "bottleneck" : "basic",
        blocks: spec.blocks,
        widths: spec.widths,
        numClasses: spec.numClasses,
        activation: spec.activation,
        dropout: spec.dropout,
        name: spec.name.replace(/[^A-Za-z0-9_]/g, "_"),
      });
    default:
      throw new Error(`unknown model family "${spec.family}"`);
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
    if (dropout > 0) h = tf.layers.dropout({ rate: dropout, name: "head_dropout", seed: nextSeed() }).apply(h) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: numClasses, kernelInitializer: torchInit(), name: "head" }).apply(h) as tf.SymbolicTensor;
    return tf.model({ inputs: backbone.inputs, outputs: out });
  });
}
