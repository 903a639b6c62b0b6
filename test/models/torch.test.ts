/**
 * PyTorch checkpoint import (src/models/torch) against fixtures written by scripts/torch_oracle.py
 * (/usr/bin/python3 with Debian's torch): logits must match PyTorch's eval-mode logits, and malicious or
 * broken checkpoints must fail with a clear error without running anything.
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import type { ModelSpec } from "../../src/results/types";
import { initBackend } from "../../src/backend";
import { buildModel, presetSpec } from "../../src/models";
import { applyStateDict } from "../../src/models/torch/apply";
import { logitsCommand, predictLogits, readCifarImages } from "../../src/models/torch/cli";
import { gatherStrided, loadTorchStateDict, parseTorchStateDict } from "../../src/models/torch/load";
import { PyDict, torchPersistentId, unpickle } from "../../src/models/torch/unpickle";
import { ZipArchive } from "../../src/models/torch/zip";

const FIX = path.join(__dirname, "..", "fixtures", "torch");
const fx = (f: string) => path.join(FIX, f);
const PWNED = "/tmp/minicifar-torch-oracle-pwned";

/** max |a − b| / max(max |b|, 0.01): relative to the reference's scale, with a small absolute floor. */
export function relDiff(a: number[][], b: number[][]): number {
  assert.equal(a.length, b.length, "number of images");
  let diff = 0;
  let scale = 0.01;
  a.forEach((row, i) => {
    assert.equal(row.length, b[i].length, "number of classes");
    row.forEach((v, j) => {
      diff = Math.max(diff, Math.abs(v - b[i][j]));
      scale = Math.max(scale, Math.abs(b[i][j]));
    });
  });
  return diff / scale;
}

interface Oracle {
  preset: string;
  /** ModelSpec overrides of the preset (narrower widths keep the fixtures small). */
  overrides?: Partial<ModelSpec>;
  numClasses: number;
  logits: number[][];
}
const oracle = (name: string): Oracle => JSON.parse(fs.readFileSync(fx(`${name}.logits.json`), "utf8"));

function logitsOf(model: tf.LayersModel, weights: string, input = fx("input.bin"), labelBytes: 1 | 2 = 1): number[][] {
  try {
    applyStateDict(model, loadTorchStateDict(weights));
    const { n, x } = readCifarImages(input, labelBytes);
    return predictLogits(model, x, n);
  } finally {
    model.dispose();
  }
}

