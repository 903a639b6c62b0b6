import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as path from "path";
import { ResNet18, VGG, buildModel, forwardFlops, layerFlops, modelSummary, presetSpec } from "../../src/models";
import { stageSummary } from "../../src/models/summary";

const ROOT = path.resolve(__dirname, "..", "..");
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, "bin", "minicifar-lab.js"), ...args], { cwd: ROOT, encoding: "utf8" });

test("ResNet18 model card: 0.555 G multiply-adds per 32×32 image (anchors.md's '~0.56 GFLOP' counts MACs)", () => {
  const m = ResNet18(10);
  const s = modelSummary(m);
  // By hand: stem 3·3·3·64·32² = 1,769,472; layer1 4 × 3·3·64·64·32² = 150,994,944;
  // layers 2–4 each 3·3·C·2C·H² + 3 × 3·3·2C·2C·H² + 1·1·C·2C·H² = 134,217,728; linear 512·10 = 5,120.
  assert.equal(s.flops, 1_769_472 + 150_994_944 + 3 * 134_217_728 + 5_120);
  assert.ok(Math.abs(s.flops / 1e9 - 0.56) < 0.01);
  assert.equal(s.params, 11_173_962);
  assert.equal(s.nonTrainable, 9_600); // running mean + var of 4,800 BN channels
  assert.equal(s.sizeBytes, 4 * (11_173_962 + 9_600));
  assert.deepEqual(s.layers.find((l) => l.name === "layer4.1.conv2"), { name: "layer4.1.conv2", className: "Conv2D", outputShape: [4, 4, 512], params: 3 * 3 * 512 * 512 });
  m.dispose();
});

test("a tiny model's card, computed by hand", () => {
  // conv 3→8 (3×3, bias) on 32×32, BN(8), ReLU, max-pool → 16×16×8, 1×1 avg-pool, GAP, dense 8→2
  const m = VGG({ config: [8, "M"], numClasses: 2 });
  const s = modelSummary(m);
  assert.equal(s.flops, 3 * 3 * 3 * 8 * 32 * 32 + 8 * 2); // 221,200
  assert.equal(s.params, (3 * 3 * 3 * 8 + 8) + 2 * 8 + (8 * 2 + 2)); // 258
  assert.equal(s.nonTrainable, 2 * 8);
  assert.equal(s.sizeBytes, 4 * (258 + 16));
  assert.deepEqual(s.layers.map((l) => [l.name, l.className, l.outputShape.join("x"), l.params]), [
    ["image", "InputLayer", "32x32x3", 0],
    ["features.0", "Conv2D", "32x32x8", 224],
    ["features.1", "TorchBatchNorm", "32x32x8", 32],
    ["features.2", "ReLU", "32x32x8", 0],
    ["features.3", "MaxPooling2D", "16x16x8", 0],
    ["features.4", "AveragePooling2D", "16x16x8", 0],
    ["features", "GlobalAveragePooling2D", "8", 0],
    ["classifier", "Dense", "2", 18],
  ]);
  m.dispose();
});

test("stride-2 convs count their output size, not their input size", () => {
  const m = buildModel(presetSpec("ResNet8-w8", 4));
  const s = modelSummary(m);
  const conv = s.layers.find((l) => l.name === "layer2.0.conv1")!;
  assert.deepEqual(conv.outputShape, [16, 16, 16]);
  m.dispose();
});

test("`minicifar-lab model summary` prints the card, as JSON with --json", () => {
  const r = cli("model", "summary", "VGG11-w16", "--classes", "4", "--json");
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(j), ["params", "nonTrainable", "flops", "sizeBytes", "layers"]);
  assert.equal(j.layers[j.layers.length - 1].name, "classifier");
  assert.deepEqual(j.layers[j.layers.length - 1].outputShape, [4]);
  const k = JSON.parse(cli("model", "summary", "VGG11", "--classes=4", "--width-multiplier", "0.25", "--activation", "gelu", "--json").stdout);
  assert.equal(k.params, j.params);
  const t = cli("model", "summary", "DenseNet-g12-small", "--growth", "6", "--dropout", "0.1");
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /DenseNet-g12-small \(10 classes\)\nparameters: [\d,]+ trainable/);
  assert.match(t.stdout, /conv1\s+Conv2D\s+\[32, 32, 12\]\s+324\n(.*\n)*dense1\.0\.cat\s+Concatenate\s+\[32, 32, 18\]\s+0\n/);
});

test("`model summary` usage errors exit 2 and list the valid values", () => {
  const bad = cli("model", "summary", "VGG12");
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown model "VGG12"; valid: .*VGG11-w16/);
  const knob = cli("model", "summary", "VGG11", "--growth", "4");
  assert.equal(knob.status, 2);
  assert.match(knob.stderr, /unknown knob "growth" for family vgg; valid: /);
  const opt = cli("model", "summary", "VGG11", "--depth", "4");
  assert.equal(opt.status, 2);
  assert.match(opt.stderr, /unknown option "--depth"; valid: --classes, --activation, .*--json/);
  const act = cli("model", "summary", "VGG11", "--activation", "tanh");
  assert.equal(act.status, 2);
  assert.match(act.stderr, /unknown activation "tanh"; valid: relu, leaky_relu, elu, gelu, silu/);
  const sub = cli("model", "card", "VGG11");
  assert.equal(sub.status, 2);
  assert.match(sub.stderr, /model: unknown subcommand "card"; valid: summary/);
});

