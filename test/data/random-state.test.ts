import { test } from "node:test";
import assert from "node:assert/strict";
import { RandomState, deriveSeed } from "../../src/data/random-state";

test("choice(5000, 1000) with seed 42 matches numpy (anchors.md)", () => {
  const c = new RandomState(42).choice(5000, 1000, false);
  assert.equal(c.length, 1000);
  assert.deepEqual(Array.from(c.slice(0, 10)), [1501, 2586, 2653, 1055, 705, 106, 589, 2468, 2413, 1600]);
  assert.deepEqual(Array.from(c.slice(-3)), [3214, 2732, 1926]); // numpy 1.x, checked with /usr/bin/python3
  assert.equal(new Set(c).size, 1000);
});

test("permutation(10) with seed 123 matches numpy (anchors.md)", () => {
  assert.deepEqual(Array.from(new RandomState(123).permutation(10)), [4, 0, 7, 5, 8, 3, 1, 6, 9, 2]);
});

test("random_sample(3) with seed 0 matches numpy (anchors.md)", () => {
  const s = new RandomState(0).randomSample(3);
  const want = [0.5488135039273248, 0.7151893663724195, 0.6027633760716439];
  for (let i = 0; i < 3; i++) assert.equal(s[i], want[i]);
  assert.ok(Math.abs(s[1] - 0.71518937) < 1e-8);
});

test("shuffle of range(4000) with seed 69 matches numpy", () => {
  const idx = Array.from({ length: 4000 }, (_, i) => i);
  new RandomState(69).shuffle(idx);
  assert.deepEqual(idx.slice(0, 10), [1130, 1875, 3301, 2220, 959, 309, 726, 1668, 3, 1935]);
  assert.deepEqual(idx.slice(-3), [2667, 3275, 3126]);
});

test("randint matches numpy legacy randint", () => {
  // np.random.RandomState(5): randint(0,9), randint(0,9), randint(0,9), randint(10) -> 3 6 6 0
  const r = new RandomState(5);
  assert.deepEqual([r.randint(0, 9), r.randint(0, 9), r.randint(0, 9), r.randint(10)], [3, 6, 6, 0]);
});

test("bad arguments are clear errors", () => {
  assert.throws(() => new RandomState(-1), /seed must be an integer between 0 and 2\*\*32 - 1, got -1/);
  assert.throws(() => new RandomState(1.5), /got 1.5/);
  assert.throws(() => new RandomState(1).choice(5, 6), /larger sample \(k=6\) than the population \(n=5\)/);
  assert.throws(() => new RandomState(1).randint(3, 3), /low >= high/);
});

test("deriveSeed is deterministic and separates its inputs", () => {
  assert.equal(deriveSeed(1, 2, 3), deriveSeed(1, 2, 3));
  assert.notEqual(deriveSeed(1, 2), deriveSeed(2, 1));
  assert.ok(deriveSeed(7) >= 0 && deriveSeed(7) <= 0xffffffff);
});
