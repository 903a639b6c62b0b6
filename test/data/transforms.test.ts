import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { augmentInto, batches, normalizationTable, normalize } from "../../src/data/batches";
import { RandomState, deriveSeed } from "../../src/data/random-state";
import { parseTransforms, transformName, type Transform } from "../../src/data/transforms";
import { IMAGE_BYTES, ImageSet } from "../../src/data/types";

function synthetic(n: number): ImageSet {
  const images = new Uint8Array(n * IMAGE_BYTES);
  for (let i = 0; i < images.length; i++) images[i] = (i * 7 + Math.floor(i / IMAGE_BYTES) * 13) % 256;
  return { images, labels: Int32Array.from({ length: n }, (_, i) => i % 3), classNames: ["a", "b", "c"], n };
}

function collect(set: ImageSet, o: Parameters<typeof batches>[1]): number[][] {
  const out: number[][] = [];
  for (const b of batches(set, o)) {
    out.push(Array.from(b.x.dataSync()));
    tf.dispose([b.x, b.y]);
  }
  return out;
}

test("parseTransforms: names, none, and bad lists with the valid names", () => {
  assert.deepEqual(parseTransforms(["crop4", "hflip", "cutout16"]), [{ kind: "crop", padding: 4 }, { kind: "hflip" }, { kind: "cutout", size: 16 }]);
  assert.deepEqual(parseTransforms(["none"]), []);
  assert.deepEqual(parseTransforms([]), []);
  assert.deepEqual(parseTransforms(["cutout8", "crop2"]).map(transformName), ["cutout8", "crop2"]);
  const valid = /valid: a list of "crop<P>" .*"hflip".*"cutout<L>".*"none" alone/;
  assert.throws(() => parseTransforms(["rotate"]), /unknown transform "rotate"/);
  assert.throws(() => parseTransforms(["rotate"]), valid);
  assert.throws(() => parseTransforms(["crop0"]), /unknown transform "crop0"/);
  assert.throws(() => parseTransforms(["cutout33"]), /unknown transform "cutout33"/);
  assert.throws(() => parseTransforms(["crop4", "crop2"]), /crop appears twice/);
  assert.throws(() => parseTransforms(["none", "hflip"]), /"none" must be the only entry/);
  assert.throws(() => parseTransforms("crop4"), /expected a list of transform names, got "crop4"/);
  assert.throws(() => parseTransforms([4]), /4 is not a transform name/);
});

test('["crop4", "hflip"] gives exactly the batches of the original crop+flip code (same draws, same pixels)', () => {
  const set = synthetic(13);
  const lut = normalizationTable();
  for (const [seed, epoch] of [[0, 0], [5, 3]]) {
    const got = collect(set, { batchSize: 5, shuffle: true, seed, epoch, transforms: parseTransforms(["crop4", "hflip"]) });
    const legacy = collect(set, { batchSize: 5, shuffle: true, seed, epoch, augment: { crop: 4, flip: true } });
    assert.deepEqual(got, legacy);
    // The draws of the code before transforms.ts: per image randint(0, 9) − 4 twice, then random_sample() < 0.5.
    const rs = new RandomState(deriveSeed(seed, epoch, 2));
    const first = batches(set, { batchSize: 13, shuffle: true, seed, epoch }).next().value!;
    const order: number[] = Array.from(first.indices as Int32Array);
    tf.dispose([first.x, first.y]);
    const want = new Float32Array(13 * IMAGE_BYTES);
    order.forEach((k, i) => {
      const dy = rs.randint(0, 9) - 4;
      const dx = rs.randint(0, 9) - 4;
      const flip = rs.randomSample() < 0.5;
      augmentInto(set.images, k * IMAGE_BYTES, want, i * IMAGE_BYTES, lut, dy, dx, flip);
    });
    assert.deepEqual(got.flat(), Array.from(want));
  }
});

