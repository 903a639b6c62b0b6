/**
 * Checkpoint and resume (src/train/checkpoint.ts, trainModel's `hooks.checkpoint`): a real child process is killed
 * mid-epoch and resumed, and must end with bit-identical weights to an uninterrupted run; checkpoints from another
 * model, config or training set are refused naming what differs; corrupt files are refused by name.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { RandomState } from "../../src/data/random-state";
import { withInitSeed, torchInit } from "../../src/models/layers";
import type { ModelSpec, TrainSpec } from "../../src/results/types";
import { loadTrainCheckpoint } from "../../src/train/checkpoint";
import { featureSource, trainModel, type DataSource } from "../../src/train/loop";
import { silentProgress } from "../../src/train/progress";
import { tempDir } from "../data/helpers";

const CHILD = path.join(__dirname, "resume-child.ts");
const STEPS_PER_EPOCH = 12; // 384 images / batch 32

function runChild(file: string, out: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", CHILD, file, out], { encoding: "utf8", timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("a training run killed mid-epoch (SIGKILL) and resumed ends with the same weights as the uninterrupted run", { timeout: 900_000 }, async () => {
  const dir = tempDir("resume");
  // 1. Uninterrupted.
  const a = runChild(path.join(dir, "a.ckpt"), path.join(dir, "a.bin"));
  assert.equal(a.status, 0, a.stderr);
  const ra = JSON.parse(a.stdout.trim().split("\n").pop()!);
  assert.equal(ra.resumedEpochs, 0);
  assert.equal(ra.epochs, 4);
  // 2. Killed in the middle of epoch 3 (after the checkpoint of epoch 2).
  const bFile = path.join(dir, "b.ckpt");
  const killedAt = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, bFile, path.join(dir, "b-unused.bin")], { stdio: ["ignore", "pipe", "pipe"] });
    let buf = "";
    let err = "";
    let at = -1;
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      const steps = [...buf.matchAll(/STEP (\d+)/g)].map((m) => Number(m[1]));
      const last = steps.length ? steps[steps.length - 1] : 0;
      if (at < 0 && last >= 2 * STEPS_PER_EPOCH + 5) {
        at = last;
        child.kill("SIGKILL");
      }
    });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code, signal) => (signal === "SIGKILL" ? resolve(at) : reject(new Error(`child ended with ${code}/${signal} before the kill: ${err}`))));
  });
  assert.ok(killedAt > 2 * STEPS_PER_EPOCH && killedAt < 3 * STEPS_PER_EPOCH, `killed mid-epoch 3 (after step ${killedAt})`);
  const mid = loadTrainCheckpoint(bFile);
  assert.equal(mid.state.epoch, 2, "the checkpoint on disk is the one of epoch 2");
  assert.equal(mid.state.epochs.length, 2);
  assert.ok(Object.values(mid.state.dropout).some((c) => c > 0), "the dropout RNG state is saved");
  assert.ok(Object.keys(mid.optimizer.slots.momentum_buffer ?? {}).length > 0, "the momentum buffers are saved");
  assert.equal(mid.nextOrder?.length, 384, "the next epoch's data order is saved");
  // 3. Resumed: the same command again.
  const b = runChild(bFile, path.join(dir, "b.bin"));
  assert.equal(b.status, 0, b.stderr);
  const rb = JSON.parse(b.stdout.trim().split("\n").pop()!);
  assert.equal(rb.resumedEpochs, 2);
  assert.equal(rb.epochs, 4);
  const steps = [...b.stdout.matchAll(/STEP (\d+)/g)].map((m) => Number(m[1]));
  assert.equal(steps[0], 2 * STEPS_PER_EPOCH, "the resumed run starts at epoch 3");
  const wa = new Float32Array(fs.readFileSync(path.join(dir, "a.bin")).buffer.slice(0));
  const wb = new Float32Array(fs.readFileSync(path.join(dir, "b.bin")).buffer.slice(0));
  assert.equal(wb.length, wa.length);
  let diff = 0;
  for (let i = 0; i < wa.length; i++) if (!Object.is(wa[i], wb[i])) diff++;
  assert.equal(diff, 0, `${diff} of ${wa.length} weights differ between the resumed and the uninterrupted run`);
  assert.equal(rb.valAccuracy, ra.valAccuracy);
  console.log(`killed after step ${killedAt} of 48; resumed from epoch 2 on ${rb.backend}; ${wa.length} weights bit-identical; val ${(100 * ra.valAccuracy).toFixed(1)}%`);
});

// ---------------------------------------------------------------------------------------------------------------
// In-process cases on a linear model over synthetic features (fast).

const DIM = 6;
function blobs(n: number, seed: number): DataSource {
  const rs = new RandomState(seed);
  const labels = new Int32Array(n);
  const x = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 3;
    for (let d = 0; d < DIM; d++) x[i * DIM + d] = (d % 3 === labels[i] ? 1 : 0) + rs.randomSample() - 0.5;
  }
  return featureSource(x, DIM, labels, 3, seed);
}
const linear = (seed: number, units = 3) =>
  withInitSeed(seed, () => tf.sequential({ layers: [tf.layers.dense({ inputShape: [DIM], units, kernelInitializer: torchInit(), name: "fc" })] }));
const SPEC: TrainSpec = { optimizer: "adam", lr: 0.01, epochs: 3, batchSize: 16, schedule: "cosine", augment: [], seed: 3 };
const MSPEC = { name: "probe", family: "resnet", numClasses: 3, widths: [8] } as unknown as ModelSpec;

test("resuming refuses a checkpoint of another config, model or training set, naming each difference", async () => {
  await initBackend({ log: () => {} });
  const dir = tempDir("resume-refuse");
  const file = path.join(dir, "run.ckpt");
  const data = { train: blobs(96, 1), valid: blobs(30, 2) };
  const run = (spec: TrainSpec, o: { units?: number; data?: typeof data; modelSpec?: ModelSpec; resume?: boolean } = {}) =>
    trainModel(linear(1, o.units), o.data ?? data, spec, { progress: silentProgress, checkpoint: { file, modelSpec: o.modelSpec ?? MSPEC, resume: o.resume } });
  const first = await run(SPEC);
  assert.equal(first.resumedEpochs, 0);
  // A finished checkpoint resumes to the end without training again.
  const again = await run(SPEC);
  assert.equal(again.resumedEpochs, 3);
  assert.deepEqual(again.epochs, first.epochs);
  await assert.rejects(run({ ...SPEC, lr: 0.02 }), (e: Error) => /belongs to another run/.test(e.message) && /train\.lr: checkpoint 0\.01, this run 0\.02/.test(e.message) && e.message.includes(file));
  await assert.rejects(run({ ...SPEC, optimizer: "sgd", momentum: 0.9 }), /train\.optimizer: checkpoint "adam", this run "sgd"[\s\S]*train\.momentum: checkpoint absent, this run 0\.9/);
  await assert.rejects(run(SPEC, { modelSpec: { ...MSPEC, widths: [16] } }), /model\.widths: checkpoint \[8\], this run \[16\]/);
  await assert.rejects(run(SPEC, { units: 4 }), /weight fc\/0: checkpoint \[6,3\], this model \[6,4\]/);
  await assert.rejects(run(SPEC, { data: { train: blobs(90, 1), valid: data.valid } }), /was made on other training data: the image order of epoch 4 differs \(96 images then, 90 now\)/);
  // resume: false starts afresh and overwrites.
  const fresh = await run({ ...SPEC, lr: 0.02 }, { resume: false });
  assert.equal(fresh.resumedEpochs, 0);
  assert.equal(loadTrainCheckpoint(file).identity.train.lr, 0.02);
});

test("a corrupt, truncated or foreign checkpoint file is refused by name, and left as it is", async () => {
  await initBackend({ log: () => {} });
  const dir = tempDir("resume-corrupt");
  const file = path.join(dir, "run.ckpt");
  await trainModel(linear(1), { train: blobs(48, 1) }, { ...SPEC, epochs: 1 }, { progress: silentProgress, checkpoint: { file } });
  const good = fs.readFileSync(file);
  const cases: [string, Buffer, RegExp][] = [
    ["foreign", Buffer.from("PK\u0003\u0004 not a checkpoint"), /is not a minicifar-lab training checkpoint/],
    ["truncated header", good.subarray(0, 40), /is truncated: its header needs \d+ bytes, the file has 40/],
    ["truncated data", good.subarray(0, good.length - 8), /is truncated: tensor .* ends at byte \d+, the file has \d+/],
    ["corrupt header", Buffer.concat([good.subarray(0, 12), Buffer.from("{{{"), good.subarray(15)]), /has a corrupt header/],
  ];
  for (const [label, bytes, re] of cases) {
    fs.writeFileSync(file, bytes);
    await assert.rejects(
      trainModel(linear(1), { train: blobs(48, 1) }, { ...SPEC, epochs: 2 }, { progress: silentProgress, checkpoint: { file } }),
      (e: Error) => re.test(e.message) && e.message.includes(file),
      label,
    );
    assert.deepEqual(fs.readFileSync(file), bytes, `${label}: the file is left untouched`);
  }
  assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith(".tmp")).length, 0, "no temp files left behind");
});
