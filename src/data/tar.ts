/**
 * A small reader for (gzipped) tar archives: enough for the official CIFAR archives.
 * Regular files and directories only; GNU long names and pax `path` records are understood.
 */
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";

export interface TarEntry {
  name: string;
  type: "file" | "dir";
  data: Uint8Array;
}

function cstr(b: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && b[end] !== 0) end++;
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString("utf8");
}

function octal(b: Uint8Array, start: number, len: number, where: string): number {
  if (b[start] & 0x80) {
    // base-256 (GNU) for big sizes
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + b[i];
    return v;
  }
  const s = cstr(b, start, len).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new Error(`${where}: bad octal field "${s}"`);
  return parseInt(s, 8);
}

/** Parse an uncompressed tar image. `label` names the archive in errors. */
export function parseTar(buf: Uint8Array, label = "tar archive"): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const where = `${label} at byte ${off}`;
    // checksum: sum of header bytes with the checksum field read as spaces
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    const stored = octal(h, 148, 8, where);
    if (stored !== sum) throw new Error(`${where}: header checksum mismatch (the archive is corrupt or not a tar file)`);
    const size = octal(h, 124, 12, where);
    const type = String.fromCharCode(h[156] || 48);
    let name = cstr(h, 0, 100);
    if (cstr(h, 257, 5) === "ustar") {
      const prefix = cstr(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const dataStart = off + 512;
    if (dataStart + size > buf.length) throw new Error(`${where}: entry "${name}" (${size} bytes) runs past the end of the archive (truncated)`);
    const data = buf.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / 512) * 512;
    if (type === "L") {
      longName = cstr(data, 0, data.length);
      continue;
    }
    if (type === "x") {
      const text = Buffer.from(data).toString("utf8");
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(text);
      if (m) paxPath = m[1];
      continue;
    }
    if (type === "g") continue;
    if (longName !== undefined) name = longName;
    if (paxPath !== undefined) name = paxPath;
    longName = paxPath = undefined;
    if (type === "0" || type === "7") out.push({ name, type: "file", data });
    else if (type === "5") out.push({ name, type: "dir", data: new Uint8Array(0) });
    // links, devices etc. are skipped
  }
  return out;
}

/** Read a .tar or .tar.gz/.tgz file. */
export function readTarFile(file: string): TarEntry[] {
  let buf: Uint8Array = fs.readFileSync(file);
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (err) {
      throw new Error(`cannot decompress ${file}: ${(err as Error).message} (the download is probably incomplete)`);
    }
  }
  return parseTar(buf, file);
}

/**
 * Extract an archive into `dest` (created; must not exist yet). Extraction goes to a temporary folder
 * first and is renamed into place, so a half-extracted folder is never left at `dest`.
 */
export function extractTar(file: string, dest: string): void {
  const entries = readTarFile(file);
  const tmp = `${dest}.${process.pid}.${Date.now()}.partial`;
  fs.mkdirSync(tmp, { recursive: true });
  try {
    for (const e of entries) {
      const parts = e.name.split("/").filter((p) => p !== "" && p !== ".");
      if (path.isAbsolute(e.name) || parts.includes("..")) {
        throw new Error(`archive ${file} has an unsafe entry name "${e.name}"`);
      }
      if (parts.length === 0) continue;
      const target = path.join(tmp, ...parts);
      if (e.type === "dir") fs.mkdirSync(target, { recursive: true });
      else {
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, e.data);
      }
    }
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.renameSync(tmp, dest);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
