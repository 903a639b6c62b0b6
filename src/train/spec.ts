/**
 * Validation of TrainSpec (`results/types.ts`), for specs written by hand, read from JSON or built by sweeps.
 *
 * `validateTrainSpec(spec)` checks every key: unknown keys, wrong types, values out of range, parameters that do
 * not apply to the chosen optimizer or schedule (torch would reject `momentum` for Adam), and the cross-field rules
 * (Nesterov needs momentum and no dampening; a warm-up must leave epochs to the schedule; multistep milestones must
 * increase). It collects every problem and throws one `TrainSpecError` that lists them and then every valid key
 * with its type and range (`describeTrainSpecKeys()`). `undefined` values count as absent.
 *
 * `TRAIN_SPEC_KEYS` is the table behind it: key → type/range text, the optimizers or schedules it applies to, and
 * whether it is required.
 */
import { TRANSFORM_HELP, parseTransforms } from "../data/transforms";
import type { OptimizerName, TrainSpec } from "../results/types";
import { OPTIMIZER_PARAMS } from "./optimizers";
import { SCHEDULES, SCHEDULE_PARAMS } from "./schedules";

export const OPTIMIZERS = Object.keys(OPTIMIZER_PARAMS) as OptimizerName[];

type Check = (v: unknown) => boolean;
interface KeyRule {
  type: string;
  check: Check;
  required?: boolean;
  /** Optimizers (top-level keys) or schedules (scheduleOptions keys) the key applies to; absent = all. */
  appliesTo?: readonly string[];
  /** For objects: their own keys. */
  keys?: Record<string, KeyRule>;
}

export const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const num = (lo: number, hi = Infinity, loOpen = false, hiOpen = false): Check => (v) => isNum(v) && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
const int = (lo: number, hi = Number.MAX_SAFE_INTEGER): Check => (v) => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
const bool: Check = (v) => typeof v === "boolean";
const oneOf = (xs: readonly string[]): Check => (v) => typeof v === "string" && xs.includes(v);
export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const usedBy = (key: string) => OPTIMIZERS.filter((o) => (OPTIMIZER_PARAMS[o] as readonly string[]).includes(key));
const schedUsing = (key: string) => SCHEDULES.filter((s) => (SCHEDULE_PARAMS[s] as readonly string[]).includes(key));

const SCHEDULE_OPTION_KEYS: Record<string, KeyRule> = {
  stepSize: { type: "integer ≥ 1 (epochs)", check: int(1), appliesTo: schedUsing("stepSize") },
  gamma: { type: "number > 0 (default 0.1)", check: num(0, Infinity, true), appliesTo: schedUsing("gamma") },
  milestones: {
    type: "strictly increasing integers ≥ 1 (epochs), at least one",
    check: (v) => Array.isArray(v) && v.length > 0 && v.every((m, i) => int(1)(m) && (i === 0 || m > v[i - 1])),
    appliesTo: schedUsing("milestones"),
  },
  tMax: { type: "integer ≥ 1 (epochs; default: epochs after the warm-up)", check: int(1), appliesTo: schedUsing("tMax") },
  etaMin: { type: "number ≥ 0 (default 0)", check: num(0), appliesTo: schedUsing("etaMin") },
  pctStart: { type: "number in (0, 1) (default 0.3)", check: num(0, 1, true, true), appliesTo: schedUsing("pctStart") },
  divFactor: { type: "number > 0 (default 25)", check: num(0, Infinity, true), appliesTo: schedUsing("divFactor") },
  finalDivFactor: { type: "number > 0 (default 1e4)", check: num(0, Infinity, true), appliesTo: schedUsing("finalDivFactor") },
  annealStrategy: { type: '"cos" | "linear" (default "cos")', check: oneOf(["cos", "linear"]), appliesTo: schedUsing("annealStrategy") },
  threePhase: { type: "boolean (default false)", check: bool, appliesTo: schedUsing("threePhase") },
  cycleMomentum: { type: "boolean (default true)", check: bool, appliesTo: schedUsing("cycleMomentum") },
  baseMomentum: { type: "number in [0, 1] (default 0.85)", check: num(0, 1), appliesTo: schedUsing("baseMomentum") },
  maxMomentum: { type: "number in [0, 1] (default 0.95)", check: num(0, 1), appliesTo: schedUsing("maxMomentum") },
};

