/**
 * Learning-rate schedules with PyTorch's semantics, as closed-form functions of (epoch, step): no scheduler
 * state, so a run resumed at any epoch gets the same learning rates.
 *
 * `makeSchedule(spec, stepsPerEpoch)` → `LrSchedule` with `at(epoch, step)` = the lr (and, for one-cycle, the
 * momentum) of optimizer step `step` (0-based, within the epoch) of epoch `epoch` (0-based). trainModel calls it
 * before every optimizer step. What each schedule is, and when it changes, as it is used in PyTorch:
 *
 *  - "constant"   lr.
 *  - "step"       StepLR(step_size, gamma = 0.1), stepped once per epoch: lr · gamma^⌊e / stepSize⌋.
 *  - "multistep"  MultiStepLR(milestones, gamma = 0.1), per epoch: lr · gamma^(number of milestones ≤ e).
 *  - "cosine"     CosineAnnealingLR(T_max, eta_min = 0), per epoch: etaMin + (lr − etaMin)(1 + cos(π e / tMax)) / 2;
 *                 tMax defaults to the epochs after the warm-up (past tMax it rises again, as torch's does).
 *  - "onecycle"   OneCycleLR(max_lr = lr, total_steps = epochs × stepsPerEpoch − warm-up steps), stepped per batch,
 *                 torch's defaults: pctStart 0.3, divFactor 25, finalDivFactor 1e4, annealStrategy "cos",
 *                 threePhase false, cycleMomentum true with baseMomentum 0.85 and maxMomentum 0.95 (the momentum of
 *                 SGD and RMSprop, or Adam's beta1, is then set at every step and the spec's momentum is ignored,
 *                 as in torch).
 *
 * Warm-up (`warmup`: LinearLR(start_factor = startFactor, default 1/3) in front of the schedule):
 *  - `{ epochs: W }` with an epoch schedule: torch's SequentialLR([LinearLR(total_iters=W), main], milestones=[W]),
 *    stepped per epoch: epoch e < W has lr₀ · (f + (1 − f) e / W), where lr₀ is the schedule's first lr; from epoch W
 *    on, the schedule runs on the clock e − W (so cosine's tMax defaults to epochs − W).
 *  - `{ steps: W }` or `{ epochs: W }` with one-cycle: the same SequentialLR per batch (W epochs = W × stepsPerEpoch
 *    steps); the ramp ends at one-cycle's first lr (lr / divFactor) with its first momentum, and one-cycle then
 *    covers the remaining steps.
 *  - `{ steps: W }` with an epoch schedule: LinearLR stepped per batch chained with the epoch schedule stepped per
 *    epoch, on the same optimizer (torch multiplies the two): step t (counted from the start of training) has
 *    schedule(e) · (f + (1 − f) min(t, W) / W). The epoch schedule keeps its own clock (tMax defaults to epochs).
 *
 * `unit` says how often the lr can change: "epoch" (constant within an epoch) or "batch".
 */
import type { ScheduleName, ScheduleOptions, TrainSpec, WarmupSpec } from "../results/types";

export const SCHEDULES: readonly ScheduleName[] = ["constant", "step", "multistep", "cosine", "onecycle"];

/** Which scheduleOptions keys each schedule reads. */
export const SCHEDULE_PARAMS: Record<ScheduleName, readonly (keyof ScheduleOptions)[]> = {
  constant: [],
  step: ["stepSize", "gamma"],
  multistep: ["milestones", "gamma"],
  cosine: ["tMax", "etaMin"],
  onecycle: ["pctStart", "divFactor", "finalDivFactor", "annealStrategy", "threePhase", "cycleMomentum", "baseMomentum", "maxMomentum"],
};

/** The defaults of torch's schedulers. */
export const SCHEDULE_DEFAULTS = {
  gamma: 0.1,
  etaMin: 0,
  pctStart: 0.3,
  divFactor: 25,
  finalDivFactor: 1e4,
  annealStrategy: "cos" as const,
  threePhase: false,
  cycleMomentum: true,
  baseMomentum: 0.85,
  maxMomentum: 0.95,
  warmupStartFactor: 1 / 3,
};

export interface LrPoint {
  lr: number;
  /** One-cycle with cycleMomentum: the momentum (SGD, RMSprop) or beta1 (Adam, AdamW) of this step. */
  momentum?: number;
}

export interface LrSchedule {
  /** "epoch": the lr only changes between epochs; "batch": it may change at every optimizer step. */
  readonly unit: "epoch" | "batch";
  /** The lr (and one-cycle's momentum) of step `step` (0-based, within the epoch) of epoch `epoch` (0-based). */
  at(epoch: number, step: number): LrPoint;
}

export type ScheduleSpec = Pick<TrainSpec, "lr" | "epochs" | "schedule"> & Partial<Pick<TrainSpec, "scheduleOptions" | "warmup">>;

type EpochFn = (e: number) => number;

