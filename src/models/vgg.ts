/**
 * VGG for 32×32 images (Simonyan & Zisserman 2014), shaped like kuangliu/pytorch-cifar's models/vgg.py:
 * `features` is one nn.Sequential built from a config list; each number x adds Conv2d(in, x, 3, padding=1)
 * (with bias), BatchNorm2d(x) and ReLU, each 'M' adds MaxPool2d(2, 2), and a final AvgPool2d(1, 1) closes it.
 * Every module takes the next index, so the layers are named features.0 (conv), features.1 (bn),
 * features.2 (act), features.3 (conv or pool)… as in the state_dict. Then `classifier` = Linear(last width, classes).
 * kuangliu flattens the 1×1 map after five pools; here the pooled "features" layer averages globally, which is the
 * same on a 1×1 map and keeps configs with fewer pools usable. `blockDropout` (not in kuangliu) follows each
 * activation, named features.<act index>.dropout so the indices stay PyTorch's.
 */
import * as tf from "@tensorflow/tfjs";
import { activation, avgPool, bn, classifierHead, conv, imageInput, maxPool, maybeDropout } from "./layers";

export type VGGConfigEntry = number | "M";

export const VGG_CONFIGS: Record<"VGG11" | "VGG13" | "VGG16" | "VGG19", VGGConfigEntry[]> = {
  VGG11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
  VGG13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
  VGG16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
  VGG19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
};

export interface VGGConfig {
  config: VGGConfigEntry[];
  numClasses: number;
  activation?: string;
  dropout?: number;
  blockDropout?: number;
  name?: string;
}

/** The config list of `blocks` convs of `widths[s]` channels per stage, each stage closed by a max-pool. */
export function vggConfigFromStages(blocks: number[], widths: number[]): VGGConfigEntry[] {
  if (blocks.length !== widths.length) throw new Error(`VGG: blocks (${blocks.length} stages) and widths (${widths.length}) must be of equal length`);
  return blocks.flatMap((n, s) => [...Array<number>(n).fill(widths[s]), "M" as const]);
}

export function VGG(cfg: VGGConfig): tf.LayersModel {
  if (!cfg.config.some((c) => typeof c === "number")) throw new Error("VGG: config must hold at least one conv width");
  const act = cfg.activation ?? "relu";
  const input = imageInput();
  let x = input;
  let i = 0;
  let size = 32;
  for (const c of cfg.config) {
    if (c === "M") {
      if (size < 2) throw new Error(`VGG: too many 'M' pools for a 32×32 input in ${JSON.stringify(cfg.config)}`);
      x = maxPool(x, 2, `features.${i++}`);
      size = Math.floor(size / 2);
    } else {
      if (!Number.isInteger(c) || c < 1) throw new Error(`VGG: config widths must be positive integers, got ${JSON.stringify(c)}`);
      x = conv(x, { filters: c, kernelSize: 3, padding: 1, useBias: true, name: `features.${i++}` });
      x = bn(x, `features.${i++}`);
      const a = i++;
      x = activation(x, act, `features.${a}`);
      x = maybeDropout(x, cfg.blockDropout ?? 0, `features.${a}.dropout`);
    }
  }
  x = avgPool(x, 1, `features.${i++}`);
  const out = classifierHead(x, cfg.numClasses, cfg.dropout ?? 0, "classifier");
  return tf.model({ inputs: input, outputs: out, name: cfg.name ?? "vgg" });
}

const make = (name: keyof typeof VGG_CONFIGS) => (numClasses = 10) => VGG({ config: VGG_CONFIGS[name], numClasses, name });
export const VGG11 = make("VGG11");
export const VGG13 = make("VGG13");
export const VGG16 = make("VGG16");
export const VGG19 = make("VGG19");
