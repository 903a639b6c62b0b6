/**
 * Training checkpoints: everything a run needs to continue exactly where it stopped, in one file written atomically
 * (temp file, then rename) after every epoch by trainModel (`hooks.checkpoint`).
 *
 * Contents: the weights of every layer (BatchNorm running statistics included), the optimizer's state
 * (`OptimizerState`: momentum buffers, moment estimates, step counts), the number of completed epochs and their
 * metrics, the training time so far, the early-stopping state, the RNG state (the call count of every seeded dropout
 * layer; data order and transforms are functions of the seed and epoch) and the data order of the next epoch (so
 * that a resumed run on another training set is refused). With the same backend and seed, a run that is killed and
 * resumed ends with the same weights as one that never stopped.
 *
 * A checkpoint names what it belongs to: the model (label, ModelSpec when known, every weight's key and shape) and
 * the whole TrainSpec. `checkCompatible` refuses one from another model or config, naming each difference.
 *
 * File layout: "MCLCKPT1" (8 bytes), the header's length (uint32 LE), the header (UTF-8 JSON), zero padding to a
 * multiple of 4, then the tensors (float32 or int32, little-endian) at the byte offsets the header gives. Weight keys
 * are `<layer name>/<index in the layer>`: stable across processes, unlike tfjs's variable names (which get
 * suffixes when a process builds the same model twice).
 */
import * as fs from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { dropoutState, setDropoutState } from "../models/layers";
import type { EpochMetrics, ModelSpec, TrainSpec } from "../results/types";
import { writeFileAtomic } from "../results/store";
import type { OptimizerState } from "./optim-base";
import type { EarlyStoppingState } from "./regularization";

const MAGIC = "MCLCKPT1";
export const CHECKPOINT_FORMAT = "minicifar-lab/train-checkpoint";
export const CHECKPOINT_VERSION = 1;

/** What a checkpoint belongs to. */
export interface CheckpointIdentity {
  /** The run's label (usually the model's name). Informational: not compared. */
  label: string;
  /** The model's spec, when it was built from one (compared key by key). */
  modelSpec?: ModelSpec;
  /** The whole TrainSpec (compared key by key). */
  train: TrainSpec;
  /** Every weight of the model: key and shape. */
  weights: { key: string; shape: number[] }[];
  /** The tfjs backend it trained on (compared: bit-identical resumes need the same kernels). Absent in older files. */
  backend?: string;
}

/** Where training stands after `epoch` completed epochs. */
export interface TrainProgressState {
  /** Completed epochs. */
  epoch: number;
  /** Their metrics. */
  epochs: EpochMetrics[];
  /** Milliseconds spent in training steps so far, and images trained on. */
  trainMs: number;
  images: number;
  /** True when early stopping ended the run after `epoch`. */
  stoppedEarly: boolean;
  stopper?: EarlyStoppingState;
  /** RNG state: training-mode calls of each seeded dropout layer. */
  dropout: Record<string, number>;
}

export interface TrainCheckpoint {
  identity: CheckpointIdentity;
  state: TrainProgressState;
  /** Weight key → values. */
  weights: Map<string, Float32Array>;
  /** The optimizer's state, its variables named by weight key. */
  optimizer: OptimizerState;
  /** The image order of epoch `state.epoch` (the next one), when the data source exposes it. */
  nextOrder?: Int32Array;
  savedAt: string;
}

interface TensorEntry {
  group: "weight" | "slot" | "order";
  slot?: string;
  key: string;
  dtype: "float32" | "int32";
  shape: number[];
  offset: number;
}

interface Header {
  format: string;
  version: number;
  savedAt: string;
  identity: CheckpointIdentity;
  state: TrainProgressState;
  optimizer: { name: OptimizerState["name"]; step: number; varSteps: Record<string, number>; shapes: Record<string, number[]> };
  tensors: TensorEntry[];
}

/** Stable weight keys of a model: `<layer>/<i>` → the layer's i-th weight. */
export function weightKeys(model: tf.LayersModel): { key: string; variable: tf.LayerVariable; layer: tf.layers.Layer; index: number }[] {
  const out: { key: string; variable: tf.LayerVariable; layer: tf.layers.Layer; index: number }[] = [];
  for (const layer of model.layers) layer.weights.forEach((w, i) => out.push({ key: `${layer.name}/${i}`, variable: w, layer, index: i }));
  return out;
}

