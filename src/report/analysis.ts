/**
 * Facts computed from run records for the slides and the report: chosen model,
 * hyperparameter exploration, Pareto front, and the size/time/accuracy conclusion.
 * Everything is derived from the records; nothing about results is hard-coded.
 */
import type { RunRecord, TrainSpec } from "../results/types";
import { KUANGLIU, type ReferenceModel } from "../results/kuangliu";
import { formatDuration, formatNumber, formatParams, formatPercent, formatRate } from "./format";

export const TASK_ORDER: RunRecord["task"][] = ["scratch", "pretrain", "probe", "finetune"];

export function runsOfTask(runs: RunRecord[], task: RunRecord["task"]): RunRecord[] {
  return runs.filter((r) => r.task === task);
}

export function bestRun(runs: RunRecord[]): RunRecord | undefined {
  let best: RunRecord | undefined;
  for (const r of runs) if (Number.isFinite(r.testAccuracy) && (!best || r.testAccuracy > best.testAccuracy)) best = r;
  return best;
}

/**
 * The chosen architecture: the scratch run with the best final validation accuracy. The test set is not used to
 * choose (that would leak it into model selection); ties and runs without validation fall back to test accuracy.
 */
export function chosenScratchRun(runs: RunRecord[]): RunRecord | undefined {
  let best: RunRecord | undefined;
  const key = (r: RunRecord) => (Number.isFinite(finalValAccuracy(r)) ? finalValAccuracy(r) : -1);
  for (const r of runsOfTask(runs, "scratch")) {
    if (!best || key(r) > key(best) || (key(r) === key(best) && r.testAccuracy > best.testAccuracy)) best = r;
  }
  return best;
}

/**
 * Per model family, the finished run with the best final validation accuracy (the test set does not choose; ties
 * go to test accuracy), best test accuracy first: the exploration's answer for each family.
 */
export function bestPerFamily(runs: RunRecord[]): RunRecord[] {
  const best = new Map<string, RunRecord>();
  const val = (r: RunRecord) => (Number.isFinite(finalValAccuracy(r)) ? finalValAccuracy(r) : -1);
  for (const r of runs) {
    if (r.status !== undefined && r.status !== "done") continue;
    const prev = best.get(r.model.family);
    if (!prev || val(r) > val(prev) || (val(r) === val(prev) && r.testAccuracy > prev.testAccuracy)) best.set(r.model.family, r);
  }
  return [...best.values()].sort((a, b) => b.testAccuracy - a.testAccuracy);
}

/** Last epoch's validation accuracy (NaN when no epochs were recorded). */
export function finalValAccuracy(r: RunRecord): number {
  const e = r.epochs?.[r.epochs.length - 1];
  return e ? e.valAccuracy : NaN;
}

/**
 * Runs with no other run both cheaper (or equal) and more accurate (or equal), sorted by cost; the cost is the
 * parameter count unless given (training seconds, latency…).
 */
export function paretoFront(runs: RunRecord[], cost: (r: RunRecord) => number = (r) => r.params): RunRecord[] {
  const sorted = [...runs].filter((r) => Number.isFinite(r.testAccuracy)).sort((a, b) => cost(a) - cost(b) || b.testAccuracy - a.testAccuracy);
  const front: RunRecord[] = [];
  let bestAcc = -Infinity;
  for (const r of sorted) {
    if (r.testAccuracy > bestAcc) {
      front.push(r);
      bestAcc = r.testAccuracy;
    }
  }
  return front;
}

export interface SweepSummary {
  runs: number;
  models: number;
  /** Field → distinct values (formatted), only for fields that varied. */
  varied: { field: keyof TrainSpec; label: string; values: string[] }[];
  /** Fields with one value across the runs. */
  fixed: { field: keyof TrainSpec; label: string; value: string }[];
}

export const TRAIN_FIELDS: { field: keyof TrainSpec; label: string }[] = [
  { field: "optimizer", label: "Optimizer" },
  { field: "lr", label: "Learning rate" },
  { field: "momentum", label: "Momentum" },
  { field: "weightDecay", label: "Weight decay" },
  { field: "epochs", label: "Epochs" },
  { field: "batchSize", label: "Batch size" },
  { field: "schedule", label: "LR schedule" },
  { field: "augment", label: "Augmentation" },
  { field: "seed", label: "Seed" },
];

