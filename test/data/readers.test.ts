import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { execFileSync } from "child_process";
import { PNG } from "pngjs";
import * as jpeg from "jpeg-js";
import { readCifar10Binary, readCifar10BinaryDir, readCifar100Binary, readCifar100BinaryDir } from "../../src/data/cifar-binary";
import { decodeImageInto, readImageFolder, listImageFiles } from "../../src/data/folders";
import { cacheStats, resetCacheStats } from "../../src/data/cache";
import { loadCifar10 } from "../../src/data/cifar10";
import { IMAGE_BYTES, CIFAR10_CLASSES } from "../../src/data/types";
import { FIXTURES, SHARED, HAS_SHARED_C10, HAS_SHARED_C100, tempDir, withEnv } from "./helpers";

const C10 = path.join(FIXTURES, "cifar-10-batches-bin");
const C100 = path.join(FIXTURES, "cifar-100-binary");

/** Pixel (y, x, c) of record r read directly from an official planar file. */
function planar(buf: Buffer, recordSize: number, headerBytes: number, r: number, y: number, x: number, c: number): number {
  return buf[r * recordSize + headerBytes + c * 1024 + y * 32 + x];
}

test("CIFAR-10 binary: labels, HWC conversion and pixels match the source JPEG decodes", () => {
  const set = readCifar10Binary(path.join(C10, "test_batch.bin"));
  assert.equal(set.n, 3);
  assert.deepEqual(Array.from(set.labels), [0, 3, 9]);
  assert.deepEqual(set.classNames, CIFAR10_CLASSES);
  const raw = fs.readFileSync(path.join(C10, "test_batch.bin"));
  for (const [r, y, x, c] of [[0, 0, 0, 0], [1, 5, 17, 1], [2, 31, 31, 2], [2, 0, 31, 0]]) {
    assert.equal(set.images[r * IMAGE_BYTES + (y * 32 + x) * 3 + c], planar(raw, 3073, 1, r, y, x, c));
  }
  if (HAS_SHARED_C10) {
    const manifest = JSON.parse(fs.readFileSync(path.join(FIXTURES, "cifar10-sources.json"), "utf8")) as { file: string; record: number; source: string }[];
    for (const m of manifest.filter((e) => e.file === "test_batch.bin")) {
      const want = new Uint8Array(IMAGE_BYTES);
      decodeImageInto(path.join(SHARED, "cifar10-jpeg", m.source), want, 0);
      assert.deepEqual(set.images.subarray(m.record * IMAGE_BYTES, (m.record + 1) * IMAGE_BYTES), want, m.source);
    }
  }
});

test("CIFAR-10 binary folder: train reads the 5 batches in order, names from batches.meta.txt", () => {
  const tr = readCifar10BinaryDir(C10, "train");
  assert.equal(tr.n, 5);
  assert.deepEqual(Array.from(tr.labels), [1, 3, 5, 7, 9]);
  assert.equal(tr.classNames[9], "truck");
  assert.throws(() => readCifar10BinaryDir(path.join(FIXTURES, "nope"), "train"), /incomplete: missing data_batch_1.bin/);
});

test("CIFAR-100 binary: fine and coarse labels and pixels match the shared test.bin bytes", () => {
  const set = readCifar100BinaryDir(C100, "test");
  assert.equal(set.n, 3);
  const raw = fs.readFileSync(path.join(C100, "test.bin"));
  for (let r = 0; r < 3; r++) {
    assert.equal(set.coarseLabels![r], raw[r * 3074]);
    assert.equal(set.labels[r], raw[r * 3074 + 1]);
    for (const [y, x, c] of [[0, 0, 0], [13, 7, 1], [31, 30, 2]]) {
      assert.equal(set.images[r * IMAGE_BYTES + (y * 32 + x) * 3 + c], planar(raw, 3074, 2, r, y, x, c));
    }
  }
  assert.equal(set.classNames.length, 100);
  assert.equal(set.coarseClassNames!.length, 20);
  if (HAS_SHARED_C100) {
    const src = fs.readFileSync(path.join(SHARED, "cifar100-binary", "test.bin"));
    const { records } = JSON.parse(fs.readFileSync(path.join(FIXTURES, "cifar100-sources.json"), "utf8")) as { records: number[] };
    records.forEach((rec, r) => assert.ok(src.subarray(rec * 3074, (rec + 1) * 3074).equals(raw.subarray(r * 3074, (r + 1) * 3074))));
  }
});

