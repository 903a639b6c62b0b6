import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "path";
import { minicifarIndices, minicifarJson, parseMinicifarArgs, loadMinicifar } from "../../src/data/minicifar";
import { decodeImageInto } from "../../src/data/folders";
import { classCounts, IMAGE_BYTES } from "../../src/data/types";
import { HAS_SHARED_C10, SHARED } from "./helpers";

test("minicifarJson default: lengths, first values and key order", () => {
  const j = minicifarJson();
  assert.deepEqual(Object.keys(j), ["classes", "trainPositions", "testPositions", "trainIndices", "validIndices"]);
  assert.deepEqual(j.classes, ["airplane", "automobile", "bird", "cat"]);
  assert.equal(j.trainPositions.length, 1000);
  assert.equal(j.testPositions.length, 200);
  assert.equal(j.trainIndices.length, 3200);
  assert.equal(j.validIndices.length, 800);
  assert.deepEqual(j.trainPositions.slice(0, 10), [1501, 2586, 2653, 1055, 705, 106, 589, 2468, 2413, 1600]);
  // values below computed with numpy's legacy RandomState (/usr/bin/python3)
  assert.deepEqual(j.testPositions.slice(0, 10), [521, 737, 740, 660, 411, 678, 626, 513, 859, 136]);
  assert.deepEqual(j.trainIndices.slice(0, 10), [1130, 1875, 3301, 2220, 959, 309, 726, 1668, 3, 1935]);
  assert.deepEqual(j.validIndices.slice(0, 5), [2156, 2210, 2906, 3443, 2971]);
  assert.deepEqual([...j.trainIndices, ...j.validIndices].sort((a, b) => a - b), Array.from({ length: 4000 }, (_, i) => i));
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(j)));
});

test("minicifarIndices options: class names, R, trainSize", () => {
  const s = minicifarIndices({ classes: ["cat", "dog"], R: 10, trainSize: 0.5 });
  assert.deepEqual(s.classes, ["cat", "dog"]);
  assert.equal(s.trainPositions.length, 500);
  assert.equal(s.testPositions.length, 100);
  assert.equal(s.trainIndices.length, 500);
  assert.equal(s.validIndices.length, 500);
  assert.deepEqual(minicifarIndices({ nClasses: 2 }).trainIndices.slice(0, 5), [1338, 577, 1499, 6, 463]); // numpy: shuffle(range(2000))
  assert.deepEqual(minicifarIndices({ classes: 3 }).classes, ["airplane", "automobile", "bird"]);
});

test("unknown class name: error lists the valid names", () => {
  assert.throws(() => minicifarIndices({ classes: ["cat", "unicorn"] }), /unknown CIFAR-10 class "unicorn"; valid names: airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck/);
  assert.throws(() => minicifarIndices({ classes: ["cat", "cat"] }), /"cat" is listed twice/);
  assert.throws(() => minicifarIndices({ nClasses: 11 }), /from 1 to 10, got 11/);
  assert.throws(() => minicifarIndices({ R: 0.5 }), /R \(reduction factor\) must be a number >= 1, got 0.5/);
  assert.throws(() => minicifarIndices({ trainSize: 1.5 }), /trainSize must be a fraction in \(0, 1\], got 1.5/);
});

test("parseMinicifarArgs: values and clear errors", () => {
  assert.deepEqual(parseMinicifarArgs([]), {});
  assert.deepEqual(parseMinicifarArgs(["--classes", "3", "--R", "10", "--train-size", "0.75"]), { classes: 3, R: 10, trainSize: 0.75 });
  assert.deepEqual(parseMinicifarArgs(["--classes=cat,dog", "--seed", "1"]), { classes: ["cat", "dog"], seed: 1 });
  assert.throws(() => parseMinicifarArgs(["--classes", "cat,zebra"]), /unknown CIFAR-10 class "zebra"; valid names: airplane/);
  assert.throws(() => parseMinicifarArgs(["--R", "abc"]), /--R: expected a number, got "abc"/);
  assert.throws(() => parseMinicifarArgs(["--R", "0"]), /--R: the reduction factor must be >= 1, got "0"/);
  assert.throws(() => parseMinicifarArgs(["--train-size", "2"]), /--train-size: expected a fraction in \(0, 1\], got "2"/);
  assert.throws(() => parseMinicifarArgs(["--R"]), /--R: missing value/);
  assert.throws(() => parseMinicifarArgs(["--classes", "--R", "5"]), /--classes: missing value/);
  assert.throws(() => parseMinicifarArgs(["--bogus"]), /unknown option "--bogus"/);
  assert.throws(() => parseMinicifarArgs(["--classes", "11"]), /from 1 to 10, got 11/);
});

test("loadMinicifar on the real CIFAR-10 JPEGs: sizes, balance, images at the drawn positions", { skip: !HAS_SHARED_C10 && "no ../shared/data/cifar10-jpeg" }, () => {
  const m = loadMinicifar({ roots: [SHARED] });
  assert.deepEqual(m.classes, ["airplane", "automobile", "bird", "cat"]);
  assert.equal(m.train.n + m.valid.n, 4000);
  assert.equal(m.train.n, 3200);
  assert.equal(m.valid.n, 800);
  assert.equal(m.test.n, 800);
  assert.deepEqual(classCounts(m.test), [200, 200, 200, 200]);
  const tc = classCounts(m.train);
  const vc = classCounts(m.valid);
  assert.deepEqual(tc.map((c, i) => c + vc[i]), [1000, 1000, 1000, 1000]);
  assert.equal(m.train.images.length, 3200 * IMAGE_BYTES);
  // train[0] is subset image trainIndices[0] = 1130 → class 1 (automobile), position trainPositions[130]
  const k = m.indices.trainIndices[0];
  const cls = Math.floor(k / 1000);
  const pos = m.indices.trainPositions[k % 1000];
  assert.equal(m.train.labels[0], cls);
  const want = new Uint8Array(IMAGE_BYTES);
  decodeImageInto(path.join(SHARED, "cifar10-jpeg", "train", m.classes[cls], `${String(pos).padStart(4, "0")}.jpg`), want, 0);
  assert.deepEqual(m.train.images.subarray(0, IMAGE_BYTES), want);
  // test image 200 = class 1 at testPositions[0]
  decodeImageInto(path.join(SHARED, "cifar10-jpeg", "test", "automobile", `${String(m.indices.testPositions[0]).padStart(4, "0")}.jpg`), want, 0);
  assert.deepEqual(m.test.images.subarray(200 * IMAGE_BYTES, 201 * IMAGE_BYTES), want);
  assert.equal(m.test.labels[200], 1);
});
