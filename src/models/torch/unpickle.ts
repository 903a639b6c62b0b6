/**
 * A safe unpickler for PyTorch checkpoints: it interprets the pickle opcodes that torch.save writes
 * (protocol 2; 3 and 4 are also understood) into plain JavaScript values. Nothing is ever executed:
 * GLOBAL only resolves names on a short allowlist (OrderedDict, tensor rebuild functions, typed
 * storages) and REDUCE only "calls" those with built-in JavaScript handlers. Any other global
 * (os.system, builtins.eval, …) throws "refusing global …".
 */

/** The highest pickle protocol understood. */
export const MAX_PROTOCOL = 4;

/** Element types of PyTorch's typed storages. */
export type StorageDtype = "float32" | "float64" | "float16" | "bfloat16" | "int64" | "int32" | "int16" | "int8" | "uint8" | "bool";

export const STORAGE_CLASSES: Record<string, StorageDtype> = {
  FloatStorage: "float32",
  DoubleStorage: "float64",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  LongStorage: "int64",
  IntStorage: "int32",
  ShortStorage: "int16",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
};

export const DTYPE_BYTES: Record<StorageDtype, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** A resolved allowlisted global. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A Python tuple (kept distinct from lists). */
export class PyTuple extends Array<unknown> {}

function tuple(items: unknown[]): PyTuple {
  const t = new PyTuple();
  t.push(...items);
  return t;
}

/** A Python dict or OrderedDict; keys are strings, numbers or other values (compared by identity). */
export class PyDict extends Map<unknown, unknown> {
  ordered = false;
  /** State set by BUILD (e.g. a state_dict's `_metadata`). */
  state: unknown;
}

/** A reference to a storage, as handed to the persistent-id loader. */
export interface StorageRef {
  kind: "storage";
  dtype: StorageDtype;
  key: string;
  location: string;
  numel: number;
}

/** A tensor as described by torch._utils._rebuild_tensor(_v2): a strided view into a storage. */
export interface TensorRef {
  kind: "tensor";
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

export interface UnpickleOptions {
  /** Resolves BINPERSID/PERSID ids (PyTorch: ('storage', StorageClass, key, location, numel)). */
  persistentLoad?: (pid: unknown) => unknown;
  /** Names the source in error messages. */
  source?: string;
}

const ALLOWED_CALLABLES = new Set([
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_tensor",
  "torch._utils._rebuild_parameter",
]);

function isAllowedGlobal(module: string, name: string): boolean {
  if (ALLOWED_CALLABLES.has(`${module}.${name}`)) return true;
  return module === "torch" && Object.prototype.hasOwnProperty.call(STORAGE_CLASSES, name);
}


function toInt(v: unknown, what: string): number {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  throw new Error(`${what}: expected an integer, got ${describe(v)}`);
}

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw new Error(`${what}: expected a tuple of integers, got ${describe(v)}`);
  return Array.from(v, (x) => toInt(x, what));
}

function describe(v: unknown): string {
  if (v instanceof PyGlobal) return `global ${v.qualname}`;
  if (v instanceof PyTuple) return `tuple of ${v.length}`;
  if (Array.isArray(v)) return `list of ${v.length}`;
  if (v instanceof PyDict) return `dict of ${v.size}`;
  return v === null ? "None" : typeof v;
}

/** Apply an allowlisted callable to its arguments (REDUCE). */
function callGlobal(fn: PyGlobal, args: unknown[], where: string): unknown {
  switch (fn.qualname) {
    case "collections.OrderedDict": {
      const d = new PyDict();
      d.ordered = true;
      if (args.length > 0) throw new Error(`${where}: OrderedDict with constructor arguments is not supported`);
      return d;
    }
    case "torch._utils._rebuild_tensor":
    case "torch._utils._rebuild_tensor_v2": {
      const [storage, offset, size, stride] = args;
      if (!storage || (storage as StorageRef).kind !== "storage") {
        throw new Error(`${where}: ${fn.qualname} expects a storage, got ${describe(storage)}`);
      }
      const t: TensorRef = {
        kind: "tensor",
        storage: storage as StorageRef,
        offset: toInt(offset, `${fn.qualname} storage_offset`),
        shape: intList(size, `${fn.qualname} size`),
        stride: intList(stride, `${fn.qualname} stride`),
      };
      return t;
    }
    case "torch._utils._rebuild_parameter":
      return args[0];
    default:
      throw new Error(`${where}: refusing to call global ${fn.qualname}`);
  }
}

/** Unpickle `data`; throws on any global outside the allowlist, unsupported protocol or malformed stream. */
export function unpickle(data: Uint8Array, opts: UnpickleOptions = {}): unknown {
  return unpickleAt(data, 0, opts).value;
}

