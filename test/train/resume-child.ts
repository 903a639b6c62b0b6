/**
 * Child process of resume.test.ts (not a test file itself):
 *   node --import tsx resume-child.ts <checkpoint file> <weights out file>
 * Trains ResNet8-w8 (with dropout inside the blocks and before the classifier) on 384 real MINICIFAR images for
 * 4 epochs with crop + flip + cutout and Nesterov SGD on a cosine schedule, checkpointing after every epoch and
 * resuming from the checkpoint when it exists. Prints "STEP n" after every optimizer step (the parent kills it
 * mid-epoch), then one JSON line with the result; writes the final weights (every layer, in order) to the out file.
 */
import * as fs from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../src/backend";
import { loadMinicifar, subsetImages } from "../../src/data";
import { buildModel, presetSpec } from "../../src/models";
import { imageSource } from "../../src/train/experiments";
import { DEFAULT_TRAIN, trainModel } from "../../src/train/loop";
import type { TrainSpec } from "../../src/results/types";

export const RESUME_TRAIN: TrainSpec = {
  ...DEFAULT_TRAIN,
  lr: 0.05,
  momentum: 0.9,
  nesterov: true,
  epochs: 4,
  batchSize: 32,
  augment: ["crop4", "hflip", "cutout8"],
  seed: 7,
};
export const RESUME_IMAGES = 384;

async function main(): Promise<void> {
  const [file, out] = process.argv.slice(2);
  await initBackend({ log: () => {} });
  const full = loadMinicifar();
  const train = subsetImages(full.train, Array.from({ length: RESUME_IMAGES }, (_, i) => i));
  const valid = subsetImages(full.valid, Array.from({ length: 128 }, (_, i) => i));
  const spec = presetSpec("ResNet8-w8", 4, { dropout: 0.2, blockDropout: 0.1 });
  const model = buildModel(spec, RESUME_TRAIN.seed);
  const result = await trainModel(
    model,
    { train: imageSource(train, RESUME_TRAIN), valid: imageSource(valid, RESUME_TRAIN) },
    RESUME_TRAIN,
    {
      checkpoint: { file, modelSpec: spec },
      progress: { start() {}, update: (done) => process.stdout.write(`STEP ${done}\n`), end() {} },
    },
  );
  const parts = model.weights.map((w) => w.read().dataSync() as Float32Array);
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  fs.writeFileSync(out, Buffer.from(all.buffer));
  process.stdout.write(JSON.stringify({ resumedEpochs: result.resumedEpochs, epochs: result.epochs.length, valAccuracy: result.epochs.at(-1)!.valAccuracy, backend: tf.getBackend() }) + "\n");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
