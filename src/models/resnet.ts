/**
 * ResNet for 32×32 images (He et al. 2015), shaped like kuangliu/pytorch-cifar:
 * 3×3 stem without max-pool, stages of BasicBlock or Bottleneck, global average
 * pooling and a linear layer. Depth and width come from the config alone:
 * ResNet20-style nets are `ResNet({blocks: [3, 3, 3], widths: [16, 32, 64]})`.
 */
import * as tf from "@tensorflow/tfjs";
import { activation, add, bn, classifierHead, conv, imageInput, maybeDropout, checkStages, residualStages, type SymbolicTensor } from "./layers";

export interface ResNetConfig {
  block: "basic" | "bottleneck";
  /** Blocks per stage; the first stage has stride 1, the others stride 2. */
  blocks: number[];
  /** Planes per stage; the stem has widths[0] channels. */
  widths: number[];
  numClasses: number;
  activation?: string;
  dropout?: number;
  /** Dropout inside each block, before its last conv (not in kuangliu; wide-ResNet style). */
  blockDropout?: number;
  name?: string;
}

function basicBlock(x: SymbolicTensor, inPlanes: number, planes: number, stride: number, name: string, act: string, drop: number) {
  let out = conv(x, { filters: planes, kernelSize: 3, strides: stride, name: `${name}.conv1` });
  out = activation(bn(out, `${name}.bn1`), act, `${name}.act1`);
  out = maybeDropout(out, drop, `${name}.dropout`);
  out = conv(out, { filters: planes, kernelSize: 3, name: `${name}.conv2` });
  out = bn(out, `${name}.bn2`);
  let shortcut = x;
  if (stride !== 1 || inPlanes !== planes) {
    shortcut = conv(x, { filters: planes, kernelSize: 1, strides: stride, padding: 0, name: `${name}.shortcut.0` });
    shortcut = bn(shortcut, `${name}.shortcut.1`);
  }
  return activation(add(out, shortcut, `${name}.add`), act, `${name}.act2`);
}

function bottleneck(x: SymbolicTensor, inPlanes: number, planes: number, stride: number, name: string, act: string, drop: number) {
  const expansion = 4;
  let out = conv(x, { filters: planes, kernelSize: 1, padding: 0, name: `${name}.conv1` });
  out = activation(bn(out, `${name}.bn1`), act, `${name}.act1`);
  out = conv(out, { filters: planes, kernelSize: 3, strides: stride, name: `${name}.conv2` });
  out = activation(bn(out, `${name}.bn2`), act, `${name}.act2`);
  out = maybeDropout(out, drop, `${name}.dropout`);
  out = conv(out, { filters: expansion * planes, kernelSize: 1, padding: 0, name: `${name}.conv3` });
  out = bn(out, `${name}.bn3`);
  let shortcut = x;
  if (stride !== 1 || inPlanes !== expansion * planes) {
    shortcut = conv(x, { filters: expansion * planes, kernelSize: 1, strides: stride, padding: 0, name: `${name}.shortcut.0` });
    shortcut = bn(shortcut, `${name}.shortcut.1`);
  }
  return activation(add(out, shortcut, `${name}.add`), act, `${name}.act3`);
}

export function ResNet(cfg: ResNetConfig): tf.LayersModel {
  checkStages("ResNet", cfg);
  const act = cfg.activation ?? "relu";
  const expansion = cfg.block === "bottleneck" ? 4 : 1;
  const makeBlock = cfg.block === "bottleneck" ? bottleneck : basicBlock;
  const input = imageInput();
  let x = conv(input, { filters: cfg.widths[0], kernelSize: 3, name: "conv1" });
  x = activation(bn(x, "bn1"), act, "act1");
  x = residualStages(x, cfg, expansion, (h, b) => makeBlock(h, b.inPlanes, b.planes, b.stride, b.name, act, cfg.blockDropout ?? 0));
  const out = classifierHead(x, cfg.numClasses, cfg.dropout ?? 0);
  return tf.model({ inputs: input, outputs: out, name: cfg.name ?? "resnet" });
}

const W = [64, 128, 256, 512];
export const ResNet18 = (numClasses = 10) => ResNet({ block: "basic", blocks: [2, 2, 2, 2], widths: W, numClasses, name: "ResNet18" });
export const ResNet34 = (numClasses = 10) => ResNet({ block: "basic", blocks: [3, 4, 6, 3], widths: W, numClasses, name: "ResNet34" });
export const ResNet50 = (numClasses = 10) => ResNet({ block: "bottleneck", blocks: [3, 4, 6, 3], widths: W, numClasses, name: "ResNet50" });
export const ResNet101 = (numClasses = 10) => ResNet({ block: "bottleneck", blocks: [3, 4, 23, 3], widths: W, numClasses, name: "ResNet101" });