/** The identity of a run of `model` with `train` (and its ModelSpec when known). */
export function checkpointIdentity(model: tf.LayersModel, train: TrainSpec, label: string, modelSpec?: ModelSpec): CheckpointIdentity {
  return {
    label,
    ...(modelSpec ? { modelSpec } : {}),
    train,
    weights: weightKeys(model).map((w) => ({ key: w.key, shape: [...w.variable.shape] as number[] })),
    backend: tf.getBackend(),
  };
}

/** A checkpoint that belongs to another run (model, config, weights or backend): `differences` says what differs. */
export class CheckpointMismatchError extends Error {
  constructor(
    readonly file: string,
    readonly differences: string[],
    message: string,
  ) {
    super(message);
    this.name = "CheckpointMismatchError";
  }
}

/** Maps tfjs variable names (this process) ↔ stable weight keys. */
export function variableKeyMaps(model: tf.LayersModel): { toKey: Map<string, string>; toName: Map<string, string> } {
  const toKey = new Map<string, string>();
  const toName = new Map<string, string>();
  for (const w of weightKeys(model)) {
    const name = (w.variable.read() as tf.Variable).name;
    toKey.set(name, w.key);
    toName.set(w.key, name);
  }
  return { toKey, toName };
}

function renameState(s: OptimizerState, map: Map<string, string>, what: string): OptimizerState {
  const rename = (n: string) => {
    const m = map.get(n);
    if (m === undefined) throw new Error(`optimizer state names ${what} ${n}, which the model does not have`);
    return m;
  };
  const slots: OptimizerState["slots"] = {};
  for (const [slot, byVar] of Object.entries(s.slots)) {
    slots[slot] = {};
    for (const [n, v] of Object.entries(byVar)) slots[slot][rename(n)] = v;
  }
  return {
    name: s.name,
    step: s.step,
    varSteps: Object.fromEntries(Object.entries(s.varSteps).map(([n, c]) => [rename(n), c])),
    slots,
    shapes: Object.fromEntries(Object.entries(s.shapes).map(([n, sh]) => [rename(n), sh])),
  };
}

/** Writes a checkpoint of `model` and `optimizer` atomically. */
export function saveTrainCheckpoint(
  file: string,
  o: { model: tf.LayersModel; identity: CheckpointIdentity; state: Omit<TrainProgressState, "dropout">; optimizer: OptimizerState; nextOrder?: Int32Array },
): void {
  const { toKey } = variableKeyMaps(o.model);
  const opt = renameState(o.optimizer, toKey, "variable");
  const tensors: TensorEntry[] = [];
  const blobs: Uint8Array[] = [];
  let offset = 0;
  const add = (e: Omit<TensorEntry, "offset">, values: Float32Array | Int32Array) => {
    tensors.push({ ...e, offset });
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    blobs.push(bytes);
    offset += bytes.byteLength;
  };
  for (const w of weightKeys(o.model)) {
    const v = w.variable.read();
    add({ group: "weight", key: w.key, dtype: "float32", shape: [...v.shape] }, v.dataSync() as Float32Array);
  }
  for (const [slot, byKey] of Object.entries(opt.slots)) {
    for (const [key, values] of Object.entries(byKey)) add({ group: "slot", slot, key, dtype: "float32", shape: opt.shapes[key] }, values);
  }
  if (o.nextOrder) add({ group: "order", key: "next", dtype: "int32", shape: [o.nextOrder.length] }, o.nextOrder);
  const header: Header = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    savedAt: new Date().toISOString(),
    identity: o.identity,
    state: { ...o.state, dropout: dropoutState(o.model) },
    optimizer: { name: opt.name, step: opt.step, varSteps: opt.varSteps, shapes: opt.shapes },
    tensors,
  };
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const pre = 8 + 4 + json.length;
  const pad = (4 - (pre % 4)) % 4;
  const head = Buffer.alloc(pre + pad);
  head.write(MAGIC, 0, "latin1");
  head.writeUInt32LE(json.length, 8);
  json.copy(head, 12);
  writeFileAtomic(file, Buffer.concat([head, ...blobs]));
}

