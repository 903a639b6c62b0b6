import { test } from "node:test";
import assert from "node:assert/strict";
import { loadCifar100Filtered, filterCifar100, DEFAULT_EXCLUDED_SUPERCLASSES } from "../../src/data/cifar100";
import { readCifar100BinaryDir } from "../../src/data/cifar-binary";
import { classCounts, IMAGE_BYTES, ImageSet } from "../../src/data/types";
import * as path from "path";
import { FIXTURES, HAS_SHARED_C100, SHARED } from "./helpers";

const EXCLUDED_IDS = [8, 11, 12, 15, 16, 18, 19];

test("default exclusion: 65 fine classes, none from the excluded superclasses (real data)", { skip: !HAS_SHARED_C100 && "no ../shared/data/cifar100-binary" }, () => {
  const set = loadCifar100Filtered({ split: "test", roots: [SHARED] });
  assert.equal(set.classNames.length, 65);
  assert.equal(set.n, 6500);
  assert.deepEqual(new Set(classCounts(set)), new Set([100]));
  assert.equal(set.coarseClassNames!.length, 13);
  for (const name of DEFAULT_EXCLUDED_SUPERCLASSES) assert.ok(!set.coarseClassNames!.includes(name));
  const full = readCifar100BinaryDir(path.join(SHARED, "cifar100-binary"), "test");
  for (let i = 0; i < full.n; i++) assert.ok(!EXCLUDED_IDS.includes(full.coarseLabels![i]));
  assert.equal(set.classNames[0], "apple");
  const coarse = loadCifar100Filtered({ split: "test", roots: [SHARED], label: "coarse", limitPerClass: 10 });
  assert.equal(coarse.classNames.length, 13);
  assert.equal(coarse.n, 130);
  const fewer = loadCifar100Filtered({ split: "test", roots: [SHARED], exclude: [...DEFAULT_EXCLUDED_SUPERCLASSES, "fish"], limitPerClass: 2 });
  assert.equal(fewer.classNames.length, 60);
  assert.equal(fewer.n, 120);
});

test("the filter applies to full (official) CIFAR-100: excluded superclasses removed, labels remapped", () => {
  // synthetic official-like set: fine f belongs to coarse f % 20, 2 images per fine class
  const n = 200;
  const coarseNames = readCifar100BinaryDir(path.join(FIXTURES, "cifar-100-binary"), "test").coarseClassNames!;
  const all: ImageSet = {
    images: new Uint8Array(n * IMAGE_BYTES).map((_, i) => Math.floor(i / IMAGE_BYTES) % 256),
    labels: Int32Array.from({ length: n }, (_, i) => i % 100),
    coarseLabels: Int32Array.from({ length: n }, (_, i) => (i % 100) % 20),
    classNames: Array.from({ length: 100 }, (_, i) => `fine${i}`),
    coarseClassNames: coarseNames,
    n,
  };
  const f = filterCifar100(all, DEFAULT_EXCLUDED_SUPERCLASSES, "fine");
  assert.equal(f.classNames.length, 65);
  assert.equal(f.n, 130);
  assert.ok(!f.classNames.includes("fine8") && f.classNames.includes("fine9"));
  assert.equal(Math.max(...f.labels), 64);
  // the image follows its label: image i of `all` has first byte i % 256
  for (let k = 0; k < f.n; k++) assert.equal(f.classNames[f.labels[k]], `fine${f.images[k * IMAGE_BYTES] % 100}`);
  const c = filterCifar100(all, [8, 11, 12, 15, 16, 18, 19], "coarse");
  assert.equal(c.classNames.length, 13);
  assert.equal(Math.max(...c.labels), 12);
});

test("unknown superclass: error lists the valid ones", () => {
  assert.throws(
    () => loadCifar100Filtered({ split: "test", roots: [FIXTURES], exclude: ["dinosaurs"] }),
    /unknown CIFAR-100 superclass "dinosaurs"; valid names: aquatic_mammals, fish, flowers.*vehicles_2/,
  );
  assert.throws(() => loadCifar100Filtered({ split: "test", roots: [FIXTURES], label: "medium" as "fine" }), /label must be "fine" or "coarse"/);
  assert.throws(() => loadCifar100Filtered({ split: "valid" as "test", roots: [FIXTURES] }), /split must be "train" or "test", got "valid"/);
});
