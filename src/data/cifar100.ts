/**
 * CIFAR-100 with the superclasses that resemble CIFAR-10 left out (for transfer learning).
 * Works on the official full CIFAR-100 and on the shared pre-filtered copy alike.
 */
import { readCifar100BinaryDir } from "./cifar-binary";
import { LocateOptions, locateCifar100 } from "./locate";
import { IMAGE_BYTES, ImageSet, Split, checkSplit } from "./types";

/** Superclasses excluded by default (coarse ids 8, 11, 12, 15, 16, 18, 19). */
export const DEFAULT_EXCLUDED_SUPERCLASSES: readonly string[] = [
  "large_carnivores",
  "large_omnivores_and_herbivores",
  "medium_mammals",
  "reptiles",
  "small_mammals",
  "vehicles_1",
  "vehicles_2",
];

export interface Cifar100FilterOptions extends LocateOptions {
  split: Split;
  /** Superclass names (or coarse ids) to leave out; default DEFAULT_EXCLUDED_SUPERCLASSES. [] keeps all. */
  exclude?: readonly (string | number)[];
  /** Which label to return: fine classes (default) or superclasses. */
  label?: "fine" | "coarse";
  /** Keep at most this many images per returned class (first ones in file order). */
  limitPerClass?: number;
}

/** Load a CIFAR-100 split (fine labels, official ids; coarseLabels official ids). */
export function loadCifar100(opts: LocateOptions & { split: Split }): ImageSet {
  checkSplit(opts.split, "loadCifar100");
  const src = locateCifar100(opts);
  return readCifar100BinaryDir(src.dir, opts.split);
}

/**
 * CIFAR-100 without the excluded superclasses. Labels are remapped to 0..K-1 in ascending official id order
 * (65 fine classes, or 13 superclasses, by default); `coarseLabels`/`coarseClassNames` are remapped too.
 */
export function loadCifar100Filtered(opts: Cifar100FilterOptions): ImageSet {
  const label = opts.label ?? "fine";
  if (label !== "fine" && label !== "coarse") throw new Error(`loadCifar100Filtered: label must be "fine" or "coarse", got ${JSON.stringify(label)}`);
  if (opts.limitPerClass !== undefined && (!Number.isInteger(opts.limitPerClass) || opts.limitPerClass < 1)) {
    throw new Error(`loadCifar100Filtered: limitPerClass must be a positive integer, got ${opts.limitPerClass}`);
  }
  const all = loadCifar100(opts);
  return filterCifar100(all, opts.exclude ?? DEFAULT_EXCLUDED_SUPERCLASSES, label, opts.limitPerClass);
}

/** The filter itself, on an already-loaded CIFAR-100 set (official ids in labels / coarseLabels). */
export function filterCifar100(all: ImageSet, exclude: readonly (string | number)[], label: "fine" | "coarse", limitPerClass?: number): ImageSet {
  const coarseNames = all.coarseClassNames;
  const coarse = all.coarseLabels;
  if (!coarseNames || !coarse) throw new Error("filterCifar100: the set has no superclass labels (not CIFAR-100?)");
  const excluded = new Set<number>();
  for (const e of exclude) {
    const id = typeof e === "number" ? e : coarseNames.indexOf(String(e).trim());
    if (!Number.isInteger(id) || id < 0 || id >= coarseNames.length) {
      throw new Error(`unknown CIFAR-100 superclass ${JSON.stringify(e)}; valid names: ${coarseNames.join(", ")}`);
    }
    excluded.add(id);
  }
  // Kept fine classes: those whose images all belong to kept superclasses (determined from the data).
  const fineToCoarse = new Map<number, number>();
  for (let i = 0; i < all.n; i++) fineToCoarse.set(all.labels[i], coarse[i]);
  const keptCoarse = coarseNames.map((_, i) => i).filter((i) => !excluded.has(i));
  const keptFine = [...fineToCoarse.keys()].filter((f) => !excluded.has(fineToCoarse.get(f)!)).sort((a, b) => a - b);
  const fineMap = new Map(keptFine.map((f, i) => [f, i]));
  const coarseMap = new Map(keptCoarse.map((c, i) => [c, i]));
  const classIds = label === "fine" ? keptFine : keptCoarse;
  const counts = new Map<number, number>();
  const pick: number[] = [];
  for (let i = 0; i < all.n; i++) {
    if (excluded.has(coarse[i])) continue;
    const cls = label === "fine" ? all.labels[i] : coarse[i];
    const c = counts.get(cls) ?? 0;
    if (limitPerClass !== undefined && c >= limitPerClass) continue;
    counts.set(cls, c + 1);
    pick.push(i);
  }
  const n = pick.length;
  const images = new Uint8Array(n * IMAGE_BYTES);
  const labels = new Int32Array(n);
  const coarseLabels = new Int32Array(n);
  pick.forEach((src, k) => {
    images.set(all.images.subarray(src * IMAGE_BYTES, (src + 1) * IMAGE_BYTES), k * IMAGE_BYTES);
    labels[k] = label === "fine" ? fineMap.get(all.labels[src])! : coarseMap.get(coarse[src])!;
    coarseLabels[k] = coarseMap.get(coarse[src])!;
  });
  const coarseClassNames = keptCoarse.map((c) => coarseNames[c]);
  return {
    images,
    labels,
    classNames: label === "fine" ? classIds.map((f) => all.classNames[f]) : coarseClassNames,
    n,
    coarseLabels,
    coarseClassNames,
  };
}
