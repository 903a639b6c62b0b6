import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { buildModel, presetSpec } from "../../src/models";

/**
 * Our layers must compute what kuangliu's PyTorch modules compute, given the same state_dict. The outputs in
 * fixtures/kuangliu-forward.json come from fixtures/kuangliu_forward.py (torch 1.13, eval mode), with weights that
 * are a formula of the state_dict key, so no weights need storing: this checks stride-2 padding, the pre-activation
 * shortcut, DenseNet's [new, x] concatenation and transitions, VGG's conv bias and pooling, and the layer naming.
 */
const EXPECTED: Record<string, number[][]> = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "kuangliu-forward.json"), "utf8"));

/** The fixture's value of state_dict tensor `key` in PyTorch layout. */
function torchTensor(key: string, shape: number[], bnWeight = false): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Float32Array.from({ length: n }, (_, i) => 0.2 * Math.sin(0.37 * i + key.length) + (bnWeight || key.endsWith("running_var") ? 1 : 0));
  return tf.tensor(v, shape);
}

/** Load the fixture's weights by layer name = state_dict prefix, converting the layouts (OIHW → HWIO, [out, in] → [in, out]). */
function loadFixtureWeights(m: tf.LayersModel): void {
  for (const l of m.layers) {
    const cls = l.getClassName();
    const shapes = l.weights.map((w) => w.shape as number[]);
    let ws: tf.Tensor[] = [];
    if (cls === "Conv2D") {
      const [kh, kw, cin, cout] = shapes[0];
      ws = [torchTensor(`${l.name}.weight`, [cout, cin, kh, kw]).transpose([2, 3, 1, 0])];
      if (shapes.length > 1) ws.push(torchTensor(`${l.name}.bias`, [cout]));
    } else if (cls === "Dense") {
      const [cin, cout] = shapes[0];
      ws = [torchTensor(`${l.name}.weight`, [cout, cin]).transpose(), torchTensor(`${l.name}.bias`, [cout])];
    } else if (cls === "TorchBatchNorm") {
      const c = shapes[0][0];
      ws = [torchTensor(`${l.name}.weight`, [c], true), ...["bias", "running_mean", "running_var"].map((s) => torchTensor(`${l.name}.${s}`, [c]))];
    } else {
      assert.equal(shapes.length, 0, `${l.name} (${cls})`);
      continue;
    }
    l.setWeights(ws);
    tf.dispose(ws);
  }
}

const CASES: [string, ReturnType<typeof presetSpec>][] = [
  ["ResNet8-w8", presetSpec("ResNet8-w8", 4)],
  ["PreActResNet8-w16", presetSpec("PreActResNet8-w16", 4)],
  ["DenseNet-g12-small", presetSpec("DenseNet-g12-small", 4)],
  ["VGG11-w8", presetSpec("VGG11", 4, { widthMultiplier: 0.125 })],
];

for (const [name, spec] of CASES) {
  test(`${name} computes what kuangliu's PyTorch module computes (same state_dict, eval mode)`, () => {
    const m = buildModel(spec);
    loadFixtureWeights(m);
    const xs = Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(0.011 * i));
    const x = tf.tensor(xs, [2, 3, 32, 32]).transpose([0, 2, 3, 1]);
    const y = m.predict(x) as tf.Tensor;
    const got = y.arraySync() as number[][];
    const want = EXPECTED[name];
    for (let n = 0; n < 2; n++) {
      for (let k = 0; k < 4; k++) {
        assert.ok(Math.abs(got[n][k] - want[n][k]) <= 1e-3 * Math.max(1, Math.abs(want[n][k])), `${name}[${n}][${k}]: ${got[n][k]} vs PyTorch ${want[n][k]}`);
      }
    }
    tf.dispose([x, y]);
    m.dispose();
  });
}