test("truncated binary: error names the file and the sizes", () => {
  const dir = tempDir("trunc");
  const file = path.join(dir, "test_batch.bin");
  fs.writeFileSync(file, fs.readFileSync(path.join(C10, "test_batch.bin")).subarray(0, 3073 * 2 + 100));
  assert.throws(() => readCifar10Binary(file), (e: Error) => {
    assert.match(e.message, new RegExp(file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")));
    assert.match(e.message, /6246 bytes, which is not a multiple of the record size 3073/);
    return true;
  });
  const f100 = path.join(dir, "test.bin");
  fs.writeFileSync(f100, Buffer.alloc(3074 + 5));
  assert.throws(() => readCifar100Binary(f100, ["a"], ["b"]), /test\.bin has 3079 bytes, which is not a multiple of the record size 3074/);
  fs.writeFileSync(f100, Buffer.alloc(0));
  assert.throws(() => readCifar100Binary(f100, ["a"], ["b"]), /test\.bin is empty/);
});

test("bad label in a binary record names file, record and value", () => {
  const dir = tempDir("badlabel");
  const file = path.join(dir, "data_batch_1.bin");
  const buf = Buffer.from(fs.readFileSync(path.join(C10, "test_batch.bin")));
  buf[3073] = 12;
  fs.writeFileSync(file, buf);
  assert.throws(() => readCifar10Binary(file), /data_batch_1\.bin: record 1 has label 12, but there are only 10 classes/);
});

/** Write a few fixture images as PNG/JPEG into <root>/<class>/ folders. */
function makeFolder(root: string): Uint8Array {
  const set = readCifar10Binary(path.join(C10, "test_batch.bin"));
  const rgba = (k: number) => {
    const d = Buffer.alloc(32 * 32 * 4);
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) d[p * 4 + c] = set.images[k * IMAGE_BYTES + p * 3 + c];
      d[p * 4 + 3] = 255;
    }
    return d;
  };
  fs.mkdirSync(path.join(root, "airplane"), { recursive: true });
  fs.mkdirSync(path.join(root, "cat"), { recursive: true });
  const png = (k: number) => {
    const p = new PNG({ width: 32, height: 32 });
    rgba(k).copy(p.data);
    return PNG.sync.write(p);
  };
  // numeric-aware order: 2 before 10
  fs.writeFileSync(path.join(root, "airplane", "10.png"), png(0));
  fs.writeFileSync(path.join(root, "airplane", "2.png"), png(1));
  fs.writeFileSync(path.join(root, "cat", "0000.jpg"), jpeg.encode({ width: 32, height: 32, data: rgba(2) }, 95).data);
  fs.writeFileSync(path.join(root, "cat", "notes.txt"), "ignored");
  return set.images;
}

test("image folders: numeric-aware order, PNG lossless, JPEG close, labels by class", () => {
  const root = tempDir("folders");
  const src = makeFolder(root);
  assert.deepEqual(listImageFiles(path.join(root, "airplane")).map((f) => path.basename(f)), ["2.png", "10.png"]);
  const set = readImageFolder(root, { cache: { enabled: false } });
  assert.equal(set.n, 3);
  assert.deepEqual(set.classNames, ["airplane", "cat"]);
  assert.deepEqual(Array.from(set.labels), [0, 0, 1]);
  assert.deepEqual(set.images.subarray(0, IMAGE_BYTES), src.subarray(IMAGE_BYTES, 2 * IMAGE_BYTES)); // 2.png = image 1
  assert.deepEqual(set.images.subarray(IMAGE_BYTES, 2 * IMAGE_BYTES), src.subarray(0, IMAGE_BYTES));
  let err = 0;
  for (let i = 0; i < IMAGE_BYTES; i++) err += Math.abs(set.images[2 * IMAGE_BYTES + i] - src[2 * IMAGE_BYTES + i]);
  assert.ok(err / IMAGE_BYTES < 6, `JPEG mean abs error ${err / IMAGE_BYTES}`);
  assert.throws(() => readImageFolder(root, { classNames: ["airplane", "dog"], cache: { enabled: false } }), /class folder .*dog not found \(classes present in .*: airplane, cat\)/);
});