function epochSchedule(name: Exclude<ScheduleName, "onecycle">, base: number, o: ScheduleOptions, horizon: number): EpochFn {
  const gamma = o.gamma ?? SCHEDULE_DEFAULTS.gamma;
  switch (name) {
    case "constant":
      return () => base;
    case "step": {
      const size = o.stepSize;
      if (size === undefined) throw new Error('schedule "step" needs scheduleOptions.stepSize');
      return (e) => base * gamma ** Math.floor(e / size);
    }
    case "multistep": {
      const ms = o.milestones;
      if (!ms) throw new Error('schedule "multistep" needs scheduleOptions.milestones');
      return (e) => base * gamma ** ms.filter((m) => m <= e).length;
    }
    case "cosine": {
      const tMax = o.tMax ?? horizon;
      const etaMin = o.etaMin ?? SCHEDULE_DEFAULTS.etaMin;
      if (!(tMax > 0)) throw new Error(`schedule "cosine": tMax must be > 0, got ${tMax} (epochs after the warm-up)`);
      // With etaMin = 0 this is exactly cosineLr (sgd.ts): (base · (1 + cos)) / 2.
      return (e) => etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * e) / tMax))) / 2;
    }
  }
}

/** torch's OneCycleLR at step t of `total` steps. */
function oneCycle(maxLr: number, o: ScheduleOptions, total: number): (t: number) => LrPoint {
  const d = SCHEDULE_DEFAULTS;
  const pct = o.pctStart ?? d.pctStart;
  const initial = maxLr / (o.divFactor ?? d.divFactor);
  const minLr = initial / (o.finalDivFactor ?? d.finalDivFactor);
  const cycle = o.cycleMomentum ?? d.cycleMomentum;
  const mBase = o.baseMomentum ?? d.baseMomentum;
  const mMax = o.maxMomentum ?? d.maxMomentum;
  const anneal = (o.annealStrategy ?? d.annealStrategy) === "cos" ? (a: number, b: number, p: number) => b + ((a - b) / 2) * (Math.cos(Math.PI * p) + 1) : (a: number, b: number, p: number) => (b - a) * p + a;
  const phases = o.threePhase
    ? [
        { end: pct * total - 1, lr: [initial, maxLr], m: [mMax, mBase] },
        { end: 2 * pct * total - 2, lr: [maxLr, initial], m: [mBase, mMax] },
        { end: total - 1, lr: [initial, minLr], m: [mMax, mMax] },
      ]
    : [
        { end: pct * total - 1, lr: [initial, maxLr], m: [mMax, mBase] },
        { end: total - 1, lr: [maxLr, minLr], m: [mBase, mMax] },
      ];
  let start = 0;
  for (const ph of phases) {
    if (!(ph.end > start)) throw new Error(`schedule "onecycle": ${total} steps are too few for pctStart ${pct}${o.threePhase ? " with threePhase" : ""} (a phase would be empty)`);
    start = ph.end;
  }
  return (t) => {
    let s = 0;
    for (let i = 0; i < phases.length; i++) {
      const ph = phases[i];
      if (t <= ph.end || i === phases.length - 1) {
        const p = (t - s) / (ph.end - s);
        const lr = anneal(ph.lr[0], ph.lr[1], p);
        return cycle ? { lr, momentum: anneal(ph.m[0], ph.m[1], p) } : { lr };
      }
      s = ph.end;
    }
    throw new Error("unreachable");
  };
}

/** LinearLR's factor at iteration k of W. */
function linearFactor(f: number, k: number, w: number): number {
  return f + ((1 - f) * Math.min(k, w)) / w;
}

/** The schedule of a (validated) TrainSpec for a run with `stepsPerEpoch` optimizer steps per epoch. */
export function makeSchedule(spec: ScheduleSpec, stepsPerEpoch: number): LrSchedule {
  if (!Number.isInteger(stepsPerEpoch) || stepsPerEpoch < 1) throw new Error(`makeSchedule: stepsPerEpoch must be a positive integer, got ${stepsPerEpoch}`);
  const o = spec.scheduleOptions ?? {};
  const w: WarmupSpec | undefined = spec.warmup;
  const f = w?.startFactor ?? SCHEDULE_DEFAULTS.warmupStartFactor;
  const E = spec.epochs;
  const S = stepsPerEpoch;
  if (!SCHEDULES.includes(spec.schedule)) throw new Error(`unknown schedule ${JSON.stringify(spec.schedule)}; valid: ${SCHEDULES.join(", ")}`);

  if (spec.schedule === "onecycle") {
    const warm = w ? (w.epochs !== undefined ? w.epochs * S : (w.steps ?? 0)) : 0;
    const total = E * S - warm;
    if (total < 1) throw new Error(`warm-up of ${warm} steps leaves no steps of the ${E * S} for the schedule`);
    const main = oneCycle(spec.lr, o, total);
    const first = main(0);
    return {
      unit: "batch",
      at(epoch, step) {
        const t = epoch * S + step;
        if (t < warm) return { ...first, lr: first.lr * linearFactor(f, t, warm) };
        return main(t - warm);
      },
    };
  }

  if (w?.steps !== undefined) {
    const W = w.steps;
    const main = epochSchedule(spec.schedule, spec.lr, o, E);
    return {
      unit: "batch",
      at(epoch, step) {
        const t = epoch * S + step;
        return { lr: t < W ? main(epoch) * linearFactor(f, t, W) : main(epoch) };
      },
    };
  }

  const W = w?.epochs ?? 0;
  if (W >= E && W > 0) throw new Error(`warm-up of ${W} epochs leaves none of the ${E} epochs for the schedule`);
  const main = epochSchedule(spec.schedule, spec.lr, o, E - W);
  const first = main(0);
  return {
    unit: "epoch",
    at(epoch) {
      return { lr: epoch < W ? first * linearFactor(f, epoch, W) : main(epoch - W) };
    },
  };
}
