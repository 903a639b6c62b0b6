/**
 * Hyperparameter sweeps over MINICIFAR (task 1's exploration): a declarative search space, grid or random search,
 * a budget, and resumable execution against the results store.
 *
 * A sweep spec (JSON file or TS object, checked by `validateSweepSpec`):
 *
 *   {
 *     "name": "lr-width",                         // ids: <profile>/sweep/<name>/<config hash>
 *     "search": "grid",                           // or "random" (with "samples": N)
 *     "base": { "model": "ResNet8-w8", "train": { "epochs": 4, "lr": 0.05 } },
 *     "space": {
 *       "model": ["ResNet8-w8", { "preset": "VGG11-w16", "dropout": 0.2 }],   // presets, optionally with knobs
 *       "model.widthMultiplier": [1, 2],          // any model knob
 *       "train.lr": [0.01, 0.05],                 // any TrainSpec key
 *       "train": [{ "optimizer": "sgd", "momentum": 0.9 }, { "optimizer": "adam", "weightDecay": 0 }]
 *     },
 *     "budget": { "runs": 6, "minutes": 30 },     // at most 6 configs; start no new one after 30 minutes
 *     "seed": 0,                                  // random search draws
 *     "data": { "trainImages": 1600 },            // first N MINICIFAR training images (quick profiles)
 *     "profile": "quick"                          // the store's profile column (default "sweep")
 *   }
 *
 * Values are lists of choices; with random search a numeric key may also be a range
 * `{ "min": 1e-3, "max": 0.1, "log": true, "integer": false }`. Each config is the base, then the space's values
 * in key order (objects under "train" / "model" merged, dotted keys set); a config whose optimizer differs from
 * the base's drops the inherited parameters that optimizer does not take (e.g. SGD's momentum under Adam), while a
 * parameter the space sets itself must fit its optimizer. Every config is built and validated
 * before anything trains; an unknown key, a wrong type, an empty list or an invalid combination is refused with a
 * message listing the valid keys and their types.
 *
 * Resuming: a config whose run is in the store as "done" or "diverged" is skipped; a "failed" or "running" one
 * (a killed sweep) runs again, from its checkpoint (reports/checkpoints/sweeps/<name>/<hash>.ckpt) when there is
 * one. A NaN loss marks the run "diverged" and an exception "failed" (with the error); the sweep goes on. Each config
 * is one run id, so a sweep killed and re-run records every config exactly once.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { loadMinicifar, subsetImages, type Minicifar } from "../data";
import { ACTIVATIONS } from "../models/layers";
import { PRESETS, checkSpec, presetSpec } from "../models";
import type { ModelSpec, OptimizerName, RunRecord, RunStatus, TrainSpec } from "../results/types";
import { OPTIMIZER_PARAMS } from "./optimizers";
import { getRun, loadRuns, openStore, resultsDb } from "../results/store";
import { RandomState } from "../data/random-state";
import { trainFromScratch, type Profile } from "./experiments";
import { CheckpointMismatchError } from "./checkpoint";
import { DEFAULT_TRAIN } from "./loop";
import { liveProgress } from "../charts/live";
import { formatDuration, type ProgressListener } from "./progress";
import { TRAIN_SPEC_KEYS, isNum, isObj, validateTrainSpec } from "./spec";
import { bestPerFamily, finalValAccuracy } from "../report/analysis";

export { bestPerFamily };

export interface RangeSpec {
  min: number;
  max: number;
  /** Draw log-uniformly (min > 0). Default false. */
  log?: boolean;
  /** Round to an integer. Default false. */
  integer?: boolean;
}
export type SpaceValues = unknown[] | RangeSpec;

export interface SweepSpec {
  name: string;
  search?: "grid" | "random";
  /** Random search: the number of configs to draw. */
  samples?: number;
  base?: { model?: string | ({ preset: string } & Partial<ModelSpec>); train?: Partial<TrainSpec> };
  space: Record<string, SpaceValues>;
  budget?: { runs?: number; minutes?: number };
  seed?: number;
  data?: { trainImages?: number };
  profile?: string;
  /** Number of classes of the model (MINICIFAR's 4 by default). */
  numClasses?: number;
}

export interface SweepConfig {
  /** 12 hex digits of the SHA-256 of the resolved model and train specs. */
  hash: string;
  /** Store id: <profile>/sweep/<name>/<hash>. */
  id: string;
  /** The space's values of this config (key → value), for tables. */
  params: Record<string, unknown>;
  /** "model=ResNet8-w8 train.lr=0.05 …". */
  label: string;
  model: ModelSpec;
  train: TrainSpec;
}