/** Unpickle one pickle starting at byte `start`; also returns the offset just past its STOP. */
export function unpickleAt(data: Uint8Array, start: number, opts: UnpickleOptions = {}): { value: unknown; end: number } {
  const src = opts.source ?? "pickle";
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const dec = new TextDecoder("utf-8");
  const latin1 = new TextDecoder("latin1");
  let pos = start;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const fail = (msg: string): never => {
    throw new Error(`${src}: ${msg}`);
  };
  const need = (n: number) => {
    if (pos + n > data.length) fail(`truncated pickle (needs ${n} more bytes at offset ${pos}, has ${data.length - pos})`);
  };
  const u8 = () => (need(1), data[pos++]);
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(data.length)) fail(`length ${v} at offset ${pos - 8} exceeds the pickle size`);
    return Number(v);
  };
  const bytes = (n: number) => (need(n), (pos += n), data.subarray(pos - n, pos));
  const line = () => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail(`truncated pickle (unterminated line at offset ${pos})`);
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0) fail(`stack underflow at offset ${pos - 1}`);
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) fail(`stack underflow at offset ${pos - 1}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = marks.pop();
    if (!prev) fail(`no MARK on the stack at offset ${pos - 1}`);
    stack = prev!;
    return items;
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    if (!isAllowedGlobal(module, name)) fail(`refusing global ${module}.${name} (only PyTorch tensor/state_dict globals are allowed; nothing was executed)`);
    return new PyGlobal(module, name);
  };
  const decodeLong = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const setItems = (d: unknown, items: unknown[]) => {
    if (!(d instanceof PyDict)) fail(`SETITEM(S) on ${describe(d)}`);
    if (items.length % 2) fail("SETITEMS with an odd number of items");
    for (let i = 0; i < items.length; i += 2) (d as PyDict).set(items[i], items[i + 1]);
  };
  const appendItems = (l: unknown, items: unknown[]) => {
    if (!Array.isArray(l) || l instanceof PyTuple) fail(`APPEND(S) on ${describe(l)}`);
    (l as unknown[]).push(...items);
  };

  if (pos >= data.length) fail("empty pickle");
  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: {
        // PROTO
        const proto = u8();
        if (proto > MAX_PROTOCOL) fail(`unsupported pickle protocol ${proto} (this reader handles protocols 2 to ${MAX_PROTOCOL}; PyTorch writes 2)`);
        break;
      }
      case 0x95: // FRAME (protocol 4): the frame length is only a read-ahead hint
        bytes(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length) fail(`malformed pickle: ${stack.length} values left on the stack at STOP`);
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(bytes(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(decodeLong(bytes(u32())));
        break;
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(dec.decode(bytes(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(dec.decode(bytes(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(dec.decode(bytes(u64())));
        break;
      case 0x54: // BINSTRING
        stack.push(latin1.decode(bytes(i32())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(bytes(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(bytes(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytes(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(bytes(u64()).slice());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x74: // TUPLE
      {
        const items = popMark(); // popMark replaces `stack`: pop before pushing
        stack.push(tuple(items));
      }
        break;
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b, c]));
        break;
      }
      case 0x6c: // LIST
      {
        const items = popMark();
        stack.push([...items]);
      }
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const d = new PyDict();
        setItems(d, items);
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        if (!memo.has(i)) fail(`memo entry ${i} is not defined (offset ${at})`);
        stack.push(memo.get(i));
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyGlobal)) fail(`REDUCE on ${describe(fn)}, not an allowed global`);
        if (!(args instanceof PyTuple)) fail(`REDUCE arguments must be a tuple, got ${describe(args)}`);
        stack.push(callGlobal(fn as PyGlobal, args as PyTuple, src));
        break;
      }
      case 0x62: {
        // BUILD: only plain state on our own dicts (e.g. a state_dict's _metadata) is accepted.
        const state = pop();
        const obj = top();
        if (!(obj instanceof PyDict)) fail(`BUILD on ${describe(obj)} is not supported`);
        (obj as PyDict).state = state;
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail("persistent id found but no persistent loader given");
        stack.push(opts.persistentLoad!(pid));
        break;
      }
      case 0x50: {
        // PERSID (text)
        const pid = line();
        if (!opts.persistentLoad) fail("persistent id found but no persistent loader given");
        stack.push(opts.persistentLoad!(pid));
        break;
      }
      case 0x81: // NEWOBJ
      case 0x92: // NEWOBJ_EX
      case 0x69: // INST
      case 0x6f: // OBJ
        fail(`refusing object construction opcode 0x${op.toString(16)} at offset ${at}`);
        break;
      case 0x96: // BYTEARRAY8
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        fail(`unsupported pickle protocol 5 opcode 0x${op.toString(16)} at offset ${at}`);
        break;
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16)} (${JSON.stringify(String.fromCharCode(op))}) at offset ${at}`);
    }
  }
}

/** The PyTorch persistent-id loader: ('storage', torch.XStorage, key, location, numel[, view_metadata]). */
export function torchPersistentId(pid: unknown, source = "pickle"): StorageRef {
  if (!(pid instanceof PyTuple) || pid.length < 5 || pid[0] !== "storage") {
    throw new Error(`${source}: unsupported persistent id ${describe(pid)} (expected ('storage', StorageClass, key, location, numel))`);
  }
  const [, cls, key, location, numel] = pid;
  if (!(cls instanceof PyGlobal) || cls.module !== "torch" || !STORAGE_CLASSES[cls.name]) {
    throw new Error(`${source}: persistent id names ${describe(cls)}, not a torch storage class`);
  }
  return {
    kind: "storage",
    dtype: STORAGE_CLASSES[cls.name],
    key: String(key),
    location: String(location),
    numel: toInt(numel, "storage numel"),
  };
}