/** Run logitsCommand capturing stdout and stderr. */
async function runLogits(args: string[]): Promise<{ rc: number; out: string; err: string }> {
  const w = { out: "", err: "" };
  const o = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => ((w.out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((w.err += s), true)) as typeof process.stderr.write;
  try {
    const rc = await logitsCommand(args);
    return { rc, ...w };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

before(async () => {
  fs.rmSync(PWNED, { force: true });
  await initBackend({ log: () => {} });
});

/** Families with oracle fixtures: fixture name → variants that exist. */
const FAMILIES = fs
  .readdirSync(FIX)
  .filter((f) => f.endsWith(".logits.json"))
  .map((f) => f.slice(0, -".logits.json".length));

test("the oracle fixtures exist (run /usr/bin/python3 scripts/torch_oracle.py to regenerate)", () => {
  assert.ok(FAMILIES.includes("resnet8-w8"), `fixtures: ${FAMILIES.join(", ")}`);
});

for (const name of FAMILIES) {
  const variants = ["net", "bare", "module", "strided", "double", "legacy"].filter((v) => fs.existsSync(fx(`${name}.${v}.pth`)));
  for (const variant of variants) {
    test(`${name}.${variant}.pth: logits match PyTorch's eval-mode logits within 1e-4 relative`, (t) => {
      const o = oracle(name);
      let model: tf.LayersModel;
      try {
        model = buildModel(presetSpec(o.preset, o.numClasses, o.overrides ?? {}));
      } catch (err) {
        // The model family may not be in this checkout yet (fixtures are written for every kuangliu family).
        t.skip(`cannot build ${o.preset}: ${(err as Error).message}`);
        return;
      }
      const ours = logitsOf(model, fx(`${name}.${variant}.pth`));
      const d = relDiff(ours, o.logits);
      process.stderr.write(`# ${name}.${variant}: max |ours - torch| / scale = ${d.toExponential(2)}\n`);
      assert.ok(d < 1e-4, `relative difference ${d}`);
    });
  }
}

test("the three checkpoint layouts give the same keys, without `module.` and without num_batches_tracked in the model", () => {
  const net = loadTorchStateDict(fx("resnet8-w8.net.pth"));
  const bare = loadTorchStateDict(fx("resnet8-w8.bare.pth"));
  const mod = loadTorchStateDict(fx("resnet8-w8.module.pth"));
  assert.deepEqual([...bare.keys()], [...net.keys()]);
  assert.deepEqual([...mod.keys()], [...net.keys()]);
  assert.ok(net.has("layer2.0.shortcut.0.weight") && net.has("bn1.num_batches_tracked"));
  assert.deepEqual(net.get("conv1.weight")!.shape, [8, 3, 3, 3]);
  assert.equal(net.get("conv1.weight")!.dtype, "float32");
  assert.equal(loadTorchStateDict(fx("resnet8-w8.double.pth")).get("conv1.weight")!.dtype, "float64");
});

test("logits command prints one JSON array of logits per image, CIFAR-10 and CIFAR-100 record formats", async () => {
  const o = oracle("resnet8-w8");
  const args = ["--model", "ResNet8-w8", "--classes", "10", "--weights", fx("resnet8-w8.net.pth"), "--json"];
  const r10 = await runLogits([...args, "--input", fx("input.bin")]);
  assert.equal(r10.rc, 0, r10.err);
  const got = JSON.parse(r10.out) as number[][];
  assert.equal(got.length, 6);
  assert.ok(relDiff(got, o.logits) < 1e-4);
  const r100 = await runLogits([...args, `--input=${fx("input100.bin")}`, "--cifar100"]);
  assert.equal(r100.rc, 0, r100.err);
  assert.ok(relDiff(JSON.parse(r100.out), o.logits) < 1e-4);
});

test("logits command: usage errors exit 2, unusable files exit 1 naming the file", async () => {
  const u = await runLogits(["--model", "ResNet8-w8", "--classes", "10"]);
  assert.equal(u.rc, 2);
  assert.match(u.err, /missing --weights/);
  const m = await runLogits(["--model", "Nope", "--classes", "10", "--weights", "x", "--input", "y"]);
  assert.equal(m.rc, 2);
  assert.match(m.err, /unknown model "Nope"; valid: .*ResNet8-w8/);
  const w = await runLogits(["--model", "ResNet8-w8", "--classes", "10", "--weights", fx("bad-other-width.pth"), "--input", fx("input.bin")]);
  assert.equal(w.rc, 1);
  assert.match(w.err, /shape mismatch for conv1\.weight/);
  const c = await runLogits(["--model", "ResNet8-w8", "--classes", "10", "--weights", fx("resnet8-w8.net.pth"), "--input", fx("input100.bin")]);
  assert.equal(c.rc, 1);
  assert.match(c.err, /input100\.bin: .* not a whole number of 3073-byte CIFAR records.*--cifar100/);
});

test("a pickle calling os.system is refused by name and nothing runs", () => {
  assert.throws(() => loadTorchStateDict(fx("bad-os-system.pth")), /bad-os-system\.pth.*refusing global (posix|os)\.system/);
  assert.throws(() => loadTorchStateDict(fx("bad-eval.pth")), /refusing global builtins\.eval/);
  assert.throws(() => loadTorchStateDict(fx("bad-eval.pkl")), /refusing global builtins\.eval/);
  const raw = new Uint8Array(Buffer.from("\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R.", "latin1"));
  assert.throws(() => unpickle(raw), /refusing global os\.system/);
  assert.ok(!fs.existsSync(PWNED), "the malicious command ran");
});

test("object construction opcodes and unknown opcodes are refused", () => {
  // NEWOBJ on an allowed class still constructs nothing.
  const newobj = new Uint8Array(Buffer.from("\x80\x02ccollections\nOrderedDict\n)\x81.", "latin1"));
  assert.throws(() => unpickle(newobj), /refusing object construction opcode 0x81/);
  assert.throws(() => unpickle(new Uint8Array([0x80, 0x02, 0xff])), /unsupported pickle opcode 0xff/);
  assert.throws(() => unpickle(new Uint8Array([0x80, 0x02, 0x4b])), /truncated pickle/);
});

test("a protocol-5 pickle gives a clear error naming the protocol", () => {
  assert.throws(() => loadTorchStateDict(fx("bad-protocol5.pth")), /bad-protocol5\.pth.*unsupported pickle protocol 5/);
});

test("a truncated checkpoint gives a clear error naming the file", () => {
  assert.throws(() => loadTorchStateDict(fx("bad-truncated.pth")), /bad-truncated\.pth: not a readable zip archive .*truncated or corrupt/);
  assert.throws(() => parseTorchStateDict(new Uint8Array([1, 2, 3]), "junk.pth"), /junk\.pth: not a PyTorch checkpoint/);
});

test("a state dict of another width lists every wrongly shaped key with both shapes", () => {
  const model = buildModel(presetSpec("ResNet8-w8", 10));
  const sd = loadTorchStateDict(fx("bad-other-width.pth"));
  const before = model.getLayer("conv1").getWeights()[0].dataSync().slice();
  assert.throws(() => applyStateDict(model, sd), (err: Error) => {
    assert.match(err.message, /shape mismatch for conv1\.weight: model expects \[8, 3, 3, 3\], checkpoint has \[4, 3, 3, 3\]/);
    assert.match(err.message, /shape mismatch for layer3\.0\.shortcut\.1\.running_var: model expects \[32\], checkpoint has \[16\]/);
    assert.match(err.message, /shape mismatch for linear\.weight: model expects \[10, 32\], checkpoint has \[10, 16\]/);
    return true;
  });
  assert.deepEqual(model.getLayer("conv1").getWeights()[0].dataSync(), before, "strict failure changed weights");
  const report = applyStateDict(model, sd, { strict: false });
  assert.equal(report.missing.length, 0);
  assert.equal(report.unexpected.length, 0);
  // Every weight except linear.bias (10 classes on both sides) has another shape.
  assert.deepEqual(report.mismatched.map((m) => m.key).filter((k) => k.startsWith("linear")), ["linear.weight"]);
  model.dispose();
});

test("missing and unexpected keys are all listed; a 4-class model rejects a 10-class head", () => {
  const sd = loadTorchStateDict(fx("resnet8-w8.net.pth"));
  sd.delete("layer1.0.bn2.running_mean");
  sd.delete("conv1.weight");
  sd.set("fc.weight", { shape: [2], dtype: "float32", data: new Float32Array(2) });
  const model = buildModel(presetSpec("ResNet8-w8", 10));
  assert.throws(() => applyStateDict(model, sd), /missing keys \(2\): conv1\.weight, layer1\.0\.bn2\.running_mean\n {2}unexpected keys \(1\): fc\.weight/);
  model.dispose();
  const four = buildModel(presetSpec("ResNet8-w8", 4));
  assert.throws(() => applyStateDict(four, loadTorchStateDict(fx("resnet8-w8.net.pth"))), /linear\.weight: model expects \[4, 32\], checkpoint has \[10, 32\][^]*linear\.bias: model expects \[4\], checkpoint has \[10\]/);
  four.dispose();
});

test("gatherStrided handles offsets, transposes and bounds", () => {
  const storage = Float32Array.from([9, 0, 1, 2, 3, 4, 5]);
  // A 2×3 row-major matrix at offset 1, read transposed (3×2, strides [1, 3]).
  assert.deepEqual([...gatherStrided(storage, 1, [3, 2], [1, 3])], [0, 3, 1, 4, 2, 5]);
  assert.deepEqual([...gatherStrided(storage, 1, [2, 3], [3, 1])], [0, 1, 2, 3, 4, 5]);
  assert.deepEqual([...gatherStrided(storage, 2, [3], [0])], [1, 1, 1]);
  assert.throws(() => gatherStrided(storage, 2, [2, 3], [3, 1]), /reaches outside its storage of 7 elements/);
});

test("zip reader lists entries and the state_dict pickle parses to an OrderedDict", () => {
  const zip = new ZipArchive(fs.readFileSync(fx("resnet8-w8.net.pth")), "net.pth");
  assert.ok(zip.has("resnet8-w8.net/data.pkl"));
  assert.throws(() => zip.read("nope"), /net\.pth: zip archive has no entry "nope"/);
  const top = unpickle(zip.read("resnet8-w8.net/data.pkl"), { persistentLoad: (pid) => torchPersistentId(pid) });
  assert.ok(top instanceof PyDict && top.get("net") instanceof PyDict && (top.get("net") as PyDict).ordered);
});

test("full-size kuangliu nets (100 classes, DataParallel keys) match PyTorch, when Debian's torch is installed", (t) => {
  const py = "/usr/bin/python3";
  if (!fs.existsSync(py) || spawnSync(py, ["-c", "import torch"], { stdio: "ignore" }).status !== 0) {
    t.skip("needs /usr/bin/python3 with torch (apt install python3-torch)");
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "torch-full-"));
  try {
    const script = path.join(__dirname, "..", "..", "scripts", "torch_oracle.py");
    const r = spawnSync(py, [script, "--full", dir], { encoding: "utf8", timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".logits.json")).sort()) {
      const name = f.slice(0, -".logits.json".length);
      const o = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as Oracle;
      let model: tf.LayersModel;
      try {
        model = buildModel(presetSpec(o.preset, o.numClasses, o.overrides ?? {}));
      } catch (err) {
        process.stderr.write(`# ${name}: skipped, cannot build ${o.preset}: ${(err as Error).message.split(";")[0]}\n`);
        continue;
      }
      const ours = logitsOf(model, path.join(dir, `${name}.pth`), path.join(dir, "input100.bin"), 2);
      const d = relDiff(ours, o.logits);
      process.stderr.write(`# full ${name}: max |ours - torch| / scale = ${d.toExponential(2)}\n`);
      assert.ok(d < 1e-4, `${name}: relative difference ${d}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a Dense fed by a Flatten of an H×W×C map takes PyTorch's C·H·W input order", () => {
  const [H, W, C, O] = [2, 3, 4, 5];
  const input = tf.input({ shape: [H, W, C] });
  const flat = tf.layers.flatten({ name: "flatten" }).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: O, name: "fc" }).apply(flat) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const w = Float32Array.from({ length: O * C * H * W }, (_, i) => Math.sin(i));
  const b = Float32Array.from({ length: O }, (_, i) => i / 10);
  applyStateDict(model, new Map([
    ["fc.weight", { shape: [O, C * H * W], dtype: "float32", data: w }],
    ["fc.bias", { shape: [O], dtype: "float32", data: b }],
  ]));
  const x = Float32Array.from({ length: H * W * C }, (_, i) => Math.cos(3 * i));
  const got = (model.predict(tf.tensor4d(x, [1, H, W, C])) as tf.Tensor).arraySync() as number[][];
  // PyTorch: out[o] = b[o] + Σ_{c,h,w} W[o, c·H·W + h·W + w] · x_nchw[c, h, w]
  for (let o = 0; o < O; o++) {
    let ref = b[o];
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++) for (let ww = 0; ww < W; ww++) ref += w[o * C * H * W + c * H * W + h * W + ww] * x[(h * W + ww) * C + c];
    assert.ok(Math.abs(got[0][o] - ref) < 1e-4, `output ${o}: ${got[0][o]} vs ${ref}`);
  }
  model.dispose();
});
