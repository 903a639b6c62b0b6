import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { loadMinicifar, subsetImages } from "../../src/data";
import { forwardFlops, modelSummary, presetSpec } from "../../src/models";
import { trainFromScratch } from "../../src/train/experiments";
import { DEFAULT_TRAIN } from "../../src/train/loop";
import { silentProgress } from "../../src/train/progress";
import { loadRuns } from "../../src/results/store";

test("a short run on real MINICIFAR images learns: loss falls, validation accuracy well above chance", { timeout: 600_000 }, async () => {
  const backend = await initBackend({ log: () => {} });
  const full = loadMinicifar();
  // 1 200 real training images (balanced enough: the split is shuffled), the real 800-image validation and test sets.
  const data = { ...full, train: subsetImages(full.train, Array.from({ length: 1200 }, (_, i) => i)) };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "results-"));
  const db = path.join(dir, "results.sqlite");
  process.env.LAB_RESULTS_DB = db;
  try {
    const before = tf.memory().numTensors;
    const { model, record } = await trainFromScratch({
      data,
      spec: presetSpec("ResNet8-w8", 4),
      train: { ...DEFAULT_TRAIN, epochs: 3, batchSize: 32, seed: 1 },
      profile: "test",
      hooks: { progress: silentProgress },
    });
    const e = record.epochs;
    console.log(`backend ${backend}: ${e.map((m) => `loss ${m.trainLoss.toFixed(3)} val ${(100 * m.valAccuracy).toFixed(1)}%`).join(" → ")}; test ${(100 * record.testAccuracy).toFixed(1)}%; ${record.trainImagesPerSecond.toFixed(1)} img/s; inference ${record.inferenceMsPerImage?.toFixed(2)} ms/image; peak RSS ${((record.peakRssBytes ?? 0) / 2 ** 20).toFixed(0)} MiB`);
    assert.equal(e.length, 3);
    assert.ok(e[2].trainLoss < e[0].trainLoss, "training loss falls");
    assert.ok(e[0].trainLoss < Math.log(4) + 0.1, "first-epoch loss is below chance level");
    assert.ok(e[2].valAccuracy > 0.4, `validation accuracy ${e[2].valAccuracy} is well above chance (0.25)`);
    assert.ok(record.testAccuracy > 0.4, `test accuracy ${record.testAccuracy} is well above chance (0.25)`);
    // The record is stored in the SQLite store and read back, with what the run measured.
    const runs = loadRuns({}, db);
    assert.equal(runs.length, 1);
    assert.equal(runs[0].id, "test/scratch/ResNet8-w8");
    assert.deepEqual(runs[0], record);
    assert.equal(record.status, "done");
    assert.equal(record.flops, forwardFlops(model));
    assert.equal(record.sizeBytes, modelSummary(model).sizeBytes);
    assert.ok(record.inferenceMsPerImage! > 0 && record.inferenceMsPerImage! < 1000, `inference ${record.inferenceMsPerImage} ms/image`);
    assert.ok(record.peakRssBytes! > 50 * 2 ** 20, `peak RSS ${record.peakRssBytes}`);
    assert.equal(record.versions?.tfjs, tf.version.tfjs);
    assert.ok(record.startedAt! <= record.finishedAt!);
    model.dispose();
    // Training leaks no tensors (model weights disposed above).
    assert.ok(tf.memory().numTensors <= before + 2, `tensors before ${before}, after ${tf.memory().numTensors}`);
  } finally {
    delete process.env.LAB_RESULTS_DB;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("training is reproducible: the same seed gives the same weights on the same backend", { timeout: 300_000 }, async () => {
  await initBackend({ log: () => {} });
  const full = loadMinicifar();
  const data = { ...full, train: subsetImages(full.train, Array.from({ length: 96 }, (_, i) => i)), valid: subsetImages(full.valid, [0, 1, 2, 3]), test: subsetImages(full.test, [0, 1, 2, 3]) };
  // save: false — nothing is written to the results store.
  const once = async () => {
    const { model, record } = await trainFromScratch({
      data,
      spec: presetSpec("ResNet8-w8", 4),
      train: { ...DEFAULT_TRAIN, epochs: 2, batchSize: 32, seed: 3 },
      profile: "test",
      hooks: { progress: silentProgress },
      save: false,
    });
    const w = model.getWeights().map((t) => Array.from(t.dataSync()));
    model.dispose();
    return { w, losses: record.epochs.map((e) => e.trainLoss) };
  };
  const a = await once();
  const b = await once();
  assert.deepEqual(b.losses, a.losses);
  assert.deepEqual(b.w, a.w);
});
