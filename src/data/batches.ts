/**
 * Turning ImageSets into tf tensors: normalisation, train-time transforms (random crop with zero padding,
 * horizontal flip, cutout; see `transforms.ts`) and seeded batches. This is the only file of src/data that creates
 * tf tensors.
 *
 * Augmentation follows torchvision's RandomCrop(32, padding=4) + RandomHorizontalFlip: the raw image is padded
 * with 0 (black) before normalisation, so padded pixels become (0 - mean) / std. Cutout holes are 0 after
 * normalisation (DeVries & Taylor).
 */
import * as tf from "@tensorflow/tfjs";
import { RandomState, deriveSeed } from "./random-state";
import { applyHole, drawPlacement, type Transform } from "./transforms";
import { IMAGE_BYTES, IMAGE_SIZE, ImageSet } from "./types";

/** kuangliu/pytorch-cifar normalisation (also the course's `normalize_scratch`). */
export const CIFAR_MEAN = [0.4914, 0.4822, 0.4465] as const;
export const CIFAR_STD = [0.2023, 0.1994, 0.201] as const;

export interface Normalization {
  mean: readonly number[];
  std: readonly number[];
}

export const KUANGLIU_NORMALIZATION: Normalization = { mean: CIFAR_MEAN, std: CIFAR_STD };

/** 3×256 lookup table: value v of channel c → ((v/255) - mean[c]) / std[c], as float32. */
export function normalizationTable(norm: Normalization = KUANGLIU_NORMALIZATION): Float32Array {
  if (norm.mean.length !== 3 || norm.std.length !== 3) throw new Error("normalisation needs 3 means and 3 stds");
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    if (!(norm.std[c] > 0)) throw new Error(`normalisation std[${c}] must be > 0, got ${norm.std[c]}`);
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - norm.mean[c]) / norm.std[c];
  }
  return lut;
}

/** Normalise images [from, from+count) of `set` into `out` (NHWC float32). */
export function normalize(set: ImageSet, norm: Normalization = KUANGLIU_NORMALIZATION, out?: Float32Array): Float32Array {
  const lut = normalizationTable(norm);
  const len = set.n * IMAGE_BYTES;
  const dst = out ?? new Float32Array(len);
  if (dst.length < len) throw new Error(`normalize: output buffer has ${dst.length} floats, needs ${len}`);
  const src = set.images;
  for (let i = 0; i < len; i += 3) {
    dst[i] = lut[src[i]];
    dst[i + 1] = lut[256 + src[i + 1]];
    dst[i + 2] = lut[512 + src[i + 2]];
  }
  return dst;
}

export interface AugmentOptions {
  /** Zero padding of the random crop, in pixels (0 = no crop). Default 4. */
  crop?: number;
  /** Random horizontal flip with p = 0.5. Default true. */
  flip?: boolean;
}

/**
 * Write image `src` (HWC bytes at srcOff) into `dst` (float32 at dstOff), normalised, shifted by (dy, dx)
 * in the padded frame (dy, dx in [-pad, pad]; out-of-image pixels are raw 0), optionally flipped.
 * Output pixel (y, x) = padded pixel (y + dy + pad, x' + dx + pad) where x' = flip ? 31 - x : x,
 * i.e. crop first (offsets i = dy + pad, j = dx + pad as torchvision's RandomCrop), then flip.
 */
export function augmentInto(
  src: Uint8Array,
  srcOff: number,
  dst: Float32Array,
  dstOff: number,
  lut: Float32Array,
  dy: number,
  dx: number,
  flip: boolean,
): void {
  const S = IMAGE_SIZE;
  const p0 = lut[0];
  const p1 = lut[256];
  const p2 = lut[512];
  for (let y = 0; y < S; y++) {
    const sy = y + dy;
    const rowOut = dstOff + y * S * 3;
    if (sy < 0 || sy >= S) {
      for (let x = 0; x < S; x++) {
        const o = rowOut + x * 3;
        dst[o] = p0;
        dst[o + 1] = p1;
        dst[o + 2] = p2;
      }
      continue;
    }
    const rowIn = srcOff + sy * S * 3;
    for (let x = 0; x < S; x++) {
      const cx = flip ? S - 1 - x : x;
      const sx = cx + dx;
      const o = rowOut + x * 3;
      if (sx < 0 || sx >= S) {
        dst[o] = p0;
        dst[o + 1] = p1;
        dst[o + 2] = p2;
      } else {
        const i = rowIn + sx * 3;
        dst[o] = lut[src[i]];
        dst[o + 1] = lut[256 + src[i + 1]];
        dst[o + 2] = lut[512 + src[i + 2]];
      }
    }
  }
}

export interface BatchOptions {
  batchSize: number;
  /** Shuffle the order each epoch (seeded by seed + epoch). Default false. */
  shuffle?: boolean;
  /** true = crop 4 + flip; an object to choose; false/undefined = none. Ignored when `transforms` is given. */
  augment?: boolean | AugmentOptions;
  /** The transforms, applied in order (see `transforms.ts`, `parseTransforms(["crop4", "hflip", "cutout16"])`). */
  transforms?: readonly Transform[];
  /** Base seed for order and augmentation. Default 0. */
  seed?: number;
  /** Epoch number: mixes into the seed so every epoch differs but is reproducible. Default 0. */
  epoch?: number;
  /** Drop the last incomplete batch. Default false. */
  dropLast?: boolean;
  /** Labels as one-hot float32 [b, K] instead of int32 [b]. Default false. */
  oneHot?: boolean;
  normalization?: Normalization;
}

