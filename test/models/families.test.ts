import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import {
  CONSTRUCTORS, DenseNet121, FAMILIES, PRESETS, PreActResNet18, VGG16, buildModel, countParams, featureExtractor, presetSpec, withNewHead,
} from "../../src/models";

/**
 * PyTorch's parameter counts and state_dict keys (num_batches_tracked left out) of kuangliu's models at 10 classes,
 * written by fixtures/kuangliu_reference.py with torch 1.13 from an independent transcription of kuangliu's modules.
 */
const REF: Record<string, { params: number; keys: string[] }> = JSON.parse(
  fs.readFileSync(path.join(__dirname, "fixtures", "kuangliu-reference.json"), "utf8"),
);

/** The PyTorch state_dict keys our layer names imply (conv: weight [+ bias], BN: 4 tensors, dense: weight + bias). */
function torchKeys(m: tf.LayersModel): string[] {
  const keys: string[] = [];
  for (const l of m.layers) {
    const cls = l.getClassName();
    if (cls === "Conv2D") keys.push(`${l.name}.weight`, ...(l.weights.length > 1 ? [`${l.name}.bias`] : []));
    else if (cls === "Dense") keys.push(`${l.name}.weight`, `${l.name}.bias`);
    else if (cls === "TorchBatchNorm") keys.push(...["weight", "bias", "running_mean", "running_var"].map((s) => `${l.name}.${s}`));
    else assert.equal(l.weights.length, 0, `${l.name} (${cls}) holds weights the mapping does not know`);
  }
  return keys;
}

test("anchors.md counts: PreActResNet18, DenseNet121, VGG16 at 10 classes", () => {
  for (const [make, count] of [[PreActResNet18, 11_171_146], [DenseNet121, 6_956_298], [VGG16, 14_728_266]] as const) {
    const m = make(10);
    assert.equal(countParams(m), count, m.name);
    m.dispose();
  }
});

test("every constructor has PyTorch's parameter count and exactly kuangliu's state_dict keys", () => {
  assert.deepEqual(Object.keys(CONSTRUCTORS).sort(), Object.keys(REF).sort());
  for (const [name, make] of Object.entries(CONSTRUCTORS)) {
    const m = make(10);
    assert.equal(countParams(m), REF[name].params, `${name} parameters`);
    assert.deepEqual(torchKeys(m).sort(), [...REF[name].keys].sort(), `${name} state_dict keys`);
    m.dispose();
  }
});

test("the class count changes only the head; every preset is a constructor's spec or a small variant", () => {
  const m = PreActResNet18(100);
  assert.equal(countParams(m), 11_171_146 + 90 * 513);
  m.dispose();
  for (const name of Object.keys(CONSTRUCTORS)) {
    const a = CONSTRUCTORS[name](10);
    const b = buildModel(presetSpec(name, 10));
    assert.equal(countParams(b), countParams(a), name);
    assert.deepEqual(b.layers.map((l) => l.name), a.layers.map((l) => l.name), name);
    a.dispose();
    b.dispose();
  }
});

test("DenseNet concatenates [new features, x] on the channel axis, like torch.cat([out, x], 1)", () => {
  const m = buildModel(presetSpec("DenseNet-g12-small", 4));
  const cat = m.getLayer("dense1.0.cat");
  const inbound = cat.inboundNodes[0].inboundLayers.map((l) => l.name);
  assert.deepEqual(inbound, ["dense1.0.conv2", "conv1"]);
  assert.deepEqual(cat.outputShape, [null, 32, 32, 36]);
  // transition: floor(48 * 0.5) = 24 channels, 2×2 average pooling
  assert.deepEqual(m.getLayer("trans1.conv").outputShape, [null, 32, 32, 24]);
  assert.deepEqual(m.getLayer("trans1.pool").outputShape, [null, 16, 16, 24]);
  m.dispose();
});

test("VGG numbers its features like the nn.Sequential: conv, bn, act, pool, …, final 1×1 avg-pool", () => {
  const m = buildModel(presetSpec("VGG11-w16", 4));
  const f = m.layers.filter((l) => l.name.startsWith("features.")).map((l) => `${l.name}:${l.getClassName()}`);
  assert.deepEqual(f.slice(0, 8), ["features.0:Conv2D", "features.1:TorchBatchNorm", "features.2:ReLU", "features.3:MaxPooling2D", "features.4:Conv2D", "features.5:TorchBatchNorm", "features.6:ReLU", "features.7:MaxPooling2D"]);
  assert.equal(f[f.length - 1], "features.29:AveragePooling2D"); // 8 convs × 3 + 5 pools = modules 0–28, then the avg-pool
  assert.equal(m.getLayer("features.0").weights.length, 2, "VGG convs have a bias");
  assert.deepEqual(m.getLayer("classifier").weights[0].shape, [128, 4], "the classifier takes the last conv width");
  m.dispose();
});

test("PreActResNet: shortcut conv reads the pre-activated input; no final BN", () => {
  const m = buildModel(presetSpec("PreActResNet8-w16", 4));
  assert.deepEqual(m.getLayer("layer2.0.shortcut.0").inboundNodes[0].inboundLayers.map((l) => l.name), ["layer2.0.act1"]);
  assert.deepEqual(m.getLayer("layer1.0.add").inboundNodes[0].inboundLayers.map((l) => l.name), ["layer1.0.conv2", "conv1"]);
  assert.throws(() => m.getLayer("bn"));
  assert.deepEqual(m.getLayer("layer3.0.conv1").outputShape, [null, 8, 8, 64]);
  m.dispose();
});

