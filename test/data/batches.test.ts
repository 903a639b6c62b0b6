import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { batches, toTensor, normalize, augmentInto, normalizationTable, CIFAR_MEAN, CIFAR_STD, batchCount } from "../../src/data/batches";
import { IMAGE_BYTES, ImageSet } from "../../src/data/types";

function synthetic(n: number): ImageSet {
  const images = new Uint8Array(n * IMAGE_BYTES);
  for (let i = 0; i < images.length; i++) images[i] = (i * 7 + Math.floor(i / IMAGE_BYTES) * 13) % 256;
  return { images, labels: Int32Array.from({ length: n }, (_, i) => i % 3), classNames: ["a", "b", "c"], n };
}

test("normalisation uses the kuangliu mean/std", () => {
  const set = synthetic(1);
  const x = normalize(set);
  for (const i of [0, 1, 2, 100, 3071]) {
    const c = i % 3;
    assert.ok(Math.abs(x[i] - (set.images[i] / 255 - CIFAR_MEAN[c]) / CIFAR_STD[c]) < 1e-6);
  }
  const { x: t, y } = toTensor(set, { oneHot: true });
  assert.deepEqual(t.shape, [1, 32, 32, 3]);
  assert.deepEqual(y.shape, [1, 3]);
  assert.deepEqual(Array.from(t.dataSync().slice(0, 3)), Array.from(x.slice(0, 3)));
  tf.dispose([t, y]);
});

test("augmentInto: shift pads with raw 0 (then normalised), flip mirrors", () => {
  const set = synthetic(1);
  const lut = normalizationTable();
  const out = new Float32Array(IMAGE_BYTES);
  augmentInto(set.images, 0, out, 0, lut, -4, 3, false);
  const px = (y: number, x: number, c: number) => out[(y * 32 + x) * 3 + c];
  const src = (y: number, x: number, c: number) => lut[c * 256 + set.images[(y * 32 + x) * 3 + c]];
  assert.ok(Math.abs(px(0, 0, 0) - (0 - CIFAR_MEAN[0]) / CIFAR_STD[0]) < 1e-6); // rows 0..3 padded
  assert.equal(px(3, 10, 2), lut[512]);
  assert.equal(px(4, 0, 1), src(0, 3, 1));
  assert.equal(px(31, 28, 0), src(27, 31, 0));
  assert.equal(px(31, 29, 0), lut[0]); // past the right edge
  augmentInto(set.images, 0, out, 0, lut, 0, 0, true);
  assert.equal(px(5, 0, 1), src(5, 31, 1));
  assert.equal(px(5, 31, 2), src(5, 0, 2));
});

test("batches: shapes, labels, determinism per seed/epoch, dropLast, oneHot", () => {
  const set = synthetic(10);
  const run = (seed: number, epoch: number) => {
    const out: { x: number[]; y: number[]; idx: number[] }[] = [];
    for (const b of batches(set, { batchSize: 4, shuffle: true, augment: true, seed, epoch })) {
      out.push({ x: Array.from(b.x.dataSync()), y: Array.from(b.y.dataSync()), idx: Array.from(b.indices) });
      assert.equal(b.y.dtype, "int32");
      assert.deepEqual(b.x.shape, [b.size, 32, 32, 3]);
      tf.dispose([b.x, b.y]);
    }
    return out;
  };
  const a = run(1, 0);
  assert.deepEqual(a.map((b) => b.idx.length), [4, 4, 2]);
  assert.deepEqual(run(1, 0), a);
  assert.notDeepEqual(run(1, 1).map((b) => b.idx), a.map((b) => b.idx));
  assert.notDeepEqual(run(2, 0), a);
  assert.deepEqual(a.flatMap((b) => b.idx).sort((p, q) => p - q), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (const b of a) assert.deepEqual(b.y, b.idx.map((i) => i % 3));
  assert.equal(batchCount(10, 4, true), 2);
  const before = tf.memory().numTensors;
  const sizes: number[] = [];
  for (const b of batches(set, { batchSize: 4, dropLast: true, oneHot: true })) {
    sizes.push(b.size);
    assert.deepEqual(b.y.shape, [4, 3]);
    assert.deepEqual(Array.from(b.y.dataSync()), Array.from(b.indices).flatMap((i) => [0, 1, 2].map((c) => (c === i % 3 ? 1 : 0))));
    tf.dispose([b.x, b.y]);
  }
  assert.deepEqual(sizes, [4, 4]);
  assert.equal(tf.memory().numTensors, before);
  // without augmentation and shuffle, a batch equals plain normalisation
  const first = batches(set, { batchSize: 10 }).next().value!;
  assert.deepEqual(Array.from(first.x.dataSync()), Array.from(normalize(set)));
  tf.dispose([first.x, first.y]);
  assert.throws(() => batches(set, { batchSize: 0 }).next(), /batchSize must be a positive integer, got 0/);
});

test("augmentation statistics: about half flipped, crops spread over -4..4", () => {
  const set = synthetic(1);
  const many: ImageSet = { ...set, images: new Uint8Array(400 * IMAGE_BYTES), labels: new Int32Array(400), n: 400 };
  for (let i = 0; i < 400; i++) many.images.set(set.images, i * IMAGE_BYTES);
  const plain = normalize(set);
  let identical = 0;
  for (const b of batches(many, { batchSize: 400, augment: { crop: 0, flip: true }, seed: 3 })) {
    const d = b.x.dataSync();
    for (let i = 0; i < 400; i++) {
      let same = true;
      for (let j = 0; j < IMAGE_BYTES && same; j++) same = d[i * IMAGE_BYTES + j] === plain[j];
      if (same) identical++;
    }
    tf.dispose([b.x, b.y]);
  }
  assert.ok(identical > 150 && identical < 250, `unflipped: ${identical}/400`);
});
