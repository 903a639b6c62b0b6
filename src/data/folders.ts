/**
 * Image-folder reader: `<dir>/<class>/*.jpg|*.jpeg|*.png`, each image 32×32.
 * Files are sorted by name, numeric-aware (2.jpg before 10.jpg), so `NNNN.jpg` files keep their official order.
 * Decoded class folders are cached (see cache.ts).
 */
import * as fs from "fs";
import * as path from "path";
import * as jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { CacheOptions, cachedImages } from "./cache";
import { IMAGE_BYTES, IMAGE_SIZE, ImageSet, concatClasses } from "./types";

const IMAGE_EXT = /\.(jpe?g|png)$/i;
const collator = new Intl.Collator("en", { numeric: true, sensitivity: "variant" });

/** Image files of one folder, sorted numeric-aware by name (full paths). */
export function listImageFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) throw new Error(`image folder not found: ${dir}`);
  const names = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && IMAGE_EXT.test(e.name))
    .map((e) => e.name);
  return sortNames(names).map((name) => path.join(dir, name));
}

/** Numeric-aware name sort (fast path when every name is digits + extension, e.g. NNNN.jpg). */
export function sortNames(names: string[]): string[] {
  const re = /^(\d+)(\.[^.]*)?$/;
  if (names.every((n) => re.test(n))) {
    return names
      .map((n) => ({ n, v: Number(re.exec(n)![1]) }))
      .sort((a, b) => a.v - b.v || (a.n < b.n ? -1 : a.n > b.n ? 1 : 0))
      .map((e) => e.n);
  }
  return names.sort(collator.compare);
}

/** Decode one 32×32 JPEG or PNG file into `out` (HWC RGB) at `offset`. */
export function decodeImageInto(file: string, out: Uint8Array, offset: number): void {
  const buf = fs.readFileSync(file);
  let width: number;
  let height: number;
  let rgba: Uint8Array;
  const isPng = buf.length >= 8 && buf[0] === 0x89 && buf[1] === 0x50 && buf[2] === 0x4e && buf[3] === 0x47;
  const isJpeg = buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff;
  try {
    if (isPng) {
      const png = PNG.sync.read(buf);
      width = png.width;
      height = png.height;
      rgba = png.data;
      if (rgba.length !== width * height * 4) {
        // 16-bit PNGs without rescale; pngjs normally rescales to 8 bits.
        throw new Error(`unexpected PNG pixel buffer of ${rgba.length} bytes`);
      }
    } else if (isJpeg) {
      const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 4 });
      width = img.width;
      height = img.height;
      rgba = img.data;
    } else {
      throw new Error("not a JPEG or PNG file (unknown signature)");
    }
  } catch (err) {
    throw new Error(`cannot decode image ${file}: ${(err as Error).message}`);
  }
  if (width !== IMAGE_SIZE || height !== IMAGE_SIZE) {
    throw new Error(`image ${file} is ${width}×${height}, expected ${IMAGE_SIZE}×${IMAGE_SIZE}`);
  }
  for (let p = 0, q = offset; p < IMAGE_SIZE * IMAGE_SIZE; p++, q += 3) {
    out[q] = rgba[p * 4];
    out[q + 1] = rgba[p * 4 + 1];
    out[q + 2] = rgba[p * 4 + 2];
  }
}

/** Decode every image of one class folder (cached). Returns HWC images in file-name order. */
export function readClassFolder(dir: string, cache: CacheOptions = {}): { images: Uint8Array; n: number; files: string[]; fromCache: boolean } {
  const files = listImageFiles(dir);
  const abs = path.resolve(dir);
  const key = {
    kind: "image-folder-v1",
    dir: abs,
    files: files.map((f) => {
      const st = fs.statSync(f);
      return [path.basename(f), st.size, st.mtimeMs];
    }),
  };
  const name = `${path.basename(path.dirname(abs))}-${path.basename(abs)}`;
  const got = cachedImages(
    name,
    key,
    IMAGE_BYTES,
    () => {
      const images = new Uint8Array(files.length * IMAGE_BYTES);
      files.forEach((f, i) => decodeImageInto(f, images, i * IMAGE_BYTES));
      return { images, labels: new Int32Array(files.length), n: files.length };
    },
    cache,
  );
  return { images: got.images, n: got.n, files, fromCache: got.fromCache };
}

/** Sub-folder names of `dir`, sorted. */
export function listClassFolders(dir: string): string[] {
  if (!fs.existsSync(dir)) throw new Error(`image folder not found: ${dir}`);
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith("."))
    .map((e) => e.name)
    .sort(collator.compare);
}

export interface ImageFolderOptions {
  /** Class folders to read, in label order. Default: every sub-folder, sorted by name. */
  classNames?: string[];
  cache?: CacheOptions;
}

/**
 * Read `<dir>/<class>/*` into one ImageSet, grouped by class in `classNames` order
 * (label i = classNames[i]); within a class, file-name order.
 */
export function readImageFolder(dir: string, opts: ImageFolderOptions = {}): ImageSet {
  const classNames = opts.classNames ?? listClassFolders(dir);
  if (classNames.length === 0) throw new Error(`image folder ${dir} has no class sub-folders`);
  const parts = classNames.map((c) => {
    const sub = path.join(dir, c);
    if (!fs.existsSync(sub)) {
      throw new Error(`class folder ${sub} not found (classes present in ${dir}: ${safeList(dir)})`);
    }
    const got = readClassFolder(sub, opts.cache);
    if (got.n === 0) throw new Error(`class folder ${sub} has no .jpg/.jpeg/.png images`);
    return got;
  });
  return concatClasses(parts, classNames);
}

function safeList(dir: string): string {
  try {
    return listClassFolders(dir).join(", ") || "none";
  } catch {
    return "none";
  }
}