test("small variants come from knobs alone, build, run, and support featureExtractor and withNewHead", () => {
  const small = ["ResNet8-w8", "PreActResNet8-w16", "DenseNet-g12-small", "VGG11-w16"];
  const families = new Set(small.map((n) => PRESETS[n].family));
  assert.deepEqual([...families].sort(), [...FAMILIES].sort());
  for (const name of small) {
    const m = buildModel(presetSpec(name, 4, { dropout: 0.2, activation: "silu" }), 1);
    const x = tf.zeros([2, 32, 32, 3]);
    const y = m.predict(x) as tf.Tensor;
    assert.deepEqual(y.shape, [2, 4], name);
    const feats = featureExtractor(m);
    const featDim = feats.outputs[0].shape[1] as number;
    const head = m.layers[m.layers.length - 1];
    assert.equal(head.weights[0].shape[0], featDim, `${name}: "features" feeds the final dense`);
    const h = withNewHead(m, 7, 0.1, 3);
    const z = h.predict(x) as tf.Tensor;
    assert.deepEqual(z.shape, [2, 7], name);
    tf.dispose([x, y, z]);
    m.dispose();
  }
});

test("width multiplier, growth, block dropout and VGG config knobs", () => {
  const count = (name: string, o: object) => {
    const m = buildModel(presetSpec(name, 10, o));
    const n = countParams(m);
    m.dispose();
    return n;
  };
  // VGG11 with widths / 4 is exactly the VGG11-w16 preset
  assert.equal(count("VGG11", { widthMultiplier: 0.25 }), count("VGG11-w16", {}));
  // kuangliu's VGG11 config list gives VGG11
  assert.equal(count("VGG11", { config: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"] }), REF.VGG11.params);
  // densenet_cifar is DenseNet121's blocks with growth 12 and a 24-channel stem
  assert.equal(count("DenseNet121", { growth: 12, widths: [24] }), REF.densenet_cifar.params);
  // DenseNet121 with width multiplier 0.375 = growth 12, stem 24
  assert.equal(count("DenseNet121", { widthMultiplier: 0.375 }), REF.densenet_cifar.params);
  // ResNet18 depth knob → ResNet34
  assert.equal(count("PreActResNet18", { blocks: [3, 4, 6, 3] }), REF.PreActResNet34.params);
  // block dropout adds layers but no parameters
  for (const name of ["PreActResNet8-w16", "DenseNet-g12-small", "VGG11-w16"]) {
    const m = buildModel(presetSpec(name, 10, { blockDropout: 0.1 }));
    assert.ok(m.layers.some((l) => l.getClassName() === "SeededDropout" && l.name.endsWith(".dropout")), name);
    assert.equal(countParams(m), count(name, {}), name);
    m.dispose();
  }
});

test("bad input: unknown model, family, knob or value names it and lists the valid ones", () => {
  assert.throws(() => presetSpec("VGG12", 4), /unknown model "VGG12"; valid: .*PreActResNet18.*DenseNet121.*VGG11-w16/);
  assert.throws(() => buildModel({ ...presetSpec("VGG11", 4), family: "mlp" }), /unknown model family "mlp"; valid: resnet, preact_resnet, densenet, vgg/);
  assert.throws(() => buildModel(presetSpec("VGG11", 4, { growth: 12 })), /unknown knob "growth" for family vgg; valid: .*widthMultiplier, blockDropout, config/);
  assert.throws(() => buildModel(presetSpec("DenseNet121", 4, { block: "basic" })), /unknown knob "block" for family densenet; valid: .*growth, reduction/);
  assert.throws(() => buildModel({ ...presetSpec("VGG11", 4), depth: 3 } as never), /unknown knob "depth" for family vgg; valid: family, name, blocks, widths/);
  assert.throws(() => buildModel(presetSpec("PreActResNet18", 4, { block: "wide" })), /unknown block "wide"; valid: basic, bottleneck/);
  assert.throws(() => buildModel(presetSpec("VGG11", 4, { activation: "tanh" })), /unknown activation "tanh"; valid: relu, leaky_relu, elu, gelu, silu/);
  assert.throws(() => buildModel(presetSpec("ResNet8-w8", 4, { blockDropout: 1.5 })), /blockDropout must be in \[0, 1\), got 1.5/);
  assert.throws(() => buildModel(presetSpec("VGG11", 4, { widthMultiplier: 0 })), /widthMultiplier must be a number > 0, got 0/);
  assert.throws(() => buildModel(presetSpec("VGG11", 4, { blocks: [1, 1, 1, 1, 1, 1], widths: [8, 8, 8, 8, 8, 8] })), /at most 5 max-pools/);
  assert.throws(() => buildModel({ ...presetSpec("DenseNet121", 4), growth: 0 }), /densenet needs growth, a positive integer; got 0/);
  assert.throws(() => buildModel(presetSpec("DenseNet121", 4, { reduction: 1.5 })), /reduction must be in \(0, 1\], got 1.5/);
  assert.throws(() => buildModel(presetSpec("VGG11", 4, { config: [64, "X" as never] })), /config must be a list of positive integers and "M"/);
});

test("blockDropout puts a dropout inside every ResNet block without changing the parameter count", () => {
  const plain = buildModel(presetSpec("ResNet8-w8", 4));
  const dropped = buildModel(presetSpec("ResNet8-w8", 4, { blockDropout: 0.1 }));
  assert.deepEqual(dropped.layers.filter((l) => l.getClassName() === "SeededDropout").map((l) => l.name), ["layer1.0.dropout", "layer2.0.dropout", "layer3.0.dropout"]);
  assert.equal(countParams(dropped), countParams(plain));
  plain.dispose();
  dropped.dispose();
});
