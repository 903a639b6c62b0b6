/**
 * CIFAR-10 reference results from kuangliu/pytorch-cifar
 * (https://github.com/kuangliu/pytorch-cifar, README "Accuracy" table, latest version).
 *
 * Accuracy is CIFAR-10 test accuracy in percent, as published in that README.
 * Parameter counts are PyTorch `sum(p.numel() for p in model.parameters())` for the
 * 10-class models of that repository (trainable parameters only; BatchNorm running
 * statistics are buffers and are not counted). See docs/anchors.md.
 */

export interface ReferenceModel {
  /** Model name as written in the kuangliu README. */
  model: string;
  /** Model family used to group points ("resnet", "vgg", ...). */
  family: string;
  /** CIFAR-10 test accuracy in percent. */
  accuracy: number;
  /** Trainable parameters (10 classes). */
  params: number;
}

export const KUANGLIU_SOURCE = "https://github.com/kuangliu/pytorch-cifar";

export const KUANGLIU: readonly ReferenceModel[] = Object.freeze([
  { model: "VGG16", family: "vgg", accuracy: 92.64, params: 14_728_266 },
  { model: "ResNet18", family: "resnet", accuracy: 93.02, params: 11_173_962 },
  { model: "ResNet50", family: "resnet", accuracy: 93.62, params: 23_520_842 },
  { model: "ResNet101", family: "resnet", accuracy: 93.75, params: 42_512_970 },
  { model: "RegNetX_200MF", family: "regnet", accuracy: 94.24, params: 2_321_946 },
  { model: "RegNetY_400MF", family: "regnet", accuracy: 94.29, params: 5_714_362 },
  { model: "MobileNetV2", family: "mobilenet", accuracy: 94.43, params: 2_296_922 },
  { model: "ResNeXt29(32x4d)", family: "resnext", accuracy: 94.73, params: 4_774_218 },
  { model: "ResNeXt29(2x64d)", family: "resnext", accuracy: 94.82, params: 9_128_778 },
  { model: "SimpleDLA", family: "dla", accuracy: 94.89, params: 15_142_970 },
  { model: "DenseNet121", family: "densenet", accuracy: 95.04, params: 6_956_298 },
  { model: "PreActResNet18", family: "preact-resnet", accuracy: 95.11, params: 11_171_146 },
  { model: "DPN92", family: "dpn", accuracy: 95.16, params: 34_236_634 },
  { model: "DLA", family: "dla", accuracy: 95.47, params: 16_291_386 },
] as ReferenceModel[]);