test("image of the wrong size: error names the file and its size", () => {
  const root = tempDir("wrongsize");
  makeFolder(root);
  const small = new PNG({ width: 16, height: 16 });
  fs.writeFileSync(path.join(root, "cat", "0001.png"), PNG.sync.write(small));
  assert.throws(() => readImageFolder(root, { cache: { enabled: false } }), /image .*cat\/0001\.png is 16×16, expected 32×32/);
  fs.writeFileSync(path.join(root, "cat", "0001.png"), "not an image");
  assert.throws(() => readImageFolder(root, { cache: { enabled: false } }), /cannot decode image .*0001\.png: not a JPEG or PNG/);
});

test("cache: second load is a hit, a changed folder or a corrupt cache file is rebuilt", () => {
  const root = tempDir("cache");
  const cache = tempDir("cachedir");
  makeFolder(root);
  resetCacheStats();
  const a = readImageFolder(root, { cache: { dir: cache } });
  assert.deepEqual(cacheStats(), { hits: 0, misses: 2, rebuilt: 0 });
  const b = readImageFolder(root, { cache: { dir: cache } });
  assert.deepEqual(cacheStats(), { hits: 2, misses: 2, rebuilt: 0 });
  assert.deepEqual(b.images, a.images);
  assert.deepEqual(b.labels, a.labels);
  // corrupt every cache file: flip a payload byte in one, truncate the other
  const files = fs.readdirSync(cache).filter((f) => f.endsWith(".imgcache")).map((f) => path.join(cache, f));
  assert.equal(files.length, 2);
  const f0 = fs.readFileSync(files[0]);
  f0[f0.length - 100] ^= 0xff;
  fs.writeFileSync(files[0], f0);
  fs.writeFileSync(files[1], fs.readFileSync(files[1]).subarray(0, 50));
  const c = readImageFolder(root, { cache: { dir: cache } });
  assert.equal(cacheStats().rebuilt, 2);
  assert.deepEqual(c.images, a.images);
  readImageFolder(root, { cache: { dir: cache } });
  assert.equal(cacheStats().hits, 4);
  // a new file in a class folder invalidates that class's cache
  fs.copyFileSync(path.join(root, "cat", "0000.jpg"), path.join(root, "cat", "0001.jpg"));
  const d = readImageFolder(root, { cache: { dir: cache } });
  assert.equal(d.n, 4);
  assert.equal(cacheStats().hits, 5);
});

test("loadCifar10 from an official binary folder and from the official .tar.gz archive", () => {
  const set = loadCifar10({ split: "test", roots: [FIXTURES], classes: ["truck", "airplane"] });
  assert.deepEqual(set.classNames, ["truck", "airplane"]);
  assert.deepEqual(Array.from(set.labels), [0, 1]);
  const whole = readCifar10Binary(path.join(C10, "test_batch.bin"));
  assert.deepEqual(set.images.subarray(0, IMAGE_BYTES), whole.images.subarray(2 * IMAGE_BYTES));

  const root = tempDir("archive");
  execFileSync("tar", ["czf", path.join(root, "cifar-10-binary.tar.gz"), "-C", FIXTURES, "cifar-10-batches-bin"]);
  const cache = tempDir("archive-cache");
  withEnv({ LAB_CACHE_DIR: cache }, () => {
    const fromArchive = loadCifar10({ split: "train", roots: [root] });
    assert.equal(fromArchive.n, 5);
    assert.deepEqual(fromArchive.images, readCifar10BinaryDir(C10, "train").images);
    assert.equal(fs.readdirSync(path.join(cache, "extracted")).length, 1);
    assert.deepEqual(fs.readdirSync(root), ["cifar-10-binary.tar.gz"]); // nothing written beside the data
  });
  // a truncated archive is a clear error
  const bad = tempDir("badarchive");
  const gz = fs.readFileSync(path.join(root, "cifar-10-binary.tar.gz"));
  fs.writeFileSync(path.join(bad, "cifar-10-binary.tar.gz"), gz.subarray(0, gz.length >> 1));
  withEnv({ LAB_CACHE_DIR: tempDir("badarchive-cache") }, () => {
    assert.throws(() => loadCifar10({ split: "train", roots: [bad] }), /cannot decompress .*cifar-10-binary\.tar\.gz/);
  });
});
