import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "path";
import { locateCifar10, locateCifar100, dataRoots } from "../../src/data/locate";
import { FIXTURES, REPO, tempDir, withEnv } from "./helpers";

test("missing data: the error names every place looked at and how to get the archives", () => {
  const empty = tempDir("empty");
  const other = path.join(empty, "does-not-exist");
  assert.throws(() => locateCifar10({ roots: [empty, other] }), (e: Error) => {
    assert.match(e.message, /CIFAR-10 data not found/);
    assert.ok(e.message.includes(empty), "names the first root");
    assert.ok(e.message.includes(`${other} (roots option, does not exist)`), "names the second root");
    assert.match(e.message, /cifar-10-batches-bin\/, cifar-10-binary\.tar\.gz, cifar10-jpeg\//);
    assert.match(e.message, /https:\/\/www\.cs\.toronto\.edu\/~kriz\/cifar\.html/);
    assert.match(e.message, /data\/cifar-10-batches-bin\/data_batch_1\.bin/);
    return true;
  });
  assert.throws(() => locateCifar100({ roots: [empty] }), /CIFAR-100 data not found[\s\S]*cifar-100-binary\/, cifar100-binary\/, cifar-100-binary\.tar\.gz[\s\S]*kriz\/cifar\.html/);
});

test("default roots: LAB_DATA_DIR, then <repo>/data, then <repo>/../shared/data", () => {
  const env = tempDir("env");
  withEnv({ LAB_DATA_DIR: env }, () => {
    assert.deepEqual(dataRoots().map((r) => r.dir), [env, path.join(REPO, "data"), path.resolve(REPO, "..", "shared", "data")]);
  });
  withEnv({ LAB_DATA_DIR: undefined }, () => {
    assert.equal(dataRoots().length, 2);
  });
});

test("an empty LAB_DATA_DIR falls through to the next root; roots with data are found", () => {
  const src = locateCifar10({ roots: [tempDir("empty2"), FIXTURES] });
  assert.equal(src.kind, "cifar10-binary");
  assert.equal(src.dir, path.join(FIXTURES, "cifar-10-batches-bin"));
  const c100 = locateCifar100({ roots: [FIXTURES] });
  assert.equal(c100.dir, path.join(FIXTURES, "cifar-100-binary"));
});
