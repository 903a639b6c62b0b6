/**
 * Pre-activation ResNet for 32×32 images (He et al. 2016), shaped like kuangliu/pytorch-cifar's
 * models/preact_resnet.py: 3×3 stem conv `conv1` (no BN after it), stages `layer{1..}` of
 * PreActBlock or PreActBottleneck, then average pooling and `linear`. There is no final BN.
 *
 * PreActBlock:      out = act(bn1(x)); shortcut = shortcut.0(out) if the shape changes else x;
 *                   out = conv2(act(bn2(conv1(out)))); out + shortcut
 * PreActBottleneck: the same with conv1 1×1 → conv2 3×3 (stride) → conv3 1×1 (×4) and bn3.
 * The shortcut is a single 1×1 conv without BN (`shortcut.0`). Layer names are PyTorch's
 * state_dict prefixes. `blockDropout` (not in kuangliu) sits before the block's last conv (wide-ResNet style).
 */
import * as tf from "@tensorflow/tfjs";
import { activation, add, bn, classifierHead, conv, imageInput, maybeDropout, checkStages, residualStages, type SymbolicTensor } from "./layers";

export type PreActBlockType = "basic" | "bottleneck";

export interface PreActResNetConfig {
  block: PreActBlockType;
  /** Blocks per stage; the first stage has stride 1, the others stride 2. */
  blocks: number[];
  /** Planes per stage; the stem has widths[0] channels. */
  widths: number[];
  numClasses: number;
  activation?: string;
  dropout?: number;
  blockDropout?: number;
  name?: string;
}

interface BlockArgs {
  inPlanes: number;
  planes: number;
  stride: number;
  name: string;
  act: string;
  blockDropout: number;
}

/** kuangliu's PreActBlock (expansion 1). */
export function preActBlock(x: SymbolicTensor, a: BlockArgs): SymbolicTensor {
  const n = a.name;
  const pre = activation(bn(x, `${n}.bn1`), a.act, `${n}.act1`);
  let shortcut = x;
  if (a.stride !== 1 || a.inPlanes !== a.planes) {
    shortcut = conv(pre, { filters: a.planes, kernelSize: 1, strides: a.stride, padding: 0, name: `${n}.shortcut.0` });
  }
  let out = conv(pre, { filters: a.planes, kernelSize: 3, strides: a.stride, name: `${n}.conv1` });
  out = activation(bn(out, `${n}.bn2`), a.act, `${n}.act2`);
  out = maybeDropout(out, a.blockDropout, `${n}.dropout`);
  out = conv(out, { filters: a.planes, kernelSize: 3, name: `${n}.conv2` });
  return add(out, shortcut, `${n}.add`);
}

/** kuangliu's PreActBottleneck (expansion 4). */
export function preActBottleneck(x: SymbolicTensor, a: BlockArgs): SymbolicTensor {
  const n = a.name;
  const expansion = 4;
  const pre = activation(bn(x, `${n}.bn1`), a.act, `${n}.act1`);
  let shortcut = x;
  if (a.stride !== 1 || a.inPlanes !== expansion * a.planes) {
    shortcut = conv(pre, { filters: expansion * a.planes, kernelSize: 1, strides: a.stride, padding: 0, name: `${n}.shortcut.0` });
  }
  let out = conv(pre, { filters: a.planes, kernelSize: 1, padding: 0, name: `${n}.conv1` });
  out = activation(bn(out, `${n}.bn2`), a.act, `${n}.act2`);
  out = conv(out, { filters: a.planes, kernelSize: 3, strides: a.stride, name: `${n}.conv2` });
  out = activation(bn(out, `${n}.bn3`), a.act, `${n}.act3`);
  out = maybeDropout(out, a.blockDropout, `${n}.dropout`);
  out = conv(out, { filters: expansion * a.planes, kernelSize: 1, padding: 0, name: `${n}.conv3` });
  return add(out, shortcut, `${n}.add`);
}

export function PreActResNet(cfg: PreActResNetConfig): tf.LayersModel {
  checkStages("PreActResNet", cfg);
  const act = cfg.activation ?? "relu";
  const expansion = cfg.block === "bottleneck" ? 4 : 1;
  const makeBlock = cfg.block === "bottleneck" ? preActBottleneck : preActBlock;
  const input = imageInput();
  let x = conv(input, { filters: cfg.widths[0], kernelSize: 3, name: "conv1" });
  x = residualStages(x, cfg, expansion, (h, b) => makeBlock(h, { ...b, act, blockDropout: cfg.blockDropout ?? 0 }));
  // kuangliu: avg_pool2d(out, 4) on the 4×4 map of 4 stages = global average pooling.
  const out = classifierHead(x, cfg.numClasses, cfg.dropout ?? 0);
  return tf.model({ inputs: input, outputs: out, name: cfg.name ?? "preact_resnet" });
}

const W = [64, 128, 256, 512];
const make = (block: PreActBlockType, blocks: number[], name: string) => (numClasses = 10) =>
  PreActResNet({ block, blocks, widths: W, numClasses, name });
export const PreActResNet18 = make("basic", [2, 2, 2, 2], "PreActResNet18");
export const PreActResNet34 = make("basic", [3, 4, 6, 3], "PreActResNet34");
export const PreActResNet50 = make("bottleneck", [3, 4, 6, 3], "PreActResNet50");
export const PreActResNet101 = make("bottleneck", [3, 4, 23, 3], "PreActResNet101");
export const PreActResNet152 = make("bottleneck", [3, 8, 36, 3], "PreActResNet152");
