/**
 * Finding the datasets. Roots, in order: `LAB_DATA_DIR`, `<repo>/data`, `<repo>/../shared/data`.
 * In each root we look for the official folder names, then the official archives (extracted into the
 * cache on first use), then image folders.
 */
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT, cacheDir, hashKey } from "./cache";
import { extractTar } from "./tar";

export const CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html";

export interface LocateOptions {
  /** Roots to search instead of the default list (mainly for tests). */
  roots?: string[];
}

export type DataSource =
  | { kind: "cifar10-binary"; dir: string; root: string; archive?: string }
  | { kind: "cifar10-folders"; dir: string; root: string }
  | { kind: "cifar100-binary"; dir: string; root: string; archive?: string };

/** The roots searched, in order, with a note on where each came from. */
export function dataRoots(opts: LocateOptions = {}): { dir: string; from: string }[] {
  if (opts.roots) return opts.roots.map((r) => ({ dir: path.resolve(r), from: "roots option" }));
  const out: { dir: string; from: string }[] = [];
  if (process.env.LAB_DATA_DIR) out.push({ dir: path.resolve(process.env.LAB_DATA_DIR), from: "LAB_DATA_DIR" });
  out.push({ dir: path.join(REPO_ROOT, "data"), from: "repo data/" });
  out.push({ dir: path.resolve(REPO_ROOT, "..", "shared", "data"), from: "../shared/data" });
  return out;
}

interface Spec {
  what: string;
  binaryDirs: string[];
  binaryMarkers: string[];
  archive: string;
  archiveInner: string;
  folderDirs: string[];
  help: string;
}

const CIFAR10: Spec = {
  what: "CIFAR-10",
  binaryDirs: ["cifar-10-batches-bin"],
  binaryMarkers: ["data_batch_1.bin", "test_batch.bin"],
  archive: "cifar-10-binary.tar.gz",
  archiveInner: "cifar-10-batches-bin",
  folderDirs: ["cifar10-jpeg", "cifar10-png", "cifar10-images"],
  help:
    `Download "CIFAR-10 binary version (suitable for C programs)", cifar-10-binary.tar.gz, from ${CIFAR_URL}. ` +
    `Either put the archive in <repo>/data/ (it is extracted into the cache on first use), or extract it there ` +
    `(tar xzf cifar-10-binary.tar.gz -C data) so that data/cifar-10-batches-bin/data_batch_1.bin exists. ` +
    `Image folders <root>/cifar10-jpeg/{train,test}/<class>/NNNN.jpg work too. ` +
    `Or set LAB_DATA_DIR to a folder that holds one of these.`,
};

const CIFAR100: Spec = {
  what: "CIFAR-100",
  binaryDirs: ["cifar-100-binary", "cifar100-binary"],
  binaryMarkers: ["train.bin", "test.bin"],
  archive: "cifar-100-binary.tar.gz",
  archiveInner: "cifar-100-binary",
  folderDirs: [],
  help:
    `Download "CIFAR-100 binary version (suitable for C programs)", cifar-100-binary.tar.gz, from ${CIFAR_URL}. ` +
    `Either put the archive in <repo>/data/ (it is extracted into the cache on first use), or extract it there ` +
    `(tar xzf cifar-100-binary.tar.gz -C data) so that data/cifar-100-binary/train.bin exists. ` +
    `Or set LAB_DATA_DIR to a folder that holds it.`,
};

function hasAny(dir: string, names: string[]): boolean {
  return names.some((n) => fs.existsSync(path.join(dir, n)));
}

/** Extract `archive` into the cache (once) and return the inner folder. */
export function extractedArchive(archive: string, inner: string): string {
  const st = fs.statSync(archive);
  const key = hashKey({ archive: path.resolve(archive), size: st.size, mtime: st.mtimeMs }).slice(0, 16);
  const dest = path.join(cacheDir(), "extracted", `${path.basename(archive).replace(/\.tar\.gz$|\.tgz$/, "")}-${key}`);
  if (!fs.existsSync(dest)) extractTar(archive, dest);
  const dir = path.join(dest, inner);
  if (!fs.existsSync(dir)) {
    throw new Error(`archive ${archive} does not contain the folder ${inner}/ (extracted to ${dest}); is it the binary version?`);
  }
  return dir;
}

function locate(spec: Spec, kindBinary: "cifar10-binary" | "cifar100-binary", opts: LocateOptions): DataSource {
  const looked: string[] = [];
  if (!opts.roots && !process.env.LAB_DATA_DIR) looked.push("LAB_DATA_DIR (not set)");
  for (const { dir: root, from } of dataRoots(opts)) {
    const tried: string[] = [];
    for (const name of spec.binaryDirs) {
      const d = path.join(root, name);
      if (fs.existsSync(d) && hasAny(d, spec.binaryMarkers)) return { kind: kindBinary, dir: d, root };
      tried.push(`${name}/`);
    }
    const arc = path.join(root, spec.archive);
    if (fs.existsSync(arc)) {
      return { kind: kindBinary, dir: extractedArchive(arc, spec.archiveInner), root, archive: arc };
    }
    tried.push(spec.archive);
    for (const name of spec.folderDirs) {
      const d = path.join(root, name);
      if (fs.existsSync(d) && hasAny(d, ["train", "test"])) return { kind: "cifar10-folders", dir: d, root };
      tried.push(`${name}/`);
    }
    looked.push(`${root} (${from}${fs.existsSync(root) ? "" : ", does not exist"}): no ${tried.join(", ")}`);
  }
  throw new Error(`${spec.what} data not found. Looked in:\n  - ${looked.join("\n  - ")}\n${spec.help}`);
}

/** Find CIFAR-10: official binary folder, official archive, or image folders. */
export function locateCifar10(opts: LocateOptions = {}): DataSource {
  return locate(CIFAR10, "cifar10-binary", opts);
}

/** Find CIFAR-100 (binary layout, official or the shared filtered copy). */
export function locateCifar100(opts: LocateOptions = {}): DataSource & { kind: "cifar100-binary" } {
  return locate(CIFAR100, "cifar100-binary", opts) as DataSource & { kind: "cifar100-binary" };
}