test("forward FLOPs of a tiny model, counted by hand (multiply-add = 2; bias, BN, activation, pooling counted)", () => {
  // conv 3→8 (3×3, bias) on 32×32, BN(8), ReLU, max-pool 2×2 → 16×16×8, 1×1 avg-pool, GAP, dense 8→2
  const m = VGG({ config: [8, "M"], numClasses: 2 });
  const byLayer = Object.fromEntries(m.layers.map((l) => [l.name, layerFlops(l)]));
  assert.deepEqual(byLayer, {
    image: 0,
    "features.0": 2 * 3 * 3 * 3 * 8 * 32 * 32 + 8 * 32 * 32, // 2·MACs + one bias add per output: 450,560
    "features.1": 2 * 8 * 32 * 32, // BN: scale and shift per element
    "features.2": 8 * 32 * 32, // ReLU: one per element
    "features.3": 4 * 8 * 16 * 16, // 2×2 max-pool: 4 compares per output
    "features.4": 1 * 8 * 16 * 16, // 1×1 avg-pool
    features: 8 * 16 * 16, // global average pool: one add per input element
    classifier: 2 * 8 * 2 + 2, // dense: 2·in·out + bias
  });
  assert.equal(forwardFlops(m), 487_458);
  assert.equal(forwardFlops(m), Object.values(byLayer).reduce((a, b) => a + b, 0));
  m.dispose();
});

test("forward FLOPs: residual adds, padding and every preset's layers are counted; ResNet18 ≈ 2 × its multiply-adds", () => {
  const m = buildModel(presetSpec("ResNet8-w8", 4));
  const flops = Object.fromEntries(m.layers.map((l) => [l.name, layerFlops(l)]));
  const add = m.layers.find((l) => l.getClassName() === "Add")!;
  const addOut = (add.outputShape as number[]).slice(1).reduce((a, b) => a * b, 1);
  assert.equal(flops[add.name], addOut); // 2 inputs: 1 add per output element
  for (const l of m.layers.filter((l) => ["ZeroPadding2D", "InputLayer", "Concatenate", "Dropout"].includes(l.getClassName()))) assert.equal(flops[l.name], 0, l.name);
  m.dispose();
  for (const name of ["ResNet8-w16", "PreActResNet8-w16", "VGG11-w16", "DenseNet-g12-small"]) {
    for (const activation of ["relu", "leaky_relu", "elu", "gelu", "silu"]) {
      const p = buildModel(presetSpec(name, 4, { activation, dropout: 0.1 }));
      const s = modelSummary(p);
      const f = forwardFlops(p);
      assert.ok(f > 2 * s.flops && f < 2.2 * s.flops, `${name}/${activation}: ${f} vs 2 × ${s.flops}`);
      p.dispose();
    }
  }
  const r18 = ResNet18(10);
  const f = forwardFlops(r18);
  assert.ok(f > 2 * modelSummary(r18).flops && f < 1.02 * 2 * modelSummary(r18).flops, `ResNet18: ${f}`); // cheap ops are ~1% on top
  r18.dispose();
  const odd = { name: "x", getClassName: () => "Conv3D", getConfig: () => ({}), outputShape: [null, 1], weights: [] } as unknown as Parameters<typeof layerFlops>[0];
  assert.throws(() => layerFlops(odd), /forwardFlops: no FLOP rule for layer "x" of class Conv3D; counted classes: Conv2D, Dense, /);
});

test("stageSummary: the stages of each family in order, with their blocks, output shapes, and parameters and FLOPs that sum to the model's", () => {
  const cases: [string, string[]][] = [
    ["ResNet20-w16", ["stem:0:32x32x16", "layer1:3:32x32x16", "layer2:3:16x16x32", "layer3:3:8x8x64", "head:0:10"]],
    ["ResNet50", ["stem:0:32x32x64", "layer1:3:32x32x256", "layer2:4:16x16x512", "layer3:6:8x8x1024", "layer4:3:4x4x2048", "head:0:10"]],
    ["PreActResNet18", ["stem:0:32x32x64", "layer1:2:32x32x64", "layer2:2:16x16x128", "layer3:2:8x8x256", "layer4:2:4x4x512", "head:0:10"]],
    ["DenseNet-g12-small", ["stem:0:32x32x24", "dense1:2:32x32x48", "trans1:0:16x16x24", "dense2:2:16x16x48", "trans2:0:8x8x24", "dense3:2:8x8x48", "head:0:10"]],
    // VGG11's config 64 M 128 M 256 256 M 512 512 M 512 512 M at width ×1/4: a stage ends at each max-pool.
    ["VGG11-w16", ["stage1:1:16x16x16", "stage2:1:8x8x32", "stage3:2:4x4x64", "stage4:2:2x2x128", "stage5:2:1x1x128", "head:0:10"]],
  ];
  for (const [preset, expected] of cases) {
    const m = buildModel(presetSpec(preset, 10));
    try {
      const stages = stageSummary(m);
      assert.deepEqual(stages.map((s) => `${s.name}:${s.units}:${s.outputShape.join("x")}`), expected, preset);
      assert.equal(stages.reduce((n, s) => n + s.params, 0), modelSummary(m).params, `${preset} parameters`);
      assert.equal(stages.reduce((n, s) => n + s.flops, 0), forwardFlops(m), `${preset} FLOPs`);
      assert.ok(stages.every((s) => s.name === "stem" || s.name === "head" || s.params > 0), `${preset}: every stage holds weights`);
    } finally {
      m.dispose();
    }
  }
});
