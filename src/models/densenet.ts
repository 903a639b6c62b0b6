/**
 * DenseNet-BC for 32×32 images (Huang et al. 2017), shaped like kuangliu/pytorch-cifar's models/densenet.py:
 *   conv1 (3×3, 2·growth channels, no bias)
 *   dense{k}.{i}: Bottleneck  out = conv2(act(bn2(conv1(act(bn1(x)))))), conv1 1×1 → 4·growth, conv2 3×3 → growth;
 *                 then torch.cat([out, x], 1): the NEW features come FIRST, then x.
 *   trans{k}:     avg_pool2d(conv(act(bn(x))), 2), conv 1×1 → floor(channels·reduction) (between dense blocks)
 *   head:         act(bn(x)), average pooling, `linear`.
 * kuangliu has exactly four dense blocks and pools the final 4×4 map with avg_pool2d(·, 4); here the number of
 * dense blocks comes from `blocks` and the head pools globally, which is the same for four blocks on 32×32.
 * Layer names are PyTorch's state_dict prefixes. `blockDropout` (not in kuangliu) follows each conv2.
 */
import * as tf from "@tensorflow/tfjs";
import { activation, avgPool, bn, classifierHead, concatChannels, conv, imageInput, maybeDropout, type SymbolicTensor } from "./layers";

export interface DenseNetConfig {
  /** Bottlenecks per dense block, e.g. [6, 12, 24, 16] for DenseNet121. */
  blocks: number[];
  /** Growth rate k: channels each bottleneck adds. */
  growth: number;
  /** Channels of the stem conv; kuangliu uses 2·growth. */
  stem?: number;
  /** Transition compression; kuangliu uses 0.5. */
  reduction?: number;
  numClasses: number;
  activation?: string;
  dropout?: number;
  blockDropout?: number;
  name?: string;
}

function bottleneck(x: SymbolicTensor, growth: number, name: string, act: string, blockDropout: number): SymbolicTensor {
  let out = activation(bn(x, `${name}.bn1`), act, `${name}.act1`);
  out = conv(out, { filters: 4 * growth, kernelSize: 1, padding: 0, name: `${name}.conv1` });
  out = activation(bn(out, `${name}.bn2`), act, `${name}.act2`);
  out = conv(out, { filters: growth, kernelSize: 3, name: `${name}.conv2` });
  out = maybeDropout(out, blockDropout, `${name}.dropout`);
  return concatChannels([out, x], `${name}.cat`);
}

function transition(x: SymbolicTensor, outPlanes: number, name: string, act: string): SymbolicTensor {
  let out = activation(bn(x, `${name}.bn`), act, `${name}.act`);
  out = conv(out, { filters: outPlanes, kernelSize: 1, padding: 0, name: `${name}.conv` });
  return avgPool(out, 2, `${name}.pool`);
}

export function DenseNet(cfg: DenseNetConfig): tf.LayersModel {
  if (cfg.blocks.length === 0) throw new Error("DenseNet: blocks must list at least one dense block");
  const reduction = cfg.reduction ?? 0.5;
  if (!(reduction > 0 && reduction <= 1)) throw new Error(`DenseNet: reduction must be in (0, 1], got ${reduction}`);
  const act = cfg.activation ?? "relu";
  const input = imageInput();
  let planes = cfg.stem ?? 2 * cfg.growth;
  let x = conv(input, { filters: planes, kernelSize: 3, name: "conv1" });
  cfg.blocks.forEach((count, k) => {
    for (let i = 0; i < count; i++) {
      x = bottleneck(x, cfg.growth, `dense${k + 1}.${i}`, act, cfg.blockDropout ?? 0);
      planes += cfg.growth;
    }
    if (k < cfg.blocks.length - 1) {
      planes = Math.floor(planes * reduction);
      x = transition(x, planes, `trans${k + 1}`, act);
    }
  });
  x = activation(bn(x, "bn"), act, "act");
  const out = classifierHead(x, cfg.numClasses, cfg.dropout ?? 0);
  return tf.model({ inputs: input, outputs: out, name: cfg.name ?? "densenet" });
}

const make = (blocks: number[], growth: number, name: string) => (numClasses = 10) => DenseNet({ blocks, growth, numClasses, name });
export const DenseNet121 = make([6, 12, 24, 16], 32, "DenseNet121");
export const DenseNet169 = make([6, 12, 32, 32], 32, "DenseNet169");
export const DenseNet201 = make([6, 12, 48, 32], 32, "DenseNet201");
export const DenseNet161 = make([6, 12, 36, 24], 48, "DenseNet161");
export const densenet_cifar = make([6, 12, 24, 16], 12, "densenet_cifar");
