/**
 * CIFAR-10 from wherever it is found (official binary, official archive or JPEG/PNG folders).
 */
import * as path from "path";
import { CacheOptions } from "./cache";
import { readCifar10BinaryDir } from "./cifar-binary";
import { readClassFolder } from "./folders";
import { LocateOptions, locateCifar10 } from "./locate";
import { CIFAR10_CLASSES, IMAGE_BYTES, ImageSet, Split, checkSplit, concatClasses } from "./types";

/**
 * Resolve a class selection: a number N → the first N classes; a list of names (or ids) → those, in the
 * order given. Returns official class ids. Unknown names are an error listing the valid ones.
 */
export function resolveCifar10Classes(classes: number | readonly (string | number)[] | undefined, defaultCount = 10): number[] {
  const valid = CIFAR10_CLASSES.join(", ");
  if (classes === undefined) classes = defaultCount;
  if (typeof classes === "number") {
    if (!Number.isInteger(classes) || classes < 1 || classes > 10) {
      throw new Error(`number of CIFAR-10 classes must be an integer from 1 to 10, got ${classes}`);
    }
    return Array.from({ length: classes }, (_, i) => i);
  }
  if (!Array.isArray(classes) || classes.length === 0) throw new Error("CIFAR-10 class list is empty");
  const ids = classes.map((c) => {
    if (typeof c === "number") {
      if (!Number.isInteger(c) || c < 0 || c > 9) throw new Error(`CIFAR-10 class id must be 0..9, got ${c}`);
      return c;
    }
    const id = CIFAR10_CLASSES.indexOf(String(c).trim().toLowerCase());
    if (id < 0) throw new Error(`unknown CIFAR-10 class "${c}"; valid names: ${valid}`);
    return id;
  });
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) throw new Error(`CIFAR-10 class "${CIFAR10_CLASSES[dup]}" is listed twice`);
  return ids;
}

export interface Cifar10Options extends LocateOptions {
  split: Split;
  /** A number N (first N classes) or class names/ids; default all 10. */
  classes?: number | (string | number)[];
  cache?: CacheOptions;
}

/**
 * The images of each requested class (official ids), each in official per-class order.
 * Returns one HWC byte array per class, in the order of `classIds`.
 */
export function loadCifar10ByClass(split: Split, classIds: number[], opts: LocateOptions & { cache?: CacheOptions } = {}): { perClass: { images: Uint8Array; n: number }[]; source: string } {
  checkSplit(split, "loadCifar10ByClass");
  const src = locateCifar10(opts);
  if (src.kind === "cifar10-binary") {
    const all = readCifar10BinaryDir(src.dir, split);
    const perClass = classIds.map((id) => {
      let n = 0;
      for (let i = 0; i < all.n; i++) if (all.labels[i] === id) n++;
      const images = new Uint8Array(n * IMAGE_BYTES);
      let k = 0;
      for (let i = 0; i < all.n; i++) {
        if (all.labels[i] === id) images.set(all.images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES), IMAGE_BYTES * k++);
      }
      return { images, n };
    });
    return { perClass, source: src.archive ?? src.dir };
  }
  const perClass = classIds.map((id) => {
    const got = readClassFolder(path.join(src.dir, split, CIFAR10_CLASSES[id]), opts.cache);
    if (got.n === 0) throw new Error(`class folder ${path.join(src.dir, split, CIFAR10_CLASSES[id])} has no images`);
    return { images: got.images, n: got.n };
  });
  return { perClass, source: src.dir };
}

/**
 * Load a CIFAR-10 split, grouped by class (class by class in the order requested; within a class, official
 * order). Labels are 0..K-1 in the order of the selected classes (the official ids when all 10 are loaded).
 */
export function loadCifar10(opts: Cifar10Options): ImageSet {
  const ids = resolveCifar10Classes(opts.classes);
  const { perClass } = loadCifar10ByClass(opts.split, ids, opts);
  return concatClasses(perClass, ids.map((i) => CIFAR10_CLASSES[i]));
}
