/** Plain-data types shared by the data readers. No tf tensors here. */

export const IMAGE_SIZE = 32;
export const CHANNELS = 3;
/** Bytes per 32×32 RGB image. */
export const IMAGE_BYTES = IMAGE_SIZE * IMAGE_SIZE * CHANNELS;

/** The official CIFAR-10 class names, in label order 0–9. */
export const CIFAR10_CLASSES: readonly string[] = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

/** A set of 32×32 RGB images with integer labels. */
export interface ImageSet {
  /** n × 32 × 32 × 3 bytes, NHWC, RGB. */
  images: Uint8Array;
  /** n labels in 0..classNames.length-1. */
  labels: Int32Array;
  /** Name of each label. */
  classNames: string[];
  /** Number of images. */
  n: number;
  /** CIFAR-100 only: superclass label of each image, in 0..coarseClassNames.length-1. */
  coarseLabels?: Int32Array;
  /** CIFAR-100 only: names of the superclasses. */
  coarseClassNames?: string[];
}

export type Split = "train" | "test";

export function checkSplit(split: unknown, where: string): Split {
  if (split !== "train" && split !== "test") {
    throw new Error(`${where}: split must be "train" or "test", got ${JSON.stringify(split)}`);
  }
  return split;
}

/** The images at `indices`, in that order (labels and coarse labels follow). */
export function subsetImages(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const n = indices.length;
  const images = new Uint8Array(n * IMAGE_BYTES);
  const labels = new Int32Array(n);
  const coarse = set.coarseLabels ? new Int32Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    const k = indices[i];
    if (!Number.isInteger(k) || k < 0 || k >= set.n) {
      throw new Error(`subsetImages: index ${k} (at position ${i}) is outside 0..${set.n - 1}`);
    }
    images.set(set.images.subarray(k * IMAGE_BYTES, (k + 1) * IMAGE_BYTES), i * IMAGE_BYTES);
    labels[i] = set.labels[k];
    if (coarse) coarse[i] = set.coarseLabels![k];
  }
  const out: ImageSet = { images, labels, classNames: set.classNames.slice(), n };
  if (coarse) {
    out.coarseLabels = coarse;
    out.coarseClassNames = set.coarseClassNames?.slice();
  }
  return out;
}

/** Count of images per label. */
export function classCounts(set: ImageSet): number[] {
  const counts = new Array<number>(set.classNames.length).fill(0);
  for (let i = 0; i < set.n; i++) counts[set.labels[i]]++;
  return counts;
}

/** One ImageSet from per-class image blocks, labelled 0..K-1 in the order given. */
export function concatClasses(parts: { images: Uint8Array; n: number }[], classNames: readonly string[]): ImageSet {
  const n = parts.reduce((s, p) => s + p.n, 0);
  const images = new Uint8Array(n * IMAGE_BYTES);
  const labels = new Int32Array(n);
  let k = 0;
  parts.forEach((p, label) => {
    images.set(p.images.subarray(0, p.n * IMAGE_BYTES), k * IMAGE_BYTES);
    labels.fill(label, k, k + p.n);
    k += p.n;
  });
  return { images, labels, classNames: classNames.slice(), n };
}