/** Reads a checkpoint; throws naming the file and what is wrong with it. */
export function loadTrainCheckpoint(file: string): TrainCheckpoint {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read checkpoint ${file}: ${(e as Error).message}`);
  }
  const bad = (why: string) => new Error(`checkpoint ${file} ${why}`);
  if (buf.length < 12 || buf.toString("latin1", 0, 8) !== MAGIC) throw bad(`is not a minicifar-lab training checkpoint (no ${MAGIC} signature)`);
  const len = buf.readUInt32LE(8);
  if (12 + len > buf.length) throw bad(`is truncated: its header needs ${12 + len} bytes, the file has ${buf.length}`);
  let h: Header;
  try {
    h = JSON.parse(buf.toString("utf8", 12, 12 + len));
  } catch (e) {
    throw bad(`has a corrupt header: ${(e as Error).message}`);
  }
  if (h.format !== CHECKPOINT_FORMAT) throw bad(`has format ${JSON.stringify(h.format)}, expected "${CHECKPOINT_FORMAT}"`);
  if (h.version !== CHECKPOINT_VERSION) throw bad(`is version ${h.version}; this lab reads version ${CHECKPOINT_VERSION}`);
  const start = 12 + len + ((4 - ((12 + len) % 4)) % 4);
  const weights = new Map<string, Float32Array>();
  const slots: OptimizerState["slots"] = {};
  let nextOrder: Int32Array | undefined;
  for (const t of h.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const from = start + t.offset;
    if (from + 4 * n > buf.length) throw bad(`is truncated: tensor ${t.key} ends at byte ${from + 4 * n}, the file has ${buf.length}`);
    const copy = new ArrayBuffer(4 * n);
    new Uint8Array(copy).set(buf.subarray(from, from + 4 * n));
    if (t.group === "weight") weights.set(t.key, new Float32Array(copy));
    else if (t.group === "slot") (slots[t.slot!] ??= {})[t.key] = new Float32Array(copy);
    else nextOrder = new Int32Array(copy);
  }
  return {
    identity: h.identity,
    state: h.state,
    weights,
    optimizer: { ...h.optimizer, slots },
    ...(nextOrder ? { nextOrder } : {}),
    savedAt: h.savedAt,
  };
}

/** Differences between two JSON-like values, as "path: checkpoint X, this run Y" lines. */
function differences(a: unknown, b: unknown, path: string, out: string[]): void {
  const fmt = (v: unknown) => (v === undefined ? "absent" : JSON.stringify(v));
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (a[k] === undefined && b[k] === undefined) continue;
      differences(a[k], b[k], `${path}.${k}`, out);
    }
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${path}: checkpoint ${fmt(a)}, this run ${fmt(b)}`);
}

/** Throws unless checkpoint `c` belongs to a run with identity `run`, naming every difference (model, config, weights). */
export function checkCompatible(c: Pick<TrainCheckpoint, "identity">, run: CheckpointIdentity, file: string): void {
  const diffs: string[] = [];
  if (c.identity.modelSpec || run.modelSpec) differences(c.identity.modelSpec, run.modelSpec, "model", diffs);
  differences(c.identity.train, run.train, "train", diffs);
  const mine = new Map(run.weights.map((w) => [w.key, w.shape]));
  const theirs = new Map(c.identity.weights.map((w) => [w.key, w.shape]));
  const wd: string[] = [];
  for (const [k, s] of theirs) {
    const m = mine.get(k);
    if (!m) wd.push(`weight ${k} [${s}] is not in this model`);
    else if (m.join() !== s.join()) wd.push(`weight ${k}: checkpoint [${s}], this model [${m}]`);
  }
  for (const [k, s] of mine) if (!theirs.has(k)) wd.push(`weight ${k} [${s}] is not in the checkpoint`);
  if (wd.length > 8) diffs.push(...wd.slice(0, 8), `… and ${wd.length - 8} more weight differences`);
  else diffs.push(...wd);
  if (c.identity.backend && run.backend && c.identity.backend !== run.backend) diffs.push(`backend: ${c.identity.backend} in the checkpoint, ${run.backend} now`);
  if (diffs.length) {
    throw new CheckpointMismatchError(
      file,
      diffs,
      `checkpoint ${file} belongs to another run (${c.identity.label}); refusing to resume ${run.label} from it:\n` +
        diffs.map((d) => `  - ${d}`).join("\n") +
        `\ndelete the file or pass another checkpoint path to start afresh`,
    );
  }
}

/** Puts a checkpoint's weights into `model` (BatchNorm statistics included) and its dropout RNG state. */
export function restoreWeights(model: tf.LayersModel, c: TrainCheckpoint): void {
  setDropoutState(model, c.state.dropout ?? {});
  for (const w of weightKeys(model)) {
    const values = c.weights.get(w.key);
    if (!values) throw new Error(`checkpoint has no values for weight ${w.key}`);
    const t = tf.tensor(values, w.variable.shape as number[], "float32");
    w.variable.write(t);
    t.dispose();
  }
}

/** The checkpoint's optimizer state with this process's variable names (for Optimizer.setState). */
export function optimizerStateFor(model: tf.LayersModel, c: TrainCheckpoint): OptimizerState {
  return renameState(c.optimizer, variableKeyMaps(model).toName, "weight");
}