const WARMUP_KEYS: Record<string, KeyRule> = {
  epochs: { type: "integer ≥ 1, fewer than train.epochs (exactly one of epochs, steps)", check: int(1) },
  steps: { type: "integer ≥ 1 (optimizer steps; exactly one of epochs, steps)", check: int(1) },
  startFactor: { type: "number in (0, 1] (default 1/3)", check: num(0, 1, true) },
};

const EARLY_STOPPING_KEYS: Record<string, KeyRule> = {
  patience: { type: "integer ≥ 1 (epochs without improvement)", check: int(1), required: true },
  minDelta: { type: "number in [0, 1) (accuracy gain that counts; default 0)", check: num(0, 1, false, true) },
};

export const TRAIN_SPEC_KEYS: Record<keyof TrainSpec, KeyRule> = {
  optimizer: { type: OPTIMIZERS.map((o) => `"${o}"`).join(" | "), check: oneOf(OPTIMIZERS), required: true },
  lr: { type: "number > 0 (one-cycle: max_lr)", check: num(0, Infinity, true), required: true },
  epochs: { type: "integer ≥ 1", check: int(1), required: true },
  batchSize: { type: "integer ≥ 1", check: int(1), required: true },
  schedule: { type: SCHEDULES.map((s) => `"${s}"`).join(" | "), check: oneOf(SCHEDULES), required: true },
  augment: { type: `list of ${TRANSFORM_HELP}`, check: (v) => Array.isArray(v), required: true },
  seed: { type: "integer in [0, 2^32 − 1]", check: int(0, 0xffffffff), required: true },
  momentum: { type: "number in [0, 1) (default 0)", check: num(0, 1, false, true), appliesTo: usedBy("momentum") },
  weightDecay: { type: "number ≥ 0 (default 0; adamw 0.01)", check: num(0), appliesTo: usedBy("weightDecay") },
  nesterov: { type: "boolean (default false; needs momentum > 0, dampening 0)", check: bool, appliesTo: usedBy("nesterov") },
  dampening: { type: "number in [0, 1] (default 0)", check: num(0, 1), appliesTo: usedBy("dampening") },
  betas: { type: "[beta1, beta2], each in [0, 1) (default [0.9, 0.999])", check: (v) => Array.isArray(v) && v.length === 2 && v.every(num(0, 1, false, true)), appliesTo: usedBy("betas") },
  eps: { type: "number ≥ 0 (default 1e-8)", check: num(0), appliesTo: usedBy("eps") },
  amsgrad: { type: "boolean (default false)", check: bool, appliesTo: usedBy("amsgrad") },
  alpha: { type: "number in [0, 1] (default 0.99)", check: num(0, 1), appliesTo: usedBy("alpha") },
  centered: { type: "boolean (default false)", check: bool, appliesTo: usedBy("centered") },
  scheduleOptions: { type: "object", check: isObj, keys: SCHEDULE_OPTION_KEYS },
  warmup: { type: "object", check: isObj, keys: WARMUP_KEYS },
  earlyStopping: { type: "object", check: isObj, keys: EARLY_STOPPING_KEYS },
  labelSmoothing: { type: "number in [0, 1) (default 0)", check: num(0, 1, false, true) },
  clipNorm: { type: "number > 0 (max total gradient 2-norm; absent = no clipping)", check: num(0, Infinity, true) },
};

export class TrainSpecError extends Error {
  constructor(
    readonly problems: string[],
    where: string,
  ) {
    super(`invalid ${where} spec:\n${problems.map((p) => `  - ${p}`).join("\n")}\n${describeTrainSpecKeys(where)}`);
    this.name = "TrainSpecError";
  }
}