/** Reference: the transforms one after the other on whole float images (pad value = normalised raw 0, hole = 0). */
function reference(set: ImageSet, idx: number[], ts: Transform[], rs: RandomState): Float32Array {
  const lut = normalizationTable();
  const pad = [lut[0], lut[256], lut[512]];
  const S = 32;
  const norm = normalize(set);
  const out = new Float32Array(idx.length * IMAGE_BYTES);
  idx.forEach((k, i) => {
    let img = norm.slice(k * IMAGE_BYTES, (k + 1) * IMAGE_BYTES);
    for (const t of ts) {
      const next = new Float32Array(IMAGE_BYTES);
      if (t.kind === "crop") {
        const oy = rs.randint(0, 2 * t.padding + 1);
        const ox = rs.randint(0, 2 * t.padding + 1);
        for (let y = 0; y < S; y++)
          for (let x = 0; x < S; x++)
            for (let c = 0; c < 3; c++) {
              const sy = y + oy - t.padding;
              const sx = x + ox - t.padding;
              next[(y * S + x) * 3 + c] = sy >= 0 && sy < S && sx >= 0 && sx < S ? img[(sy * S + sx) * 3 + c] : pad[c];
            }
      } else if (t.kind === "hflip") {
        const flip = rs.randomSample() < 0.5;
        for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) for (let c = 0; c < 3; c++) next[(y * S + x) * 3 + c] = img[(y * S + (flip ? S - 1 - x : x)) * 3 + c];
      } else {
        next.set(img);
        const cy = rs.randint(0, S);
        const cx = rs.randint(0, S);
        const h = Math.floor(t.size / 2);
        for (let y = Math.max(cy - h, 0); y < Math.min(cy + h, S); y++) for (let x = Math.max(cx - h, 0); x < Math.min(cx + h, S); x++) for (let c = 0; c < 3; c++) next[(y * S + x) * 3 + c] = 0;
      }
      img = next;
    }
    out.set(img, i * IMAGE_BYTES);
  });
  return out;
}

test("transforms compose in list order, in every order of crop, flip and cutout (against whole-image reference)", () => {
  const set = synthetic(24);
  const perms = [
    ["crop4", "hflip", "cutout16"],
    ["crop4", "cutout16", "hflip"],
    ["hflip", "crop4", "cutout16"],
    ["hflip", "cutout16", "crop4"],
    ["cutout16", "crop4", "hflip"],
    ["cutout9", "hflip", "crop3"],
    ["cutout16"],
    ["hflip", "crop6"],
  ];
  for (const names of perms) {
    const ts = parseTransforms(names);
    const got = collect(set, { batchSize: 24, seed: 7, epoch: 1, transforms: ts }).flat();
    const idx = Array.from({ length: 24 }, (_, i) => i);
    const want = reference(set, idx, ts, new RandomState(deriveSeed(7, 1, 2)));
    assert.deepEqual(got, Array.from(want), names.join(" → "));
  }
});

test("cutout: one L×L hole of zeros (the mean after normalisation) around a uniform centre, clipped at the borders", () => {
  // 200 copies of one image: every difference from the plain image is the hole.
  const one = synthetic(1);
  const n = 200;
  const many: ImageSet = { ...one, images: new Uint8Array(n * IMAGE_BYTES), labels: new Int32Array(n), n };
  for (let i = 0; i < n; i++) many.images.set(one.images, i * IMAGE_BYTES);
  const plain = normalize(one);
  const x = collect(many, { batchSize: n, seed: 4, transforms: parseTransforms(["cutout16"]) })[0];
  const rs = new RandomState(deriveSeed(4, 0, 2));
  let clipped = 0;
  const areas = new Set<number>();
  for (let i = 0; i < n; i++) {
    const cy = rs.randint(0, 32);
    const cx = rs.randint(0, 32);
    const [y0, y1, x0, x1] = [Math.max(cy - 8, 0), Math.min(cy + 8, 32), Math.max(cx - 8, 0), Math.min(cx + 8, 32)];
    let zeros = 0;
    for (let y = 0; y < 32; y++)
      for (let xx = 0; xx < 32; xx++) {
        const inHole = y >= y0 && y < y1 && xx >= x0 && xx < x1;
        for (let c = 0; c < 3; c++) {
          const v = x[i * IMAGE_BYTES + (y * 32 + xx) * 3 + c];
          if (inHole) {
            assert.equal(v, 0);
            zeros++;
          } else assert.equal(v, plain[(y * 32 + xx) * 3 + c]);
        }
      }
    areas.add(zeros / 3);
    if ((y1 - y0) * (x1 - x0) < 256) clipped++;
  }
  assert.ok(areas.has(256), "an unclipped hole is 16×16");
  assert.ok(clipped > 50, `holes near a border are clipped (${clipped} of ${n})`);
});

test("the same seed gives the same batches, another seed or epoch other ones (all transforms)", () => {
  const set = synthetic(10);
  const ts = parseTransforms(["crop4", "hflip", "cutout16"]);
  const run = (seed: number, epoch: number) => collect(set, { batchSize: 4, shuffle: true, seed, epoch, transforms: ts });
  const a = run(1, 0);
  assert.deepEqual(run(1, 0), a);
  assert.notDeepEqual(run(2, 0), a);
  assert.notDeepEqual(run(1, 1), a);
  // No transform: the plain normalised images, whatever the seed.
  assert.deepEqual(collect(set, { batchSize: 10, seed: 3, transforms: parseTransforms(["none"]) })[0], Array.from(normalize(set)));
});
