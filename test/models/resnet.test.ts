import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { ResNet18, ResNet50, buildModel, countParams, presetSpec, saveModel, loadModel, featureExtractor } from "../../src/models";

test("ResNet18 and ResNet50 have PyTorch's trainable parameter counts (anchors.md)", () => {
  const r18 = ResNet18(10);
  assert.equal(countParams(r18), 11_173_962);
  r18.dispose();
  const r50 = ResNet50(10);
  assert.equal(countParams(r50), 23_520_842);
  r50.dispose();
});

test("ResNet20-w16 (3 stages of 16/32/64) has 272k parameters at 4 classes, from knobs alone", () => {
  const m = buildModel(presetSpec("ResNet20-w16", 4));
  assert.equal(countParams(m), 272_084);
  assert.deepEqual(m.outputs[0].shape, [null, 4]);
  assert.deepEqual(featureExtractor(m).outputs[0].shape, [null, 64]);
  m.dispose();
});

test("stride-2 convs pad like PyTorch (symmetric), so a 32×32 input gives 16×16 and 8×8 stages", () => {
  const m = buildModel(presetSpec("ResNet8-w8", 4));
  assert.deepEqual(m.getLayer("layer2.0.conv1").outputShape, [null, 16, 16, 16]);
  assert.deepEqual(m.getLayer("layer3.0.conv1").outputShape, [null, 8, 8, 32]);
  m.dispose();
});

test("bad knobs name the value and list the valid ones", () => {
  assert.throws(() => presetSpec("ResNet9000", 4), /unknown model "ResNet9000"; valid: .*ResNet18/);
  assert.throws(() => buildModel(presetSpec("ResNet8-w8", 4, { activation: "tanhh" })), /unknown activation "tanhh"; valid: relu, leaky_relu, elu, gelu, silu/);
  assert.throws(() => buildModel(presetSpec("ResNet8-w8", 1)), /numClasses must be an integer ≥ 2, got 1/);
  assert.throws(() => buildModel(presetSpec("ResNet8-w8", 4, { widths: [8, 16] })), /blocks \(3 stages\) and widths \(2\)/);
});

test("every activation knob builds and runs", () => {
  for (const activation of ["relu", "leaky_relu", "elu", "gelu", "silu"]) {
    const m = buildModel(presetSpec("ResNet8-w8", 4, { activation, dropout: 0.2 }));
    const y = m.predict(tf.zeros([2, 32, 32, 3])) as tf.Tensor;
    assert.deepEqual(y.shape, [2, 4]);
    tf.dispose([y]);
    m.dispose();
  }
});

test("checkpoints round-trip weights exactly and are written atomically", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ckpt-"));
  try {
    const m = buildModel(presetSpec("ResNet8-w8", 4));
    await saveModel(m, dir, { note: "test" });
    assert.deepEqual(fs.readdirSync(dir).sort(), ["model.json", "weights.bin"]);
    const { model, meta } = await loadModel(dir);
    assert.equal(meta.note, "test");
    const a = m.getWeights();
    const b = model.getWeights();
    assert.equal(a.length, b.length);
    for (let i = 0; i < a.length; i++) assert.deepEqual(b[i].dataSync(), a[i].dataSync());
    fs.writeFileSync(path.join(dir, "weights.bin"), Buffer.alloc(10));
    await assert.rejects(loadModel(dir), /weights.bin holds 10 bytes but model.json describes \d+/);
    await assert.rejects(loadModel(path.join(dir, "nope")), /no checkpoint at .*nope/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the same seed builds bit-identical weights; another seed does not", () => {
  const spec = presetSpec("ResNet8-w8", 4, { dropout: 0.1 });
  const [a, b, c] = [buildModel(spec, 7), buildModel(spec, 7), buildModel(spec, 8)];
  const wa = a.getWeights().map((t) => Array.from(t.dataSync()));
  assert.deepEqual(b.getWeights().map((t) => Array.from(t.dataSync())), wa);
  assert.notDeepEqual(c.getWeights().map((t) => Array.from(t.dataSync())), wa);
  [a, b, c].forEach((m) => m.dispose());
});
