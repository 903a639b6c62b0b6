/**
 * Loading PyTorch checkpoints (`torch.save`) without PyTorch: the zip format of PyTorch ≥ 1.6
 * (`<archive>/data.pkl` + raw storages under `<archive>/data/<key>`) and the legacy non-zip format.
 * The result is a flat state dict of float32 tensors, keys with any DataParallel `module.` prefix removed.
 */
import * as fs from "fs";
import { DTYPE_BYTES, PyDict, PyTuple, type StorageDtype, type StorageRef, type TensorRef, torchPersistentId, unpickleAt } from "./unpickle";
import { ZipArchive, looksLikeZip } from "./zip";

export interface TorchTensor {
  shape: number[];
  /** The dtype in the checkpoint; `data` is always float32. */
  dtype: StorageDtype;
  data: Float32Array;
}

export type StateDict = Map<string, TorchTensor>;

/** Legacy-format magic number (torch/serialization.py MAGIC_NUMBER). */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Decode `numel` little-endian elements of `dtype` into float32. */
function storageToFloat32(bytes: Uint8Array, dtype: StorageDtype, numel: number, what: string): Float32Array {
  const need = numel * DTYPE_BYTES[dtype];
  if (bytes.length < need) throw new Error(`${what}: storage has ${bytes.length} bytes, needs ${need} (${numel} × ${dtype})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, need);
  const out = new Float32Array(numel);
  switch (dtype) {
    case "float32":
      for (let i = 0; i < numel; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case "float64":
      for (let i = 0; i < numel; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case "float16":
      for (let i = 0; i < numel; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      break;
    case "bfloat16": {
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < numel; i++) {
        tmp.setUint32(0, view.getUint16(2 * i, true) << 16);
        out[i] = tmp.getFloat32(0);
      }
      break;
    }
    case "int64":
      for (let i = 0; i < numel; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      break;
    case "int32":
      for (let i = 0; i < numel; i++) out[i] = view.getInt32(4 * i, true);
      break;
    case "int16":
      for (let i = 0; i < numel; i++) out[i] = view.getInt16(2 * i, true);
      break;
    case "int8":
      for (let i = 0; i < numel; i++) out[i] = view.getInt8(i);
      break;
    case "uint8":
    case "bool":
      for (let i = 0; i < numel; i++) out[i] = view.getUint8(i);
      break;
  }
  return out;
}

/** Materialise a strided view (storage offset, size, stride) as a contiguous row-major array. */
export function gatherStrided(storage: Float32Array, offset: number, shape: number[], stride: number[], what = "tensor"): Float32Array {
  if (shape.length !== stride.length) throw new Error(`${what}: size has ${shape.length} dims but stride has ${stride.length}`);
  if (shape.some((s) => !(s >= 0))) throw new Error(`${what}: negative size [${shape}]`);
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel > storage.length && stride.every((s) => s !== 0)) {
    throw new Error(`${what}: size [${shape}] has more elements than its storage of ${storage.length}`);
  }
  if (numel > 2 ** 30) throw new Error(`${what}: size [${shape}] is too large`);
  const out = new Float32Array(numel);
  if (numel === 0) return out;
  // Bounds: the largest index touched must lie inside the storage.
  let maxIndex = offset;
  let minIndex = offset;
  shape.forEach((s, d) => {
    if (stride[d] >= 0) maxIndex += (s - 1) * stride[d];
    else minIndex += (s - 1) * stride[d];
  });
  if (minIndex < 0 || maxIndex >= storage.length) {
    throw new Error(`${what}: view (offset ${offset}, size [${shape}], stride [${stride}]) reaches outside its storage of ${storage.length} elements`);
  }
  // Contiguous fast path.
  let contiguous = true;
  for (let d = shape.length - 1, expect = 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expect) contiguous = false;
    expect *= shape[d];
  }
  if (contiguous) {
    out.set(storage.subarray(offset, offset + numel));
    return out;
  }
  const idx = new Array<number>(shape.length).fill(0);
  let src = offset;
  for (let i = 0; i < numel; i++) {
    out[i] = storage[src];
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]++;
      src += stride[d];
      if (idx[d] < shape[d]) break;
      src -= shape[d] * stride[d];
      idx[d] = 0;
    }
  }
  return out;
}

function isTensorRef(v: unknown): v is TensorRef {
  return typeof v === "object" && v !== null && (v as TensorRef).kind === "tensor";
}

/** Find the state dict in a checkpoint object: {'net': sd}, {'state_dict': sd}, {'model': sd} or a bare sd. */
function findStateDict(obj: unknown, file: string): Map<string, TensorRef> {
  if (!(obj instanceof PyDict)) throw new Error(`${file}: checkpoint is not a dict (a whole pickled model cannot be loaded safely; save model.state_dict())`);
  const tensorEntries = [...obj.entries()].filter(([, v]) => isTensorRef(v));
  if (tensorEntries.length > 0 && tensorEntries.length === obj.size) {
    const sd = new Map<string, TensorRef>();
    for (const [k, v] of tensorEntries) sd.set(String(k), v as TensorRef);
    return sd;
  }
  for (const key of ["net", "state_dict", "model", "model_state_dict"]) {
    const inner = obj.get(key);
    if (inner instanceof PyDict) return findStateDict(inner, file);
  }
  if (tensorEntries.length > 0) {
    const sd = new Map<string, TensorRef>();
    for (const [k, v] of tensorEntries) sd.set(String(k), v as TensorRef);
    return sd;
  }
  throw new Error(`${file}: no state dict found (top-level keys: ${[...obj.keys()].map(String).join(", ") || "none"})`);
}

/** Strip a DataParallel `module.` prefix when every key has it. */
function stripModulePrefix(keys: string[]): (k: string) => string {
  return keys.length > 0 && keys.every((k) => k.startsWith("module.")) ? (k) => k.slice("module.".length) : (k) => k;
}

function materialise(refs: Map<string, TensorRef>, readStorage: (s: StorageRef) => Float32Array, file: string): StateDict {
  const rename = stripModulePrefix([...refs.keys()]);
  const out: StateDict = new Map();
  for (const [key, t] of refs) {
    const storage = readStorage(t.storage);
    out.set(rename(key), { shape: t.shape, dtype: t.storage.dtype, data: gatherStrided(storage, t.offset, t.shape, t.stride, `${file}: tensor ${key}`) });
  }
  return out;
}

function loadZip(buf: Uint8Array, file: string): StateDict {
  const zip = new ZipArchive(buf, file);
  const pkl = zip.names().find((n) => n === "data.pkl" || /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl) throw new Error(`${file}: zip archive has no <archive>/data.pkl; not a PyTorch checkpoint`);
  const prefix = pkl.slice(0, pkl.length - "data.pkl".length);
  const { value } = unpickleAt(zip.read(pkl), 0, { source: `${file}: ${pkl}`, persistentLoad: (pid) => torchPersistentId(pid, file) });
  const cache = new Map<string, Float32Array>();
  const readStorage = (s: StorageRef) => {
    let data = cache.get(s.key);
    if (!data) {
      const entry = `${prefix}data/${s.key}`;
      data = storageToFloat32(zip.read(entry), s.dtype, s.numel, `${file}: ${entry}`);
      cache.set(s.key, data);
    }
    return data;
  };
  return materialise(findStateDict(value, file), readStorage, file);
}

function loadLegacy(buf: Uint8Array, file: string): StateDict {
  const opts = { source: file };
  const magic = unpickleAt(buf, 0, opts);
  if (BigInt(magic.value as number | bigint) !== LEGACY_MAGIC) {
    throw new Error(`${file}: neither a zip archive nor a legacy PyTorch checkpoint (bad magic number)`);
  }
  const version = unpickleAt(buf, magic.end, opts);
  if (version.value !== 1001) throw new Error(`${file}: unsupported legacy PyTorch format version ${String(version.value)}`);
  const sysInfo = unpickleAt(buf, version.end, opts);
  const storages = new Map<string, StorageRef>();
  const main = unpickleAt(buf, sysInfo.end, {
    source: file,
    persistentLoad: (pid) => {
      if (pid instanceof PyTuple && pid.length >= 6 && pid[5] !== null) {
        throw new Error(`${file}: legacy checkpoint with storage views is not supported; re-save it with a recent torch.save`);
      }
      const ref = torchPersistentId(pid, file);
      storages.set(ref.key, ref);
      return ref;
    },
  });
  const keys = unpickleAt(buf, main.end, opts);
  if (!Array.isArray(keys.value)) throw new Error(`${file}: legacy checkpoint without its storage key list`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = keys.end;
  const data = new Map<string, Float32Array>();
  for (const k of keys.value as unknown[]) {
    const key = String(k);
    const ref = storages.get(key);
    if (!ref) throw new Error(`${file}: legacy storage ${key} is not referenced by the checkpoint`);
    if (pos + 8 > buf.length) throw new Error(`${file}: truncated legacy checkpoint (storage ${key})`);
    const numel = Number(view.getBigInt64(pos, true));
    pos += 8;
    const nbytes = numel * DTYPE_BYTES[ref.dtype];
    if (pos + nbytes > buf.length) throw new Error(`${file}: truncated legacy checkpoint (storage ${key} needs ${nbytes} bytes)`);
    data.set(key, storageToFloat32(buf.subarray(pos, pos + nbytes), ref.dtype, numel, `${file}: storage ${key}`));
    pos += nbytes;
  }
  return materialise(findStateDict(main.value, file), (s) => data.get(s.key)!, file);
}

/** Parse a checkpoint held in memory (`file` only names it in errors). */
export function parseTorchStateDict(buf: Uint8Array, file = "<buffer>"): StateDict {
  if (looksLikeZip(buf)) return loadZip(buf, file);
  if (buf.length >= 2 && buf[0] === 0x80) return loadLegacy(buf, file);
  throw new Error(`${file}: not a PyTorch checkpoint (neither a zip archive nor a legacy pickle)`);
}

/**
 * Load the state dict of a `.pth` file: `torch.save({'net': sd})`, `torch.save(sd)` or a DataParallel
 * checkpoint (`module.` prefixes are removed). Every tensor is converted to float32.
 */
export function loadTorchStateDict(file: string): StateDict {
  if (!fs.existsSync(file)) throw new Error(`PyTorch checkpoint not found: ${file}`);
  return parseTorchStateDict(fs.readFileSync(file), file);
}