export class SweepSpecError extends Error {
  constructor(
    readonly problems: string[],
    where: string,
    /** "sweep spec", or "train config" for `minicifar-lab train --config` (its own list of keys). */
    readonly kind: "sweep spec" | "train config" = "sweep spec",
  ) {
    super(`invalid ${kind}${where ? ` ${where}` : ""}:\n${problems.map((p) => `  - ${p}`).join("\n")}\n${kind === "sweep spec" ? describeSweepKeys() : describeTrainConfigKeys()}`);
    this.name = "SweepSpecError";
  }
}

/** A spec or config file that cannot be read or is not JSON (the CLI's exit code 2, like a bad spec). */
export class SpecFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = "SpecFileError";
  }
}

/** Reads a JSON file, or throws SpecFileError naming it (`what`: "sweep spec", "train config"). */
export function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    if (fs.statSync(file).isDirectory()) throw new Error("it is a directory, not a file");
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new SpecFileError(file, `cannot read ${what} ${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SpecFileError(file, `${what} ${file} is not valid JSON: ${(e as Error).message}`);
  }
}

const TRAIN_CONFIG_KEYS = ["name", "model", "train", "data", "profile", "numClasses"];

/** The keys of a `train --config` file, with the model knobs and train keys. */
export function describeTrainConfigKeys(): string {
  return [
    "valid train config keys:",
    '  name: string (default: the file name); model: a preset name or { preset, ...knobs } (required); train: train spec keys (defaults: sgd, lr 0.05, momentum 0.9, weightDecay 5e-4, 10 epochs, batch 64, cosine, crop4 + hflip, seed 0)',
    '  data: { trainImages: integer ≥ 1 } (the first N MINICIFAR training images); profile: string (the store\'s profile column, default "sweep"); numClasses: integer ≥ 2 (default 4)',
    `  model knobs: ${Object.entries(MODEL_KNOB_TYPES).map(([k, r]) => `${k} (${r.type})`).join("; ")}`,
    ...Object.entries(TRAIN_SPEC_KEYS).map(([k, r]) => `  train.${k}: ${r.type}`),
  ].join("\n");
}

const posInts = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && x >= 1);

/** Model knobs a sweep may set, with their types (checkSpec has the final word on each built model). */
export const MODEL_KNOB_TYPES: Record<string, { type: string; check: (v: unknown) => boolean }> = {
  blocks: { type: "list of integers ≥ 1 (blocks per stage)", check: posInts },
  widths: { type: "list of integers ≥ 1 (channels per stage)", check: posInts },
  widthMultiplier: { type: "number > 0", check: (v) => isNum(v) && v > 0 },
  activation: { type: ACTIVATIONS.map((a) => `"${a}"`).join(" | "), check: (v) => (ACTIVATIONS as readonly unknown[]).includes(v) },
  dropout: { type: "number in [0, 1)", check: (v) => isNum(v) && v >= 0 && v < 1 },
  blockDropout: { type: "number in [0, 1)", check: (v) => isNum(v) && v >= 0 && v < 1 },
  block: { type: '"basic" | "bottleneck" (ResNets)', check: (v) => v === "basic" || v === "bottleneck" },
  growth: { type: "integer ≥ 1 (DenseNet)", check: (v) => Number.isInteger(v) && (v as number) >= 1 },
  reduction: { type: "number in (0, 1] (DenseNet)", check: (v) => isNum(v) && v > 0 && v <= 1 },
  config: { type: 'list of integers ≥ 1 and "M" (VGG)', check: (v) => Array.isArray(v) && v.length > 0 && v.every((c) => c === "M" || (Number.isInteger(c) && c >= 1)) },
};

const TOP_KEYS = ["name", "search", "samples", "base", "space", "budget", "seed", "data", "profile", "numClasses"];

/** Every valid sweep key with its type, one per line. */
export function describeSweepKeys(): string {
  const presets = Object.keys(PRESETS);
  return [
    "valid sweep keys:",
    `  top level: ${TOP_KEYS.join(", ")}`,
    '  search: "grid" | "random"; samples: integer ≥ 1 (random); seed: integer ≥ 0; budget: { runs: integer ≥ 1, minutes: number > 0 }; data: { trainImages: integer ≥ 1 }',
    "  space keys (each a non-empty list of choices, or with random search a numeric range { min, max, log?, integer? }):",
    `    model: preset names (${presets.join(", ")}) or { preset, ...knobs }`,
    ...Object.entries(MODEL_KNOB_TYPES).map(([k, r]) => `    model.${k}: ${r.type}`),
    "    train: partial train specs (objects), merged in",
    ...Object.entries(TRAIN_SPEC_KEYS).map(([k, r]) => `    train.${k}: ${r.type}`),
  ].join("\n");
}

function checkSpaceKey(key: string): { kind: "model" | "train" | "modelKnob" | "trainKey"; check?: (v: unknown) => boolean; type?: string } | undefined {
  if (key === "model") return { kind: "model" };
  if (key === "train") return { kind: "train" };
  if (key.startsWith("model.")) {
    const r = MODEL_KNOB_TYPES[key.slice(6)];
    return r ? { kind: "modelKnob", check: r.check, type: r.type } : undefined;
  }
  if (key.startsWith("train.")) {
    const r = (TRAIN_SPEC_KEYS as Record<string, { type: string; check: (v: unknown) => boolean }>)[key.slice(6)];
    return r ? { kind: "trainKey", check: r.check, type: r.type } : undefined;
  }
  return undefined;
}

function isRange(v: unknown): v is RangeSpec {
  return isObj(v) && "min" in v && "max" in v;
}

/** Checks the shape of a sweep spec (not yet the configs it builds); throws SweepSpecError listing every problem. */
export function validateSweepSpec(spec: unknown, where = ""): SweepSpec {
  const problems: string[] = [];
  if (!isObj(spec)) throw new SweepSpecError([`expected an object, got ${JSON.stringify(spec)}`], where);
  for (const k of Object.keys(spec)) if (!TOP_KEYS.includes(k)) problems.push(`${k} is not a known key (valid: ${TOP_KEYS.join(", ")})`);
  if (typeof spec.name !== "string" || !/^[A-Za-z0-9._-]+$/.test(spec.name)) problems.push(`name must be a string of letters, digits, ".", "_" or "-", got ${JSON.stringify(spec.name)}`);
  const search = spec.search ?? "grid";
  if (search !== "grid" && search !== "random") problems.push(`search must be "grid" or "random", got ${JSON.stringify(spec.search)}`);
  if (spec.samples !== undefined && !(Number.isInteger(spec.samples) && (spec.samples as number) >= 1)) problems.push(`samples must be an integer ≥ 1, got ${JSON.stringify(spec.samples)}`);
  if (search === "grid" && spec.samples !== undefined) problems.push(`samples applies to search "random" only (a grid runs every combination; budget.runs caps it)`);
  if (search === "random" && spec.samples === undefined) problems.push(`samples is required with search "random" (the number of configs to draw)`);
  if (spec.seed !== undefined && !(Number.isInteger(spec.seed) && (spec.seed as number) >= 0)) problems.push(`seed must be an integer ≥ 0, got ${JSON.stringify(spec.seed)}`);
  if (spec.numClasses !== undefined && !(Number.isInteger(spec.numClasses) && (spec.numClasses as number) >= 2)) problems.push(`numClasses must be an integer ≥ 2, got ${JSON.stringify(spec.numClasses)}`);
  if (spec.profile !== undefined && (typeof spec.profile !== "string" || !/^[A-Za-z0-9._-]+$/.test(spec.profile))) problems.push(`profile must be a string of letters, digits, ".", "_" or "-", got ${JSON.stringify(spec.profile)}`);
  const sub = (key: string, allowed: Record<string, (v: unknown) => boolean>, types: string) => {
    const v = spec[key];
    if (v === undefined) return;
    if (!isObj(v)) return problems.push(`${key} must be an object (${types}), got ${JSON.stringify(v)}`);
    for (const [k, x] of Object.entries(v)) {
      if (!allowed[k]) problems.push(`${key}.${k} is not a known key (valid: ${Object.keys(allowed).join(", ")})`);
      else if (!allowed[k](x)) problems.push(`${key}.${k} has a wrong value ${JSON.stringify(x)} (${types})`);
    }
  };
  sub("budget", { runs: (v) => Number.isInteger(v) && (v as number) >= 1, minutes: (v) => isNum(v) && v > 0 }, "runs: integer ≥ 1, minutes: number > 0");
  sub("data", { trainImages: (v) => Number.isInteger(v) && (v as number) >= 1 }, "trainImages: integer ≥ 1");
  sub("base", { model: (v) => typeof v === "string" || isObj(v), train: isObj }, "model: a preset name or { preset, ...knobs }; train: a partial train spec");
  if (!isObj(spec.space)) problems.push(`space must be an object of key → list of values, got ${JSON.stringify(spec.space)}`);
  else {
    if (Object.keys(spec.space).length === 0 && !(isObj(spec.base) && spec.base.model !== undefined)) problems.push("space is empty and base has no model: nothing to train");
    for (const [key, values] of Object.entries(spec.space)) {
      const rule = checkSpaceKey(key);
      if (!rule) {
        problems.push(`space.${key} is not a known key (valid: model, model.<knob>, train, train.<key>; see below)`);
        continue;
      }
      if (isRange(values)) {
        if (search !== "random") problems.push(`space.${key}: a range { min, max } needs search "random"; a grid needs a list of values`);
        else if (!isNum(values.min) || !isNum(values.max) || values.min > values.max) problems.push(`space.${key}: range needs numbers min ≤ max, got ${JSON.stringify(values)}`);
        else if (values.log && values.min <= 0) problems.push(`space.${key}: a log range needs min > 0, got ${values.min}`);
        else if (rule.check && !rule.check(values.min)) problems.push(`space.${key}: range bounds must be ${rule.type}, got ${JSON.stringify(values)}`);
        continue;
      }
      if (!Array.isArray(values)) {
        problems.push(`space.${key} must be a list of values${search === "random" ? " or a range { min, max }" : ""}, got ${JSON.stringify(values)}`);
        continue;
      }
      if (values.length === 0) {
        problems.push(`space.${key} is an empty list: a grid over it has no configs`);
        continue;
      }
      values.forEach((v, i) => {
        if (rule.kind === "model" && !(typeof v === "string" && PRESETS[v]) && !(isObj(v) && typeof v.preset === "string" && PRESETS[v.preset])) {
          problems.push(`space.model[${i}]: ${JSON.stringify(v)} is not a preset name or { preset, ...knobs } (presets: ${Object.keys(PRESETS).join(", ")})`);
        } else if (rule.kind === "train" && !isObj(v)) problems.push(`space.train[${i}] must be an object (a partial train spec), got ${JSON.stringify(v)}`);
        else if (rule.check && !rule.check(v)) problems.push(`space.${key}[${i}] must be ${rule.type}, got ${JSON.stringify(v)}`);
      });
    }
  }
  if (problems.length) throw new SweepSpecError(problems, where);
  return spec as unknown as SweepSpec;
}

/** Three significant digits, so that random draws give readable, stable configs. */
function round3(x: number): number {
  return x === 0 ? 0 : Number(x.toPrecision(3));
}

function drawRange(r: RangeSpec, rs: RandomState): number {
  const u = rs.randomSample();
  const v = r.log ? Math.exp(Math.log(r.min) + u * (Math.log(r.max) - Math.log(r.min))) : r.min + u * (r.max - r.min);
  return r.integer ? Math.round(v) : round3(v);
}

/** The space's assignments (key → value) of every config, in order, before the budget. */
export function spaceAssignments(spec: SweepSpec): Record<string, unknown>[] {
  const keys = Object.keys(spec.space);
  const lists = keys.map((k) => spec.space[k]);
  if (spec.search === "random") {
    const rs = new RandomState(spec.seed ?? 0);
    const discrete = lists.every(Array.isArray);
    const total = lists.reduce((n, l) => n * (Array.isArray(l) ? l.length : Infinity), 1);
    if (discrete && total <= 1e6) {
      // Distinct configs drawn from the grid without replacement.
      const order = new Int32Array(total);
      for (let i = 0; i < total; i++) order[i] = i;
      rs.shuffle(order);
      return Array.from(order.subarray(0, Math.min(spec.samples!, total)), (i) => gridPoint(keys, lists as unknown[][], i));
    }
    const out: Record<string, unknown>[] = [];
    const seen = new Set<string>();
    for (let tries = 0; out.length < spec.samples! && tries < spec.samples! * 50; tries++) {
      const a: Record<string, unknown> = {};
      keys.forEach((k, j) => {
        const l = lists[j];
        a[k] = Array.isArray(l) ? l[Math.floor(rs.randomSample() * l.length)] : drawRange(l, rs);
      });
      const key = JSON.stringify(a);
      if (!seen.has(key)) {
        seen.add(key);
        out.push(a);
      }
    }
    return out;
  }
  const total = lists.reduce((n, l) => n * (l as unknown[]).length, 1);
  return Array.from({ length: total }, (_, i) => gridPoint(keys, lists as unknown[][], i));
}

/** Grid point `i`, the last key varying fastest. */
function gridPoint(keys: string[], lists: unknown[][], i: number): Record<string, unknown> {
  const picks = new Array<unknown>(keys.length);
  for (let j = keys.length - 1; j >= 0; j--) {
    picks[j] = lists[j][i % lists[j].length];
    i = Math.floor(i / lists[j].length);
  }
  return Object.fromEntries(keys.map((k, j) => [k, picks[j]]));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (isObj(v)) return Object.fromEntries(Object.keys(v).sort().filter((k) => v[k] !== undefined).map((k) => [k, canonical(v[k])]));
  return v;
}

function shortValue(v: unknown): string {
  if (isObj(v) && Object.keys(v).length === 0) return "baseline";
  if (isObj(v)) return Object.entries(v).map(([k, x]) => `${k}:${shortValue(x)}`).join(",");
  if (Array.isArray(v)) return `[${v.map(shortValue).join(",")}]`;
  return String(v);
}

/** Every optimizer's parameters (a config that switches optimizer drops those its own does not take). */
const ALL_OPTIMIZER_PARAMS = new Set(Object.values(OPTIMIZER_PARAMS).flat());

/** Builds and validates every config of the sweep (the budget's `runs` applied); throws SweepSpecError listing bad ones. */
export function expandSweep(input: SweepSpec): SweepConfig[] {
  const spec = validateSweepSpec(input);
  const profile = spec.profile ?? "sweep";
  const k = spec.numClasses ?? 4;
  let assignments = spaceAssignments(spec);
  if (spec.budget?.runs !== undefined) assignments = assignments.slice(0, spec.budget.runs);
  const problems: string[] = [];
  const configs: SweepConfig[] = [];
  const seen = new Map<string, number>();
  assignments.forEach((a, i) => {
    let model: { preset: string } & Partial<ModelSpec> = { preset: "" };
    const setModel = (m: unknown) => {
      model = typeof m === "string" ? { preset: m } : { ...(m as { preset: string }) };
    };
    if (spec.base?.model !== undefined) setModel(spec.base.model);
    let train: Partial<TrainSpec> = { ...DEFAULT_TRAIN, ...(spec.base?.train ?? {}) };
    // Keys the space sets itself; the others come from the defaults and base.
    const explicit = new Set<string>();
    const knobs: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(a)) {
      if (key === "model") setModel(v);
      else if (key === "train") {
        train = { ...train, ...(v as Partial<TrainSpec>) };
        for (const k2 of Object.keys(v as object)) explicit.add(k2);
      } else if (key.startsWith("model.")) knobs[key.slice(6)] = v;
      else {
        train = { ...train, [key.slice(6)]: v };
        explicit.add(key.slice(6));
      }
    }
    // Switching optimizer drops the inherited parameters it does not take (the default SGD momentum under Adam; the
    // base's SGD settings when the space picks Adam). Where the optimizer itself comes from the base, the base's own
    // keys are as explicit as the space's: a parameter that does not fit is an error, not dropped.
    if (!explicit.has("optimizer")) for (const k2 of Object.keys(spec.base?.train ?? {})) explicit.add(k2);
    const opt = train.optimizer as OptimizerName | undefined;
    if (opt && OPTIMIZER_PARAMS[opt]) {
      for (const k2 of ALL_OPTIMIZER_PARAMS) if (!OPTIMIZER_PARAMS[opt].includes(k2) && !explicit.has(k2)) delete train[k2];
    }
    const label = Object.entries(a).map(([key, v]) => `${key}=${shortValue(v)}`).join(" ") || "base";
    try {
      if (!model.preset) throw new Error("no model: set base.model or space.model");
      const { preset, ...overrides } = { ...model, ...knobs } as { preset: string } & Partial<ModelSpec>;
      const knobText = Object.entries(overrides).filter(([key]) => key !== "name").map(([key, v]) => `${key}=${shortValue(v)}`).join(",");
      const ms: ModelSpec = presetSpec(preset, k, { ...overrides, name: overrides.name ?? (knobText ? `${preset}[${knobText}]` : preset) });
      checkSpec(ms);
      const ts = validateTrainSpec(canonical(train), label === "base" ? "train" : `config ${i + 1} (${label}) train`);
      const hash = crypto.createHash("sha256").update(JSON.stringify(canonical({ model: ms, train: ts, data: spec.data ?? {} }))).digest("hex").slice(0, 12);
      if (seen.has(hash)) return; // two assignments that build the same run (e.g. a knob set to its default)
      seen.set(hash, i);
      configs.push({ hash, id: `${profile}/sweep/${spec.name}/${hash}`, params: a, label, model: ms, train: ts });
    } catch (e) {
      // The train spec's own problems ("  - …" lines before its list of valid keys), on one line.
      const lines = (e as Error).message.split("\n");
      const cut = lines.findIndex((l) => /^valid .*keys/.test(l));
      const listed = (cut < 0 ? lines : lines.slice(0, cut)).filter((l) => /^ {2}- /.test(l)).map((l) => l.slice(4));
      const msg = listed.length ? listed.join("; ") : lines[0];
      problems.push(`config ${i + 1} (${label}): ${msg}`);
    }
  });
  if (problems.length) throw new SweepSpecError(problems, `"${spec.name}"`);
  return configs;
}

/** Reads and validates a sweep spec file (JSON). */
export function readSweepSpec(file: string): SweepSpec {
  return validateSweepSpec(readJsonFile(file, "sweep spec"), file);
}

export interface SweepRow {
  config: SweepConfig;
  status: RunStatus | "skipped-budget";
  /** "ran" this time, "reused" from the store, or "not run" (budget). */
  how: "ran" | "reused" | "not run";
  record?: RunRecord;
  error?: string;
}

export interface SweepResult {
  name: string;
  rows: SweepRow[];
  best?: SweepRow;
  /** Seconds this invocation took. */
  seconds: number;
  /** True when the time budget stopped it before every config had run. */
  budgetReached: boolean;
  summary: string;
}

export interface SweepOptions {
  /** MINICIFAR (loaded when absent). */
  data?: Minicifar;
  /** The results store (default reports/results.sqlite, LAB_RESULTS_DB). */
  resultsDb?: string;
  /** Where checkpoints go (default: checkpoints/sweeps next to the store, so reports/checkpoints/sweeps). */
  checkpointDir?: string;
  /** Per-run progress (default: a live display in a notebook, a line with ETA in a terminal). */
  progress?: ProgressListener;
  /** Called after each config ends (the notebook's live table and chart). */
  onRun?: (row: SweepRow, done: number, total: number) => void | Promise<void>;
  /** Messages (default console.log). */
  log?: (s: string) => void;
}

/** Where a store's sweep checkpoints go: `checkpoints/sweeps` next to it (reports/checkpoints/sweeps by default). */
export function sweepCheckpointDir(db: string): string {
  return path.join(path.dirname(path.resolve(db)), "checkpoints", "sweeps");
}

/** A path as the user would like to read it: relative when under the working folder, else absolute. */
function shown(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : path.resolve(file);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Runs (or resumes) a sweep: every config not yet done, within the budget. */
export async function runSweep(input: SweepSpec | string, o: SweepOptions = {}): Promise<SweepResult> {
  const spec = typeof input === "string" ? readSweepSpec(input) : validateSweepSpec(input);
  const configs = expandSweep(spec);
  const log = o.log ?? ((s: string) => console.log(s));
  const db = o.resultsDb ?? resultsDb();
  const ckDir = path.join(o.checkpointDir ?? sweepCheckpointDir(db), spec.name);
  const profile = spec.profile ?? "sweep";
  const t0 = Date.now();
  const deadline = spec.budget?.minutes !== undefined ? t0 + spec.budget.minutes * 60_000 : Infinity;
  const existing = (() => {
    const s = openStore(db);
    try {
      return new Map(configs.map((c) => [c.id, s.getRun(c.id)] as const));
    } finally {
      s.close();
    }
  })();
  const todo = configs.filter((c) => !["done", "diverged"].includes(existing.get(c.id)?.status ?? ""));
  log(`sweep ${spec.name}: ${plural(configs.length, "config")} (${spec.search ?? "grid"}), ${configs.length - todo.length} already in ${shown(db)}, ${todo.length} to run` + (spec.budget?.minutes ? `, budget ${spec.budget.minutes} min` : ""));
  let data = o.data;
  if (todo.length && !data) data = loadMinicifar({ nClasses: spec.numClasses ?? 4 });
  if (data && spec.data?.trainImages !== undefined) {
    if (spec.data.trainImages > data.train.n) log(`sweep ${spec.name}: data.trainImages is ${spec.data.trainImages}, but MINICIFAR has ${data.train.n} training images: using all of them`);
    const n = Math.min(spec.data.trainImages, data.train.n);
    data = { ...data, train: subsetImages(data.train, Array.from({ length: n }, (_, i) => i)) };
  }
  const progress = o.progress;
  const rows: SweepRow[] = [];
  let budgetReached = false;
  let ranSeconds = 0;
  let ran = 0;
  for (const [i, c] of configs.entries()) {
    const prev = existing.get(c.id);
    if (prev && (prev.status === "done" || prev.status === "diverged")) {
      rows.push({ config: c, status: prev.status, how: "reused", record: prev, ...(prev.error ? { error: prev.error } : {}) });
      await o.onRun?.(rows[rows.length - 1], rows.length, configs.length);
      continue;
    }
    if (Date.now() >= deadline) {
      budgetReached = true;
      rows.push({ config: c, status: "skipped-budget", how: "not run" });
      continue;
    }
    const left = todo.length - ran;
    const eta = ran ? ` · ETA of the sweep ${formatDuration((ranSeconds / ran) * left)}` : "";
    // Resume only a run this store has as interrupted ("running": killed; "failed"); any other checkpoint of this
    // config (a finished run, another store's) is stale and would replay old results.
    const ckpt = path.join(ckDir, `${c.hash}.ckpt`);
    const resume = !!prev && (prev.status === "running" || prev.status === "failed") && fs.existsSync(ckpt);
    if (!resume) fs.rmSync(ckpt, { force: true });
    const how = prev ? ` (was ${prev.status}: ${resume ? `resuming from its checkpoint after epoch ${prev.epochs.length}` : "training it again"})` : "";
    log(`sweep ${spec.name} [${i + 1}/${configs.length}] ${c.label}${how}${eta}`);
    const r0 = Date.now();
    const runProgress = progress ?? liveProgress();
    const train = () =>
      trainFromScratch({
        data: data!,
        spec: c.model,
        train: c.train,
        profile,
        id: `sweep/${spec.name}/${c.hash}`,
        track: true,
        checkpoint: ckpt,
        resultsDb: db,
        hooks: { label: `${spec.name} ${i + 1}/${configs.length} ${c.model.name}`, progress: runProgress },
      });
    try {
      let run: Awaited<ReturnType<typeof trainFromScratch>>;
      try {
        run = await train();
      } catch (e) {
        if (!(e instanceof CheckpointMismatchError)) throw e;
        log(`sweep ${spec.name} [${i + 1}/${configs.length}] cannot resume from ${shown(ckpt)} (${e.differences.join("; ")}): training it afresh`);
        fs.rmSync(ckpt, { force: true });
        run = await train();
      }
      await (runProgress as { flush?: () => Promise<void> }).flush?.();
      run.model.dispose();
      fs.rmSync(ckpt, { force: true }); // the run is in the store: its checkpoint has done its job
      rows.push({ config: c, status: run.record.status ?? "done", how: "ran", record: run.record });
    } catch (e) {
      const err = (e as Error).message ?? String(e);
      const rec = getRun(c.id, db);
      const status = rec?.status === "diverged" ? "diverged" : "failed";
      if (status === "diverged") fs.rmSync(ckpt, { force: true });
      log(`sweep ${spec.name} [${i + 1}/${configs.length}] ${status}: ${err.split("\n")[0]}`);
      rows.push({ config: c, status, how: "ran", error: err, ...(rec ? { record: rec } : {}) });
    }
    ran++;
    ranSeconds += (Date.now() - r0) / 1000;
    await o.onRun?.(rows[rows.length - 1], rows.length, configs.length);
  }
  const done = rows.filter((r) => r.status === "done" && r.record);
  const best = done.reduce<SweepRow | undefined>((b, r) => (!b || finalVal(r) > finalVal(b) ? r : b), undefined);
  const seconds = (Date.now() - t0) / 1000;
  const summary = sweepSummary(spec.name, rows, best, seconds, budgetReached);
  log(summary);
  return { name: spec.name, rows, ...(best ? { best } : {}), seconds, budgetReached, summary };
}

/** A fraction as "81.0%", "—" when absent or not finite (the sweep's text tables). */
const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "—" : `${(100 * x).toFixed(1)}%`);

/** A row's last validation accuracy: what the sweep ranks by (the test set is for the final report only). */
const finalVal = (r: SweepRow): number => (r.record ? finalValAccuracy(r.record) : NaN);

/** Left-aligned columns two spaces apart, the last one unpadded. */
function textTable(head: string[], body: string[][]): string[] {
  const widths = head.map((h, j) => Math.max(h.length, ...body.map((b) => b[j].length)));
  return [head, ...body].map((cells) => cells.map((c, j) => (j === cells.length - 1 ? c : c.padEnd(widths[j]))).join("  "));
}

/** The end-of-sweep summary: the best config (by validation accuracy) and a table of every config. */
export function sweepSummary(name: string, rows: SweepRow[], best: SweepRow | undefined, seconds: number, budgetReached: boolean): string {
  const head = ["#", "status", "model", "params", "val acc", "test acc", "train s", "config"];
  const body = rows.map((r, i) => [
    String(i + 1),
    `${r.status}${r.how === "reused" ? " (stored)" : ""}`,
    r.config.model.name,
    r.record ? r.record.params.toLocaleString("en-US") : "—",
    pct(finalVal(r)),
    pct(r.record?.testAccuracy),
    r.record && Number.isFinite(r.record.trainSeconds) ? r.record.trainSeconds.toFixed(1) : "—",
    r.config.label,
  ]);
  const counts = ["done", "diverged", "failed", "skipped-budget"].map((s) => [s, rows.filter((r) => r.status === s).length] as const).filter(([, n]) => n > 0);
  return [
    `sweep ${name}: ${plural(rows.length, "config")} in ${formatDuration(seconds)} (${counts.map(([s, n]) => `${n} ${s === "skipped-budget" ? "left for a later run (time budget)" : s}`).join(", ")})`,
    best ? `best (validation accuracy): ${best.config.label} — val ${pct(finalVal(best))}, test ${pct(best.record?.testAccuracy)}, ${best.record?.params.toLocaleString("en-US")} parameters, ${best.record?.trainSeconds.toFixed(1)} s training` : "best: none finished",
    ...textTable(head, body),
    ...(budgetReached ? ["the time budget was reached: run the sweep again to continue"] : []),
  ].join("\n");
}

/**
 * Used by `minicifar-lab train --config FILE`: one model and train spec, as a sweep of one config. Every problem of
 * the file is listed at once (SweepSpecError of kind "train config"), unknown keys and bad values alike.
 */
export function singleRunSweep(config: unknown, file: string): SweepSpec {
  if (!isObj(config)) throw new SweepSpecError([`expected a JSON object { name?, model, train?, data?, profile?, numClasses? }, got ${JSON.stringify(config)}`], file, "train config");
  const problems = Object.keys(config).filter((k) => !TRAIN_CONFIG_KEYS.includes(k)).map((k) => `${k} is not a known key (valid: ${TRAIN_CONFIG_KEYS.join(", ")})`);
  if (config.model === undefined) problems.push("model is missing: a preset name or { preset, ...knobs }");
  const name = typeof config.name === "string" ? config.name : path.basename(file).replace(/\.json$/i, "").replace(/[^A-Za-z0-9._-]/g, "_");
  const spec = {
    name,
    base: { ...(config.model !== undefined ? { model: config.model } : {}), ...(config.train !== undefined ? { train: config.train } : {}) },
    space: {},
    ...(config.data !== undefined ? { data: config.data } : {}),
    ...(config.profile !== undefined ? { profile: config.profile } : {}),
    ...(config.numClasses !== undefined ? { numClasses: config.numClasses } : {}),
  };
  const rename = (p: string) => p.replace(/^base\./, "").replace(/^space is empty and base has no model: nothing to train$/, "");
  try {
    validateSweepSpec(spec, file);
    if (config.model !== undefined) expandSweep(spec as SweepSpec);
  } catch (e) {
    if (!(e instanceof SweepSpecError)) throw e;
    problems.push(...e.problems.map(rename).filter(Boolean).flatMap((p) => p.replace(/^config 1 \(base\): /, "").split("; ")));
  }
  if (problems.length) throw new SweepSpecError(problems, file, "train config");
  return spec as SweepSpec;
}

/** `bestPerFamily` as a text table (one line per family). */
export function bestPerFamilyTable(runs: RunRecord[]): string {
  const head = ["family", "model", "params", "val acc", "test acc", "train s", "ms/img", "recipe"];
  const body = bestPerFamily(runs).map((r) => {
    const t = r.train;
    return [
      r.model.family,
      r.model.name,
      r.params.toLocaleString("en-US"),
      pct(finalValAccuracy(r)),
      pct(r.testAccuracy),
      Number.isFinite(r.trainSeconds) ? r.trainSeconds.toFixed(0) : "—",
      r.inferenceMsPerImage !== undefined && Number.isFinite(r.inferenceMsPerImage) ? r.inferenceMsPerImage.toFixed(2) : "—",
      `${t.optimizer} lr ${t.lr} wd ${t.weightDecay} bs ${t.batchSize} ${t.epochs} ep ${(t.augment ?? []).join("+") || "no aug"}`,
    ];
  });
  return textTable(head, body).join("\n");
}

/** The finished runs of a profile's exploration (every stage's configs), from the store. */
export function explorationRuns(p: Pick<Profile, "name" | "exploration">, file: string = resultsDb()): RunRecord[] {
  const ids = new Set(p.exploration.flatMap((s) => expandSweep(s).map((c) => c.id)));
  return loadRuns({ profile: p.name, task: "scratch", status: "done" }, file).filter((r) => ids.has(r.id));
}
