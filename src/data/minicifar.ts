/**
 * MINICIFAR, exactly as the course's minicifar.py draws it:
 *  - the first nClasses CIFAR-10 classes (or named ones), reduction factor R;
 *  - per class, positions RandomState(seed).choice(5000, floor(5000/R), replace=False) into the class's images
 *    in official order (the same positions for every class), classes concatenated in class order;
 *  - test: a fresh RandomState(seed).choice(1000, floor(1000/R), replace=False) per class;
 *  - train/valid: indices = range(N); RandomState(splitSeed).shuffle(indices); the first floor(trainSize*N)
 *    are train, the rest validation.
 */
import { CacheOptions } from "./cache";
import { loadCifar10ByClass, resolveCifar10Classes } from "./cifar10";
import { LocateOptions } from "./locate";
import { RandomState } from "./random-state";
import { CIFAR10_CLASSES, IMAGE_BYTES, ImageSet, subsetImages } from "./types";

export const CIFAR10_TRAIN_PER_CLASS = 5000;
export const CIFAR10_TEST_PER_CLASS = 1000;

export interface MinicifarOptions {
  /** Number of classes (first N of CIFAR-10), default 4. Ignored when `classes` is given. */
  nClasses?: number;
  /** A number N (first N classes) or class names, in the order wanted. */
  classes?: number | string[];
  /** Reduction factor, default 5. */
  R?: number;
  /** Fraction of the train subset used for training (rest: validation), default 0.8. */
  trainSize?: number;
  /** Seed of the per-class position draws, default 42. */
  seed?: number;
  /** Seed of the train/validation shuffle, default 69. */
  splitSeed?: number;
}

export interface MinicifarIndices {
  classes: string[];
  trainPositions: number[];
  testPositions: number[];
  trainIndices: number[];
  validIndices: number[];
}

export const MINICIFAR_DEFAULTS = { nClasses: 4, R: 5, trainSize: 0.8, seed: 42, splitSeed: 69 } as const;

function checkSeed(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`MINICIFAR: ${name} must be an integer in [0, 2**32-1], got ${v}`);
  return v;
}

function resolve(opts: MinicifarOptions) {
  const ids = resolveCifar10Classes(opts.classes ?? opts.nClasses ?? MINICIFAR_DEFAULTS.nClasses);
  const R = opts.R ?? MINICIFAR_DEFAULTS.R;
  if (typeof R !== "number" || !Number.isFinite(R) || R < 1) throw new Error(`MINICIFAR: R (reduction factor) must be a number >= 1, got ${R}`);
  const trainSize = opts.trainSize ?? MINICIFAR_DEFAULTS.trainSize;
  if (typeof trainSize !== "number" || !(trainSize > 0 && trainSize <= 1)) {
    throw new Error(`MINICIFAR: trainSize must be a fraction in (0, 1], got ${trainSize}`);
  }
  const seed = checkSeed(opts.seed ?? MINICIFAR_DEFAULTS.seed, "seed");
  const splitSeed = checkSeed(opts.splitSeed ?? MINICIFAR_DEFAULTS.splitSeed, "splitSeed");
  return { ids, R, trainSize, seed, splitSeed };
}

/** The MINICIFAR selection, without loading any image. */
export function minicifarIndices(opts: MinicifarOptions = {}): MinicifarIndices {
  const { ids, R, trainSize, seed, splitSeed } = resolve(opts);
  const perTrain = Math.floor(CIFAR10_TRAIN_PER_CLASS / R);
  const perTest = Math.floor(CIFAR10_TEST_PER_CLASS / R);
  if (perTest < 1) throw new Error(`MINICIFAR: R=${R} leaves no test image per class (1000/R < 1)`);
  const trainPositions = Array.from(new RandomState(seed).choice(CIFAR10_TRAIN_PER_CLASS, perTrain));
  const testPositions = Array.from(new RandomState(seed).choice(CIFAR10_TEST_PER_CLASS, perTest));
  const N = perTrain * ids.length;
  const indices = Array.from({ length: N }, (_, i) => i);
  new RandomState(splitSeed).shuffle(indices);
  const cut = Math.floor(trainSize * N);
  if (cut === 0) throw new Error(`MINICIFAR: trainSize ${trainSize} of ${N} images leaves no training image (floor(${trainSize} × ${N}) = 0)`);
  return {
    classes: ids.map((i) => CIFAR10_CLASSES[i]),
    trainPositions,
    testPositions,
    trainIndices: indices.slice(0, cut),
    validIndices: indices.slice(cut),
  };
}