/** Every valid key with its type and range (and what it applies to), one per line. */
export function describeTrainSpecKeys(where = "train"): string {
  const lines = [`valid ${where} keys (type, range; [applies to]):`];
  const emit = (prefix: string, keys: Record<string, KeyRule>, indent: string, domain: number) => {
    for (const [k, r] of Object.entries(keys)) {
      const applies = r.appliesTo && r.appliesTo.length < domain ? ` [${r.appliesTo.join(", ")}]` : "";
      lines.push(`${indent}${prefix}${k}${r.required ? " (required)" : ""}: ${r.type}${applies}`);
      if (r.keys) emit(`${k}.`, r.keys, indent + "  ", k === "scheduleOptions" ? SCHEDULES.length : Infinity);
    }
  };
  emit("", TRAIN_SPEC_KEYS, "  ", OPTIMIZERS.length);
  return lines.join("\n");
}

function present(o: Record<string, unknown>): [string, unknown][] {
  return Object.entries(o).filter(([, v]) => v !== undefined);
}

/** Throws a TrainSpecError listing every problem of `spec` and the valid keys; returns it typed when valid. */
export function validateTrainSpec(spec: unknown, where = "train"): TrainSpec {
  const problems: string[] = [];
  if (!isObj(spec)) throw new TrainSpecError([`expected an object, got ${JSON.stringify(spec)}`], where);
  const fmt = (v: unknown) => (v === undefined ? "undefined" : JSON.stringify(v));

  // `choice`: the optimizer (top level) or schedule (scheduleOptions) that decides which keys apply, when it is valid.
  const checkKeys = (obj: Record<string, unknown>, rules: Record<string, KeyRule>, path: string, choice?: { kind: string; value: unknown; valid: readonly string[] }) => {
    for (const [k, v] of present(obj)) {
      const r = rules[k];
      if (!r) {
        problems.push(`${path}${k} is not a known key (valid: ${Object.keys(rules).join(", ")})`);
        continue;
      }
      if (!r.check(v)) {
        problems.push(`${path}${k} must be ${r.type}, got ${fmt(v)}`);
        continue;
      }
      if (r.appliesTo && choice && choice.valid.includes(choice.value as string) && !r.appliesTo.includes(choice.value as string)) {
        problems.push(`${path}${k} does not apply to ${choice.kind} "${choice.value}" (it applies to ${r.appliesTo.join(", ") || "none"})`);
      }
      if (r.keys && isObj(v)) {
        const sub = k === "scheduleOptions" ? { kind: "schedule", value: obj.schedule, valid: SCHEDULES } : undefined;
        checkKeys(v, r.keys, `${path}${k}.`, sub);
      }
    }
    for (const [k, r] of Object.entries(rules)) if (r.required && obj[k] === undefined) problems.push(`${path}${k} is required (${r.type})`);
  };
  checkKeys(spec, TRAIN_SPEC_KEYS, `${where}.`, { kind: "optimizer", value: spec.optimizer, valid: OPTIMIZERS });

  const s = spec as Partial<TrainSpec>;
  if (Array.isArray(s.augment)) {
    try {
      parseTransforms(s.augment);
    } catch (e) {
      problems.push(`${where}.${(e as Error).message}`);
    }
  }
  if (s.nesterov && s.optimizer === "sgd" && (!s.momentum || s.dampening)) problems.push(`${where}.nesterov needs momentum > 0 and dampening 0 (torch.optim.SGD), got momentum ${fmt(s.momentum)}, dampening ${fmt(s.dampening)}`);
  const so = isObj(s.scheduleOptions) ? s.scheduleOptions : {};
  if (s.schedule === "step" && so.stepSize === undefined) problems.push(`${where}.scheduleOptions.stepSize is required for schedule "step" (${SCHEDULE_OPTION_KEYS.stepSize.type})`);
  if (s.schedule === "multistep" && so.milestones === undefined) problems.push(`${where}.scheduleOptions.milestones is required for schedule "multistep" (${SCHEDULE_OPTION_KEYS.milestones.type})`);
  const w = isObj(s.warmup) ? s.warmup : undefined;
  if (w) {
    if ((w.epochs === undefined) === (w.steps === undefined)) problems.push(`${where}.warmup needs exactly one of epochs, steps; got ${fmt(s.warmup)}`);
    if (isNum(w.epochs) && isNum(s.epochs) && w.epochs >= s.epochs) problems.push(`${where}.warmup.epochs (${w.epochs}) must be fewer than epochs (${s.epochs})`);
  }
  if (problems.length) throw new TrainSpecError(problems, where);
  return spec as unknown as TrainSpec;
}