export function formatTrainValue(field: keyof TrainSpec, v: unknown): string {
  if (field === "augment") return Array.isArray(v) && v.length ? v.join(" + ") : "none";
  if (typeof v === "number") return formatNumber(v);
  return v == null ? "–" : String(v);
}

/** What the scratch runs explored: which TrainSpec fields varied and over which values. */
export function sweepSummary(runs: RunRecord[]): SweepSummary {
  const varied: SweepSummary["varied"] = [];
  const fixed: SweepSummary["fixed"] = [];
  for (const { field, label } of TRAIN_FIELDS) {
    const vals = [...new Set(runs.map((r) => formatTrainValue(field, r.train?.[field])))];
    if (vals.length > 1) {
      const numeric = runs.every((r) => typeof r.train?.[field] === "number");
      if (numeric) vals.sort((a, b) => Number(a) - Number(b));
      varied.push({ field, label, values: vals });
    } else if (vals.length === 1) fixed.push({ field, label, value: vals[0] });
  }
  return { runs: runs.length, models: new Set(runs.map((r) => r.model.name)).size, varied, fixed };
}

/** "6 epochs" of a run (the epochs it recorded, else the planned ones). */
function epochsOf(r: RunRecord): string {
  const n = r.epochs?.length || r.train?.epochs;
  return `${n} epoch${n === 1 ? "" : "s"}`;
}

/** Closest reference model by parameter count (log distance). */
function nearestReference(params: number, reference: readonly ReferenceModel[]): ReferenceModel | undefined {
  let best: ReferenceModel | undefined;
  for (const m of reference) {
    if (!best || Math.abs(Math.log(m.params / params)) < Math.abs(Math.log(best.params / params))) best = m;
  }
  return best;
}

/**
 * Conclusion bullets about the size / time / accuracy compromise, computed from the runs.
 * Returns plain-text sentences (the caller escapes them).
 */
