/**
 * Readers for the official CIFAR binary formats ("binary version, suitable for C programs").
 *
 * CIFAR-10: records of 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, each 32×32 row-major).
 * CIFAR-100: records of 1 coarse byte + 1 fine byte + 3072 pixel bytes.
 * Pixels are converted from planar CHW to interleaved HWC.
 */
import * as fs from "fs";
import * as path from "path";
import { CIFAR10_CLASSES, IMAGE_BYTES, ImageSet, Split, checkSplit } from "./types";

const PLANE = 1024;

/** Copy one planar record (R plane, G plane, B plane) into `out` at `outOffset` as HWC. */
export function planarToHwc(src: Uint8Array, srcOffset: number, out: Uint8Array, outOffset: number): void {
  for (let p = 0; p < PLANE; p++) {
    const o = outOffset + p * 3;
    out[o] = src[srcOffset + p];
    out[o + 1] = src[srcOffset + PLANE + p];
    out[o + 2] = src[srcOffset + 2 * PLANE + p];
  }
}

/** Inverse of planarToHwc (used to write official-format files, e.g. fixtures). */
export function hwcToPlanar(src: Uint8Array, srcOffset: number, out: Uint8Array, outOffset: number): void {
  for (let p = 0; p < PLANE; p++) {
    const i = srcOffset + p * 3;
    out[outOffset + p] = src[i];
    out[outOffset + PLANE + p] = src[i + 1];
    out[outOffset + 2 * PLANE + p] = src[i + 2];
  }
}

function readBinaryFile(file: string, recordSize: number, what: string): Buffer {
  if (!fs.existsSync(file)) throw new Error(`${what} file not found: ${file}`);
  const buf = fs.readFileSync(file);
  if (buf.length === 0) throw new Error(`${what} file ${file} is empty`);
  if (buf.length % recordSize !== 0) {
    throw new Error(
      `${what} file ${file} has ${buf.length} bytes, which is not a multiple of the record size ${recordSize} ` +
        `(${buf.length / recordSize | 0} whole records + ${buf.length % recordSize} extra bytes): the file is truncated or not in that format`,
    );
  }
  return buf;
}

/** Read a label-names file: one name per line, blank lines ignored. */
export function readLabelNames(file: string): string[] {
  if (!fs.existsSync(file)) throw new Error(`label names file not found: ${file}`);
  const names = fs
    .readFileSync(file, "utf8")
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 0) throw new Error(`label names file ${file} has no names`);
  return names;
}

/**
 * Read one or more CIFAR-10 binary batch files, in the given order (official image order).
 * Labels must be < classNames.length (default: the 10 official names).
 */
export function readCifar10Binary(files: string | string[], classNames: readonly string[] = CIFAR10_CLASSES): ImageSet {
  const list = typeof files === "string" ? [files] : files;
  const R = 1 + IMAGE_BYTES;
  const bufs = list.map((f) => readBinaryFile(f, R, "CIFAR-10 binary"));
  const n = bufs.reduce((s, b) => s + b.length / R, 0);
  const images = new Uint8Array(n * IMAGE_BYTES);
  const labels = new Int32Array(n);
  let k = 0;
  bufs.forEach((buf, fi) => {
    const count = buf.length / R;
    for (let r = 0; r < count; r++, k++) {
      const off = r * R;
      const label = buf[off];
      if (label >= classNames.length) {
        throw new Error(
          `CIFAR-10 binary file ${list[fi]}: record ${r} has label ${label}, but there are only ${classNames.length} classes`,
        );
      }
      labels[k] = label;
      planarToHwc(buf, off + 1, images, k * IMAGE_BYTES);
    }
  });
  return { images, labels, classNames: classNames.slice(), n };
}

/** The batch files of a split in an official `cifar-10-batches-bin/` folder. */
export function cifar10BinaryFiles(dir: string, split: Split): string[] {
  checkSplit(split, "cifar10BinaryFiles");
  return split === "train"
    ? [1, 2, 3, 4, 5].map((i) => path.join(dir, `data_batch_${i}.bin`))
    : [path.join(dir, "test_batch.bin")];
}

/** Read a split from an official `cifar-10-batches-bin/` folder (names from batches.meta.txt when present). */
export function readCifar10BinaryDir(dir: string, split: Split): ImageSet {
  const files = cifar10BinaryFiles(dir, split);
  const missing = files.filter((f) => !fs.existsSync(f));
  if (missing.length > 0) {
    throw new Error(`CIFAR-10 folder ${dir} is incomplete: missing ${missing.map((f) => path.basename(f)).join(", ")}`);
  }
  const meta = path.join(dir, "batches.meta.txt");
  const names = fs.existsSync(meta) ? readLabelNames(meta) : CIFAR10_CLASSES.slice();
  if (names.length !== 10) throw new Error(`${meta} lists ${names.length} class names, expected 10`);
  return readCifar10Binary(files, names);
}

/**
 * Read a CIFAR-100 binary file. `labels` are the fine labels, `coarseLabels` the superclasses.
 */
export function readCifar100Binary(file: string, fineNames: readonly string[], coarseNames: readonly string[]): ImageSet {
  const R = 2 + IMAGE_BYTES;
  const buf = readBinaryFile(file, R, "CIFAR-100 binary");
  const n = buf.length / R;
  const images = new Uint8Array(n * IMAGE_BYTES);
  const labels = new Int32Array(n);
  const coarseLabels = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const off = r * R;
    const coarse = buf[off];
    const fine = buf[off + 1];
    if (coarse >= coarseNames.length) {
      throw new Error(`CIFAR-100 binary file ${file}: record ${r} has coarse label ${coarse}, but there are only ${coarseNames.length} superclasses`);
    }
    if (fine >= fineNames.length) {
      throw new Error(`CIFAR-100 binary file ${file}: record ${r} has fine label ${fine}, but there are only ${fineNames.length} classes`);
    }
    coarseLabels[r] = coarse;
    labels[r] = fine;
    planarToHwc(buf, off + 2, images, r * IMAGE_BYTES);
  }
  return { images, labels, classNames: fineNames.slice(), n, coarseLabels, coarseClassNames: coarseNames.slice() };
}

/** Read a split from a CIFAR-100 binary folder (train.bin / test.bin + fine/coarse_label_names.txt). */
export function readCifar100BinaryDir(dir: string, split: Split): ImageSet {
  checkSplit(split, "readCifar100BinaryDir");
  const fine = readLabelNames(path.join(dir, "fine_label_names.txt"));
  const coarse = readLabelNames(path.join(dir, "coarse_label_names.txt"));
  if (fine.length !== 100) throw new Error(`${path.join(dir, "fine_label_names.txt")} lists ${fine.length} names, expected 100`);
  if (coarse.length !== 20) throw new Error(`${path.join(dir, "coarse_label_names.txt")} lists ${coarse.length} names, expected 20`);
  return readCifar100Binary(path.join(dir, `${split}.bin`), fine, coarse);
}
