/**
 * A minimal zip reader (enough for PyTorch ≥ 1.6 `.pth` archives): finds the end-of-central-directory
 * record, lists entries from the central directory (zip64 sizes included) and extracts stored or
 * deflated entries. Every structural problem throws an error naming the file.
 */
import * as zlib from "zlib";

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_EOCD_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CDIR_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

/** True when `buf` starts like a zip archive (local file header or empty-archive EOCD). */
export function looksLikeZip(buf: Uint8Array): boolean {
  if (buf.length < 4) return false;
  const sig = buf[0] | (buf[1] << 8) | (buf[2] << 16) | (buf[3] << 24);
  return sig >>> 0 === LOCAL_SIG || sig >>> 0 === EOCD_SIG;
}

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(
    readonly buf: Uint8Array,
    readonly file = "<buffer>",
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.readCentralDirectory();
  }

  private fail(msg: string): never {
    throw new Error(`${this.file}: not a readable zip archive (${msg}); the file may be truncated or corrupt`);
  }

  private u16(off: number): number {
    if (off + 2 > this.buf.length) this.fail(`read past the end at byte ${off}`);
    return this.view.getUint16(off, true);
  }

  private u32(off: number): number {
    if (off + 4 > this.buf.length) this.fail(`read past the end at byte ${off}`);
    return this.view.getUint32(off, true);
  }

  private u64(off: number): number {
    if (off + 8 > this.buf.length) this.fail(`read past the end at byte ${off}`);
    const v = this.view.getBigUint64(off, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`64-bit value too large at byte ${off}`);
    return Number(v);
  }

  private readCentralDirectory(): void {
    const n = this.buf.length;
    if (n < 22) this.fail(`only ${n} bytes`);
    let eocd = -1;
    for (let i = n - 22; i >= Math.max(0, n - 22 - 0xffff); i--) {
      if (this.view.getUint32(i, true) === EOCD_SIG) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) this.fail("no end-of-central-directory record");
    let count = this.u16(eocd + 10);
    let cdSize = this.u32(eocd + 12);
    let cdOffset = this.u32(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || this.u32(loc) !== ZIP64_EOCD_LOCATOR_SIG) this.fail("zip64 fields without a zip64 locator");
      const z = this.u64(loc + 8);
      if (this.u32(z) !== ZIP64_EOCD_SIG) this.fail("bad zip64 end-of-central-directory record");
      count = this.u64(z + 32);
      cdSize = this.u64(z + 40);
      cdOffset = this.u64(z + 48);
    }
    if (cdOffset + cdSize > n) this.fail(`central directory (${cdSize} bytes at ${cdOffset}) lies past the end of the ${n}-byte file`);
    let p = cdOffset;
    const dec = new TextDecoder();
    for (let k = 0; k < count; k++) {
      if (this.u32(p) !== CDIR_SIG) this.fail(`bad central directory entry ${k}`);
      const method = this.u16(p + 10);
      let compressedSize = this.u32(p + 20);
      let size = this.u32(p + 24);
      const nameLen = this.u16(p + 28);
      const extraLen = this.u16(p + 30);
      const commentLen = this.u16(p + 32);
      let localHeaderOffset = this.u32(p + 42);
      if (p + 46 + nameLen > n) this.fail(`entry ${k} name past the end`);
      const name = dec.decode(this.buf.subarray(p + 46, p + 46 + nameLen));
      // zip64 extended information extra field (id 0x0001): only the fields that overflowed are present.
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = this.u16(e);
        const len = this.u16(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) (size = this.u64(q)), (q += 8);
          if (compressedSize === 0xffffffff) (compressedSize = this.u64(q)), (q += 8);
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = this.u64(q);
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p = eEnd + commentLen;
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The uncompressed bytes of entry `name` (a view into the archive for stored entries). */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) throw new Error(`${this.file}: zip archive has no entry "${name}"`);
    const h = entry.localHeaderOffset;
    if (this.u32(h) !== LOCAL_SIG) this.fail(`bad local header for "${name}"`);
    const start = h + 30 + this.u16(h + 26) + this.u16(h + 28);
    const end = start + entry.compressedSize;
    if (end > this.buf.length) this.fail(`entry "${name}" (${entry.compressedSize} bytes at ${start}) lies past the end of the ${this.buf.length}-byte file`);
    const raw = this.buf.subarray(start, end);
    let out: Uint8Array;
    if (entry.method === 0) out = raw;
    else if (entry.method === 8) {
      try {
        out = zlib.inflateRawSync(raw);
      } catch (err) {
        this.fail(`entry "${name}" does not inflate: ${(err as Error).message}`);
      }
    } else this.fail(`entry "${name}" uses unsupported compression method ${entry.method}`);
    if (out.length !== entry.size) this.fail(`entry "${name}" has ${out.length} bytes, expected ${entry.size}`);
    return out;
  }
}