export function conclusions(runs: RunRecord[], reference: readonly ReferenceModel[] = KUANGLIU): string[] {
  const mini = runs.filter((r) => r.dataset === "minicifar" && r.task !== "pretrain");
  const out: string[] = [];
  if (mini.length === 0) {
    return ["No MINICIFAR runs are recorded yet, so no conclusion can be drawn. Run the notebooks, then rebuild the report."];
  }
  const best = bestRun(mini)!;
  out.push(
    `Best MINICIFAR test accuracy: ${formatPercent(best.testAccuracy)} with ${best.model.name} (${best.task}, ${formatParams(best.params)} trained parameters, ${formatDuration(best.trainSeconds)} of training).`,
  );

  const scratch = runsOfTask(mini, "scratch");
  if (scratch.length > 1) {
    const bestS = bestRun(scratch)!;
    const within = scratch.filter((r) => r.testAccuracy >= bestS.testAccuracy - 0.02).sort((a, b) => a.params - b.params)[0];
    const costs = (r: RunRecord) =>
      `${formatParams(r.params)} parameters, ${formatDuration(r.trainSeconds)} of training` +
      (Number.isFinite(r.inferenceMsPerImage) ? `, ${(r.inferenceMsPerImage as number).toFixed(2)} ms per image` : "");
    if (within && within.id !== bestS.id) {
      out.push(
        `Best trade-off: ${within.model.name} (${costs(within)}) is within 2 points of the best scratch model (${formatPercent(within.testAccuracy)} vs ${formatPercent(bestS.testAccuracy)}) with ${(bestS.params / within.params).toFixed(1)}× fewer parameters than ${bestS.model.name} (${costs(bestS)}).`,
      );
    } else {
      // The smallest size tried, at its best accuracy (several runs may share it).
      const smallest = [...scratch].sort((a, b) => a.params - b.params || b.testAccuracy - a.testAccuracy)[0];
      if (smallest.id !== bestS.id) {
        out.push(
          `Best trade-off: no smaller model comes within 2 points of ${bestS.model.name} (${formatPercent(bestS.testAccuracy)}; ${costs(bestS)}). The smallest, ${smallest.model.name} (${costs(smallest)}), reaches ${formatPercent(smallest.testAccuracy)}: ${((bestS.testAccuracy - smallest.testAccuracy) * 100).toFixed(1)} points less for ${(bestS.params / smallest.params).toFixed(1)}× fewer parameters.`,
        );
      } else {
        out.push(`Best trade-off: the best scratch model, ${bestS.model.name}, is also the smallest one tried (${costs(bestS)}).`);
      }
    }
    const front = paretoFront(scratch);
    if (front.length > 1) {
      out.push(`Pareto front (no other scratch run is both smaller and more accurate): ${front.map((r) => `${r.model.name} ${formatParams(r.params)} → ${formatPercent(r.testAccuracy, 1)}`).join("; ")}.`);
    }
  }

  // Only runs that train on images compare: a linear probe trains on cached feature vectors.
  const withRate = mini.filter((r) => r.task !== "probe" && Number.isFinite(r.trainImagesPerSecond) && r.trainImagesPerSecond > 0);
  if (withRate.length > 1) {
    const fastest = withRate.reduce((a, b) => (b.trainImagesPerSecond > a.trainImagesPerSecond ? b : a));
    const slowest = withRate.reduce((a, b) => (b.trainImagesPerSecond < a.trainImagesPerSecond ? b : a));
    out.push(
      `Time: training throughput ranges from ${formatRate(slowest.trainImagesPerSecond)} (${slowest.model.name}, ${slowest.task}) to ${formatRate(fastest.trainImagesPerSecond)} (${fastest.model.name}, ${fastest.task}), a ${(fastest.trainImagesPerSecond / slowest.trainImagesPerSecond).toFixed(1)}× spread on backend ${[...new Set(withRate.map((r) => r.backend))].join("/")}.`,
    );
  }

  const probe = bestRun(runsOfTask(mini, "probe"));
  const fine = bestRun(runsOfTask(mini, "finetune"));
  const bestScratch = bestRun(scratch);
  if ((probe || fine) && bestScratch) {
    const parts: string[] = [];
    if (probe) parts.push(`a linear probe on a pretrained ${probe.model.name} reaches ${formatPercent(probe.testAccuracy)} training ${formatParams(probe.params)} parameters in ${formatDuration(probe.trainSeconds)}`);
    if (fine) parts.push(`fine-tuning ${fine.model.name} reaches ${formatPercent(fine.testAccuracy)} in ${formatDuration(fine.trainSeconds)}`);
    out.push(`Transfer: ${parts.join("; ")}; the best model from scratch reaches ${formatPercent(bestScratch.testAccuracy)} in ${formatDuration(bestScratch.trainSeconds)}.`);
    // The fair comparison: the same architecture from scratch.
    const backbone = (fine ?? probe)!.model.name;
    const same = bestRun(scratch.filter((r) => r.model.name === backbone));
    const transfer = [fine, probe].filter((r): r is RunRecord => !!r).sort((a, b) => b.testAccuracy - a.testAccuracy)[0];
    if (same) {
      const gap = (transfer.testAccuracy - same.testAccuracy) * 100;
      out.push(
        Math.abs(gap) < 0.5
          ? `Same architecture (${backbone}): transfer and the best run from scratch end level (${formatPercent(transfer.testAccuracy)} after ${epochsOf(transfer)} vs ${formatPercent(same.testAccuracy)} after ${epochsOf(same)}).`
          : `Same architecture (${backbone}): transfer (${transfer.task}) ${gap > 0 ? "beats" : "does worse than"} the best run from scratch by ${Math.abs(gap).toFixed(1)} points (${formatPercent(transfer.testAccuracy)} after ${epochsOf(transfer)} vs ${formatPercent(same.testAccuracy)} after ${epochsOf(same)})` +
            (gap < 0 ? "; with this pretraining budget (CIFAR-100 images × epochs), the pretrained features did not pay off." : "."),
      );
    }
  } else if (!probe && !fine) {
    out.push("Transfer: no linear-probe or fine-tune runs are recorded, so the transfer comparison is open.");
  }

  if (bestScratch && reference.length) {
    const near = nearestReference(bestScratch.params, reference);
    const smallestRef = [...reference].sort((a, b) => a.params - b.params)[0];
    const ratio = smallestRef.params / bestScratch.params;
    out.push(
      ratio >= 1
        ? `Reference: our best scratch model is ${ratio.toFixed(1)}× smaller than kuangliu's smallest CIFAR-10 model (${smallestRef.model}, ${formatParams(smallestRef.params)}, ${smallestRef.accuracy}% on CIFAR-10); MINICIFAR has ${bestScratch.model.numClasses} classes, so the accuracies are not directly comparable.`
        : `Reference: the nearest kuangliu model by size is ${near?.model} (${formatParams(near?.params ?? NaN)}, ${near?.accuracy}% on CIFAR-10); MINICIFAR has ${bestScratch.model.numClasses} classes, so the accuracies are not directly comparable.`,
    );
  }
  return out;
}
