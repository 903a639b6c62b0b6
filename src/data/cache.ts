/**
 * Binary cache of decoded images, so a second load of an image folder is fast.
 *
 * File layout (little-endian):
 *   8 bytes  magic "MCLIMGC1"
 *   4 bytes  header length H
 *   H bytes  header JSON: {keyHash, n, imageBytes, crc}
 *   n*imageBytes bytes of images, then n*4 bytes of Int32 labels
 * The crc (CRC-32 of the payload) and the exact size detect a corrupt or truncated file, which is then rebuilt.
 * Files are written atomically. The cache lives in `LAB_CACHE_DIR` or `<repo>/data/.cache`, never beside the data.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { writeFileAtomic } from "../results/store";

const MAGIC = Buffer.from("MCLIMGC1", "ascii");

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** Where caches go: `LAB_CACHE_DIR`, else `<repo>/data/.cache`. */
export function cacheDir(): string {
  return process.env.LAB_CACHE_DIR ? path.resolve(process.env.LAB_CACHE_DIR) : path.join(REPO_ROOT, "data", ".cache");
}

export interface CacheStats {
  hits: number;
  misses: number;
  /** Cache files found but rejected (corrupt, truncated or stale) and rebuilt. */
  rebuilt: number;
}

const stats: CacheStats = { hits: 0, misses: 0, rebuilt: 0 };

/** Counters since start (or the last reset). Useful in tests and benchmarks. */
export function cacheStats(): CacheStats {
  return { ...stats };
}

export function resetCacheStats(): void {
  stats.hits = stats.misses = stats.rebuilt = 0;
}

export interface CachedImages {
  images: Uint8Array;
  labels: Int32Array;
  n: number;
}

function crc32(data: Uint8Array, start = 0): number {
  const z = zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number };
  if (typeof z.crc32 === "function") return z.crc32(data, start) >>> 0;
  // Fallback for Node versions without zlib.crc32.
  let c = ~start >>> 0;
  for (let i = 0; i < data.length; i++) {
    c ^= data[i];
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

export function hashKey(key: unknown): string {
  return crypto.createHash("sha256").update(JSON.stringify(key)).digest("hex");
}

/** Parse a cache file; returns undefined (never throws) when it is missing, corrupt or for another key. */
function readCache(file: string, keyHash: string, imageBytes: number): CachedImages | "missing" | "bad" {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return "missing";
  }
  try {
    if (buf.length < 12 || !buf.subarray(0, 8).equals(MAGIC)) return "bad";
    const h = buf.readUInt32LE(8);
    if (12 + h > buf.length) return "bad";
    const header = JSON.parse(buf.subarray(12, 12 + h).toString("utf8")) as {
      keyHash: string;
      n: number;
      imageBytes: number;
      crc: number;
    };
    if (header.keyHash !== keyHash || header.imageBytes !== imageBytes) return "bad";
    const n = header.n;
    if (!Number.isInteger(n) || n < 0) return "bad";
    const start = 12 + h;
    const payload = n * imageBytes + n * 4;
    if (buf.length !== start + payload) return "bad";
    const body = buf.subarray(start);
    if (crc32(body) !== header.crc) return "bad";
    const images = new Uint8Array(n * imageBytes);
    images.set(body.subarray(0, n * imageBytes));
    const labels = new Int32Array(n);
    const lb = body.subarray(n * imageBytes);
    for (let i = 0; i < n; i++) labels[i] = lb.readInt32LE(i * 4);
    return { images, labels, n };
  } catch {
    return "bad";
  }
}

function writeCache(file: string, keyHash: string, imageBytes: number, data: CachedImages): void {
  const n = data.n;
  const body = Buffer.alloc(n * imageBytes + n * 4);
  body.set(data.images.subarray(0, n * imageBytes), 0);
  for (let i = 0; i < n; i++) body.writeInt32LE(data.labels[i], n * imageBytes + i * 4);
  const header = Buffer.from(JSON.stringify({ keyHash, n, imageBytes, crc: crc32(body) }), "utf8");
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length, 0);
  writeFileAtomic(file, Buffer.concat([MAGIC, len, header, body]));
}

export interface CacheOptions {
  /** false disables the cache (always build, never write). Default true. */
  enabled?: boolean;
  /** Cache folder; default cacheDir(). */
  dir?: string;
}

/**
 * Return the cached images for `key`, or build them with `build()` and store them.
 * `name` is a readable prefix for the cache file; `key` must change whenever the source changes
 * (include paths, sizes and mtimes).
 */
export function cachedImages(
  name: string,
  key: unknown,
  imageBytes: number,
  build: () => CachedImages,
  opts: CacheOptions = {},
): CachedImages & { fromCache: boolean } {
  if (opts.enabled === false) return { ...build(), fromCache: false };
  const dir = opts.dir ?? cacheDir();
  const keyHash = hashKey(key);
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, "_").slice(-80);
  const file = path.join(dir, `${safe}-${keyHash.slice(0, 16)}.imgcache`);
  const got = readCache(file, keyHash, imageBytes);
  if (typeof got === "object") {
    stats.hits++;
    return { ...got, fromCache: true };
  }
  if (got === "bad") stats.rebuilt++;
  else stats.misses++;
  const built = build();
  try {
    writeCache(file, keyHash, imageBytes, built);
  } catch (err) {
    // A cache that cannot be written is not fatal; say so once and go on.
    process.emitWarning(`could not write the image cache ${file}: ${(err as Error).message}`);
  }
  return { ...built, fromCache: false };
}