/** The JSON object printed by `minicifar-lab data minicifar --json` (fixed key order). */
export function minicifarJson(opts: MinicifarOptions = {}): MinicifarIndices {
  const s = minicifarIndices(opts);
  return {
    classes: s.classes,
    trainPositions: s.trainPositions,
    testPositions: s.testPositions,
    trainIndices: s.trainIndices,
    validIndices: s.validIndices,
  };
}

/**
 * Parse `--classes <N|a,b,c> --R <n> --train-size <f>` (also `--seed`, `--split-seed`, and `--opt=value`).
 * Unknown flags and bad values are errors naming the flag and value.
 */
export function parseMinicifarArgs(argv: string[]): MinicifarOptions {
  const out: MinicifarOptions = {};
  const num = (flag: string, v: string): number => {
    const x = Number(v);
    if (v.trim() === "" || !Number.isFinite(x)) throw new Error(`${flag}: expected a number, got "${v}"`);
    return x;
  };
  const int = (flag: string, v: string): number => {
    const x = num(flag, v);
    if (!Number.isInteger(x) || x < 0) throw new Error(`${flag}: expected a non-negative integer, got "${v}"`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i];
    let value: string | undefined;
    const eq = flag.indexOf("=");
    if (flag.startsWith("--") && eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const take = (): string => {
      if (value !== undefined) return value;
      const v = argv[i + 1];
      if (v === undefined || (v.startsWith("--") && v.length > 2)) throw new Error(`${flag}: missing value`);
      i++;
      return v;
    };
    switch (flag) {
      case "--classes": {
        const v = take().trim();
        if (/^\d+$/.test(v)) out.classes = Number(v);
        else {
          const names = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
          if (names.length === 0) throw new Error(`--classes: expected a number or a comma-separated list of class names, got "${v}"`);
          out.classes = names;
        }
        resolveCifar10Classes(out.classes); // validate now, with the list of valid names on error
        break;
      }
      case "--R":
      case "--r": {
        const v = take();
        out.R = num("--R", v);
        if (out.R < 1) throw new Error(`--R: the reduction factor must be >= 1, got "${v}"`);
        break;
      }
      case "--train-size": {
        const v = take();
        out.trainSize = num("--train-size", v);
        if (!(out.trainSize > 0 && out.trainSize <= 1)) throw new Error(`--train-size: expected a fraction in (0, 1], got "${v}"`);
        break;
      }
      case "--seed":
        out.seed = int("--seed", take());
        break;
      case "--split-seed":
        out.splitSeed = int("--split-seed", take());
        break;
      default:
        throw new Error(`unknown option "${argv[i]}" (expected --classes, --R, --train-size, --seed, --split-seed)`);
    }
  }
  return out;
}

export interface LoadMinicifarOptions extends MinicifarOptions, LocateOptions {
  cache?: CacheOptions;
}

export interface Minicifar {
  classes: string[];
  train: ImageSet;
  valid: ImageSet;
  test: ImageSet;
  indices: MinicifarIndices;
}

function gather(perClass: { images: Uint8Array; n: number }[], positions: number[], classes: string[], needed: number, split: string): ImageSet {
  const n = perClass.length * positions.length;
  const images = new Uint8Array(n * IMAGE_BYTES);
  const labels = new Int32Array(n);
  let k = 0;
  perClass.forEach((p, label) => {
    if (p.n !== needed) {
      throw new Error(`MINICIFAR: CIFAR-10 ${split} class "${classes[label]}" has ${p.n} images, expected ${needed}`);
    }
    for (const pos of positions) {
      images.set(p.images.subarray(pos * IMAGE_BYTES, (pos + 1) * IMAGE_BYTES), k * IMAGE_BYTES);
      labels[k++] = label;
    }
  });
  return { images, labels, classNames: classes.slice(), n };
}

/** Load MINICIFAR images: train/valid (from the CIFAR-10 train split) and test. Labels 0..K-1 in class order. */
export function loadMinicifar(opts: LoadMinicifarOptions = {}): Minicifar {
  const idx = minicifarIndices(opts);
  const ids = idx.classes.map((c) => CIFAR10_CLASSES.indexOf(c));
  const tr = loadCifar10ByClass("train", ids, opts);
  const full = gather(tr.perClass, idx.trainPositions, idx.classes, CIFAR10_TRAIN_PER_CLASS, "train");
  const te = loadCifar10ByClass("test", ids, opts);
  const test = gather(te.perClass, idx.testPositions, idx.classes, CIFAR10_TEST_PER_CLASS, "test");
  return {
    classes: idx.classes,
    train: subsetImages(full, idx.trainIndices),
    valid: subsetImages(full, idx.validIndices),
    test,
    indices: idx,
  };
}