export interface Batch<Y extends tf.Tensor = tf.Tensor1D> {
  /** [size, 32, 32, 3] float32, normalised. */
  x: tf.Tensor4D;
  /** int32 [size] labels, or float32 [size, K] one-hot. */
  y: Y;
  size: number;
  /** Indices into the ImageSet of the images of this batch. */
  indices: Int32Array;
}

/** The image order of one epoch (identity, or seeded shuffle). */
export function epochOrder(n: number, shuffle: boolean, seed: number, epoch: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (shuffle) new RandomState(deriveSeed(seed, epoch, 1)).shuffle(order);
  return order;
}

/** The transform list of the legacy `augment` option: crop (when padding > 0), then flip. */
function resolveAugment(a: BatchOptions["augment"]): Transform[] {
  if (!a) return [];
  if (a === true) return [{ kind: "crop", padding: 4 }, { kind: "hflip" }];
  const pad = a.crop ?? 4;
  if (!Number.isInteger(pad) || pad < 0 || pad > IMAGE_SIZE) throw new Error(`augment.crop must be an integer in 0..${IMAGE_SIZE}, got ${pad}`);
  const out: Transform[] = [];
  if (pad > 0) out.push({ kind: "crop", padding: pad });
  if (a.flip ?? true) out.push({ kind: "hflip" });
  return out;
}

/** Labels of `indices` as a tensor (int32 1-D or float32 one-hot 2-D). */
function labelTensor(set: ImageSet, idx: ArrayLike<number>, oneHot: boolean): tf.Tensor {
  const b = idx.length;
  if (!oneHot) {
    const y = new Int32Array(b);
    for (let i = 0; i < b; i++) y[i] = set.labels[idx[i]];
    return tf.tensor1d(y, "int32");
  }
  const k = set.classNames.length;
  const y = new Float32Array(b * k);
  for (let i = 0; i < b; i++) {
    const l = set.labels[idx[i]];
    if (l < 0 || l >= k) throw new Error(`label ${l} of image ${idx[i]} is outside 0..${k - 1}`);
    y[i * k + l] = 1;
  }
  return tf.tensor2d(y, [b, k], "float32");
}

/**
 * Seeded mini-batches of one epoch. The caller owns (and must dispose) each batch's tensors.
 * Same set + options ⇒ same batches, bit for bit.
 */
export function batches(set: ImageSet, opts: BatchOptions & { oneHot: true }): Generator<Batch<tf.Tensor2D>>;
export function batches(set: ImageSet, opts: BatchOptions): Generator<Batch<tf.Tensor1D>>;
export function* batches(set: ImageSet, opts: BatchOptions): Generator<Batch<tf.Tensor>> {
  const bs = opts.batchSize;
  if (!Number.isInteger(bs) || bs < 1) throw new Error(`batchSize must be a positive integer, got ${bs}`);
  const seed = opts.seed ?? 0;
  const epoch = opts.epoch ?? 0;
  const ts = opts.transforms ?? resolveAugment(opts.augment);
  const lut = normalizationTable(opts.normalization);
  const order = epochOrder(set.n, opts.shuffle ?? false, seed, epoch);
  const rs = ts.length ? new RandomState(deriveSeed(seed, epoch, 2)) : undefined;
  const buf = new Float32Array(bs * IMAGE_BYTES);
  for (let start = 0; start < set.n; start += bs) {
    const size = Math.min(bs, set.n - start);
    if (size < bs && opts.dropLast) break;
    const idx = order.slice(start, start + size);
    for (let i = 0; i < size; i++) {
      const k = idx[i];
      if (rs) {
        const p = drawPlacement(ts, rs);
        augmentInto(set.images, k * IMAGE_BYTES, buf, i * IMAGE_BYTES, lut, p.dy, p.dx, p.flip);
        applyHole(buf, i * IMAGE_BYTES, p);
      } else {
        augmentInto(set.images, k * IMAGE_BYTES, buf, i * IMAGE_BYTES, lut, 0, 0, false);
      }
    }
    // tf.tensor copies the data, so the buffer can be reused for the next batch.
    const x = tf.tensor4d(buf.subarray(0, size * IMAGE_BYTES), [size, IMAGE_SIZE, IMAGE_SIZE, 3], "float32");
    const y = labelTensor(set, idx, opts.oneHot ?? false);
    yield { x, y, size, indices: idx };
  }
}

/** Number of batches `batches()` yields. */
export function batchCount(n: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/** The whole set as tensors (normalised, not augmented). The caller disposes them. */
export function toTensor(set: ImageSet, opts: { oneHot?: boolean; normalization?: Normalization } = {}): { x: tf.Tensor4D; y: tf.Tensor } {
  const buf = normalize(set, opts.normalization);
  const x = tf.tensor4d(buf, [set.n, IMAGE_SIZE, IMAGE_SIZE, 3], "float32");
  const all = new Int32Array(set.n);
  for (let i = 0; i < set.n; i++) all[i] = i;
  return { x, y: labelTensor(set, all, opts.oneHot ?? false) };
}
