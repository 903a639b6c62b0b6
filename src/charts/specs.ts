/**
 * Pure Vega-Lite spec builders. They take run records (and reference data) and return
 * plain JSON specs; nothing here renders or talks to a notebook.
 */
import type { TopLevelSpec } from "vega-lite";
import type { RunRecord } from "../results/types";
import { KUANGLIU, type ReferenceModel } from "../results/kuangliu";
import { CHART_CONFIG, SOURCE_COLORS, TASK_COLORS } from "./theme";
import { paretoFront } from "../report/analysis";

export const REFERENCE_LABEL = "CIFAR-10 (kuangliu)";
export const OURS_LABEL = "MINICIFAR (ours)";
export const ACCURACY_SUBTITLE = "kuangliu: CIFAR-10 test accuracy (10 classes) · ours: MINICIFAR test accuracy — different test sets";

export interface AccuracyVsParamsOptions {
  /** Which tasks of ours to plot (default: ["scratch"]). */
  tasks?: RunRecord["task"][];
  /** Keep only the best test accuracy per model name (default true): sweeps would otherwise stack labels. */
  bestPerModel?: boolean;
  /** Plot size in pixels (default 820×430). */
  width?: number;
  height?: number;
  /** Chart title; null drops the title block (e.g. on a slide that has its own heading). */
  title?: string | null;
}

/** One point of the accuracy-vs-parameters chart. */
export interface AccuracyPoint {
  label: string;
  source: string;
  params: number;
  accuracy: number;
  labelPos: LabelPos;
}

type LabelPos = "right" | "left" | "above" | "below" | "upright" | "downright" | "upleft" | "downleft" | "farabove" | "farbelow";

const LABEL_LAYOUT: Record<LabelPos, { align: "left" | "right" | "center"; baseline: "middle" | "bottom" | "top"; dx: number; dy: number }> = {
  right: { align: "left", baseline: "middle", dx: 9, dy: 0 },
  left: { align: "right", baseline: "middle", dx: -9, dy: 0 },
  above: { align: "center", baseline: "bottom", dx: 0, dy: -9 },
  below: { align: "center", baseline: "top", dx: 0, dy: 9 },
  upright: { align: "left", baseline: "bottom", dx: 6, dy: -5 },
  downright: { align: "left", baseline: "top", dx: 6, dy: 5 },
  upleft: { align: "right", baseline: "bottom", dx: -6, dy: -5 },
  downleft: { align: "right", baseline: "top", dx: -6, dy: 5 },
  farabove: { align: "center", baseline: "bottom", dx: 0, dy: -22 },
  farbelow: { align: "center", baseline: "top", dx: 0, dy: 22 },
};

/** Best run per model name (highest test accuracy), keeping first-seen order. */
export function bestPerModelName(runs: RunRecord[]): RunRecord[] {
  const best = new Map<string, RunRecord>();
  for (const r of runs) {
    const prev = best.get(r.model.name);
    if (!prev || r.testAccuracy > prev.testAccuracy) best.set(r.model.name, r);
  }
  return [...best.values()];
}

function logDomain(values: number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return [10 ** Math.floor(Math.log10(lo)), 10 ** Math.ceil(Math.log10(hi))];
}

function accuracyDomain(values: number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const low = Math.max(0, Math.floor((lo - 2) / 5) * 5);
  const high = Math.min(100, Math.ceil((hi + 1) / 5) * 5);
  return [low, high > low ? high : low + 5];
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

function overlapArea(a: Box, b: Box): number {
  const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
  const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
  return w > 0 && h > 0 ? w * h : 0;
}

/**
 * Greedy label placement in pixel space: for each point try eight positions around it and
 * keep the one overlapping least with points, earlier labels and the plot border.
 */
function placeLabels(
  pts: { label: string; px: number; py: number }[],
  width: number,
  height: number,
  fontSize: number,
): LabelPos[] {
  const charW = fontSize * 0.6;
  const textH = fontSize * 1.1;
  const placed: Box[] = pts.map((p) => ({ x0: p.px - 8, y0: p.py - 8, x1: p.px + 8, y1: p.py + 8 }));
  const order = pts.map((_, i) => i).sort((a, b) => pts[a].px - pts[b].px);
  const result: LabelPos[] = pts.map(() => "right");
  const candidates = Object.keys(LABEL_LAYOUT) as LabelPos[];
  for (const i of order) {
    const p = pts[i];
    const w = p.label.length * charW;
    let bestPos: LabelPos = "right";
    let bestScore = Infinity;
    candidates.forEach((pos, rank) => {
      const l = LABEL_LAYOUT[pos];
      const ax = p.px + l.dx;
      const ay = p.py + l.dy;
      const x0 = l.align === "left" ? ax : l.align === "right" ? ax - w : ax - w / 2;
      const y0 = l.baseline === "top" ? ay : l.baseline === "bottom" ? ay - textH : ay - textH / 2;
      const box = { x0, y0, x1: x0 + w, y1: y0 + textH };
      let score = rank * 0.5 + (pos.startsWith("far") ? 60 : 0); // preference for the listed order, far labels last
      // Covering a point is worse than touching another label.
      placed.forEach((b, k) => (score += overlapArea(box, b) * (k < pts.length ? 6 : 4)));
      const outside =
        Math.max(0, -box.x0) * textH + Math.max(0, box.x1 - width) * textH + Math.max(0, -box.y0) * w + Math.max(0, box.y1 - height) * w;
      score += outside * 4;
      if (score < bestScore) {
        bestScore = score;
        bestPos = pos;
      }
    });
    const l = LABEL_LAYOUT[bestPos];
    const ax = p.px + l.dx;
    const ay = p.py + l.dy;
    const x0 = l.align === "left" ? ax : l.align === "right" ? ax - w : ax - w / 2;
    const y0 = l.baseline === "top" ? ay : l.baseline === "bottom" ? ay - textH : ay - textH / 2;
    placed.push({ x0, y0, x1: x0 + w, y1: y0 + textH });
    result[i] = bestPos;
  }
  return result;
}

/**
 * Accuracy (%) against trainable parameters on a log scale: kuangliu's CIFAR-10 models
 * and our MINICIFAR runs, both labelled, distinguished by colour and shape.
 */
export function accuracyVsParamsSpec(
  runs: RunRecord[],
  reference: readonly ReferenceModel[] = KUANGLIU,
  options: AccuracyVsParamsOptions = {},
): TopLevelSpec {
  const tasks = options.tasks ?? ["scratch"];
  const width = options.width ?? 820;
  const height = options.height ?? 430;
  let ours = runs.filter((r) => tasks.includes(r.task) && r.params > 0 && Number.isFinite(r.testAccuracy));
  if (options.bestPerModel ?? true) ours = bestPerModelName(ours);

  const raw = [
    ...reference.map((m) => ({ label: m.model, source: REFERENCE_LABEL, params: m.params, accuracy: m.accuracy })),
    ...ours.map((r) => ({ label: r.model.name, source: OURS_LABEL, params: r.params, accuracy: +(r.testAccuracy * 100).toFixed(2) })),
  ];
  const xDomain = raw.length ? logDomain(raw.map((d) => d.params)) : ([1e5, 1e8] as [number, number]);
  const yDomain = raw.length ? accuracyDomain(raw.map((d) => d.accuracy)) : ([0, 100] as [number, number]);
  const [lx0, lx1] = [Math.log10(xDomain[0]), Math.log10(xDomain[1])];
  const pix = raw.map((d) => ({
    label: d.label,
    px: ((Math.log10(d.params) - lx0) / (lx1 - lx0)) * width,
    py: height - ((d.accuracy - yDomain[0]) / (yDomain[1] - yDomain[0])) * height,
  }));
  const positions = placeLabels(pix, width, height, 13);
  const values: AccuracyPoint[] = raw.map((d, i) => ({ ...d, labelPos: positions[i] }));

  const x = {
    field: "params",
    type: "quantitative" as const,
    title: "Trainable parameters (log scale)",
    scale: { type: "log" as const, domain: xDomain, nice: false },
    axis: { format: "~s", grid: true },
  };
  const y = {
    field: "accuracy",
    type: "quantitative" as const,
    title: "Test accuracy (%)",
    scale: { domain: yDomain, zero: false, nice: false },
  };
  // The legend sits inside the plot, bottom right: small models with high accuracy do not exist, so it is empty.
  const legend = { orient: "bottom-right" as const, fillColor: "white", padding: 8, strokeColor: "#ccc", labelLimit: 400 };
  const color = {
    field: "source",
    type: "nominal" as const,
    title: null,
    scale: { domain: [REFERENCE_LABEL, OURS_LABEL], range: [SOURCE_COLORS.reference, SOURCE_COLORS.ours] },
    legend,
  };

  const labelLayers = (Object.keys(LABEL_LAYOUT) as LabelPos[])
    .filter((pos) => values.some((v) => v.labelPos === pos))
    .map((pos) => {
      const l = LABEL_LAYOUT[pos];
      return {
        transform: [{ filter: { field: "labelPos", equal: pos } }],
        mark: { type: "text" as const, align: l.align, baseline: l.baseline, dx: l.dx, dy: l.dy, fontSize: 13 },
        encoding: { x, y, text: { field: "label", type: "nominal" as const }, color },
      };
    });

  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    ...(options.title === null
      ? {}
      : {
          title: {
            text: options.title ?? "Accuracy vs number of parameters",
            subtitle: ACCURACY_SUBTITLE,
          },
        }),
    width,
    height,
    config: CHART_CONFIG,
    data: { values },
    layer: [
      {
        mark: { type: "point", filled: true, size: 120, opacity: 0.9 },
        encoding: {
          x,
          y,
          color,
          shape: {
            field: "source",
            type: "nominal",
            title: null,
            scale: { domain: [REFERENCE_LABEL, OURS_LABEL], range: ["circle", "diamond"] },
            legend,
          },
          tooltip: [
            { field: "label", type: "nominal", title: "model" },
            { field: "source", type: "nominal" },
            { field: "params", type: "quantitative", format: "," },
            { field: "accuracy", type: "quantitative", format: ".2f" },
          ],
        },
      },
      ...labelLayers,
    ],
  } as TopLevelSpec;
}

/**
 * Short labels for a set of runs: the model name, plus the task when tasks differ; runs that share a name are told
 * apart by the train settings they set to a value other than the group's most common one ("ResNet8-w8 lr=0.1"), or by
 * the end of their id when their settings are the same.
 */
export function runLabels(runs: RunRecord[]): string[] {
  const tasks = new Set(runs.map((r) => r.task));
  const base = runs.map((r) => (tasks.size > 1 ? `${r.model.name} (${r.task})` : r.model.name));
  const groups = new Map<string, number[]>();
  base.forEach((b, i) => groups.set(b, [...(groups.get(b) ?? []), i]));
  const out = [...base];
  for (const [b, idx] of groups) {
    if (idx.length < 2) continue;
    const keys = [...new Set(idx.flatMap((i) => Object.keys(runs[i].train ?? {})))].sort();
    const value = (i: number, k: string) => JSON.stringify((runs[i].train as unknown as Record<string, unknown>)?.[k] ?? null);
    const mode = new Map(
      keys.map((k) => {
        const n = new Map<string, number>();
        for (const i of idx) n.set(value(i, k), (n.get(value(i, k)) ?? 0) + 1);
        return [k, [...n.entries()].sort((x, y) => y[1] - x[1])[0][0]] as const;
      }),
    );
    for (const i of idx) {
      const diff = keys.filter((k) => value(i, k) !== mode.get(k) && value(i, k) !== "null").map((k) => `${k}=${value(i, k).replace(/"/g, "")}`);
      out[i] = diff.length ? `${b} ${diff.join(" ")}` : b;
    }
    // Still ambiguous (same settings, e.g. two seeds of nothing else): the end of the run id.
    const seen = new Map<string, number>();
    for (const i of idx) seen.set(out[i], (seen.get(out[i]) ?? 0) + 1);
    for (const i of idx) if ((seen.get(out[i]) ?? 0) > 1) out[i] = `${out[i]} ${runs[i].id.split("/").pop() ?? runs[i].id}`;
  }
  return out;
}

/** Validation (solid) and training (dashed) accuracy and loss per epoch, one colour per run. */
export function trainingCurvesSpec(run: RunRecord | RunRecord[], options: { width?: number; height?: number } = {}): TopLevelSpec {
  const runs = Array.isArray(run) ? run : [run];
  const labels = runLabels(runs);
  const rows: { run: string; epoch: number; split: string; metric: string; value: number }[] = [];
  runs.forEach((r, i) => {
    for (const e of r.epochs ?? []) {
      rows.push({ run: labels[i], epoch: e.epoch, split: "validation", metric: "accuracy", value: e.valAccuracy * 100 });
      rows.push({ run: labels[i], epoch: e.epoch, split: "validation", metric: "loss", value: e.valLoss });
      rows.push({ run: labels[i], epoch: e.epoch, split: "train", metric: "accuracy", value: e.trainAccuracy * 100 });
      rows.push({ run: labels[i], epoch: e.epoch, split: "train", metric: "loss", value: e.trainLoss });
    }
  });
  const width = options.width ?? 400;
  const height = options.height ?? 280;
  const panel = (metric: string, title: string) => ({
    width,
    height,
    transform: [{ filter: { field: "metric", equal: metric } }],
    mark: { type: "line" as const, point: runs.length === 1 ? { size: 30 } : false, strokeWidth: 2.5 },
    encoding: {
      x: { field: "epoch", type: "quantitative" as const, title: "Epoch", axis: { tickMinStep: 1, format: "d" } },
      y: { field: "value", type: "quantitative" as const, title, scale: { zero: false } },
      color: { field: "run", type: "nominal" as const, title: "Run", legend: { orient: "right" as const, labelLimit: 320 } },
      strokeDash: {
        field: "split",
        type: "nominal" as const,
        title: "Split",
        legend: { orient: "right" as const },
        scale: { domain: ["validation", "train"], range: [[1, 0], [6, 4]] },
      },
      tooltip: [
        { field: "run", type: "nominal" as const },
        { field: "split", type: "nominal" as const },
        { field: "epoch", type: "quantitative" as const },
        { field: "value", type: "quantitative" as const, format: ".3f" },
      ],
    },
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: { text: "Training curves", subtitle: "solid: validation · dashed: train" },
    config: CHART_CONFIG,
    data: { values: rows },
    hconcat: [panel("accuracy", "Accuracy (%)"), panel("loss", "Cross-entropy loss")],
    resolve: { scale: { color: "shared", strokeDash: "shared" } },
  } as TopLevelSpec;
}

export const TRANSFER_TASKS = ["scratch", "probe", "finetune"] as const;
export const TRANSFER_TASK_TITLES: Record<string, string> = {
  scratch: "From scratch",
  probe: "Linear probe",
  finetune: "Fine-tune",
};

/** Rows of the transfer chart: the best test accuracy per (task, model). */
export function transferRows(runs: RunRecord[]): { task: string; taskTitle: string; model: string; accuracy: number; params: number; id: string }[] {
  const best = new Map<string, RunRecord>();
  // Compare like with like: scratch runs only of the architectures that were probed or fine-tuned (if any were).
  let transferred = new Set(runs.filter((r) => r.task === "probe" || r.task === "finetune").map((r) => r.model.name));
  if (!runs.some((r) => r.task === "scratch" && transferred.has(r.model.name))) transferred = new Set(); // no match: show all
  for (const r of runs) {
    if (!(TRANSFER_TASKS as readonly string[]).includes(r.task)) continue;
    if (r.task === "scratch" && transferred.size > 0 && !transferred.has(r.model.name)) continue;
    const key = `${r.task}\u0000${r.model.name}`;
    const prev = best.get(key);
    if (!prev || r.testAccuracy > prev.testAccuracy) best.set(key, r);
  }
  return [...best.values()]
    .sort((a, b) => TRANSFER_TASKS.indexOf(a.task as never) - TRANSFER_TASKS.indexOf(b.task as never) || a.model.name.localeCompare(b.model.name))
    .map((r) => ({
      task: r.task,
      taskTitle: TRANSFER_TASK_TITLES[r.task],
      model: r.model.name,
      accuracy: +(r.testAccuracy * 100).toFixed(2),
      params: r.params,
      id: r.id,
    }));
}

/** Bar chart of MINICIFAR test accuracy: from scratch vs linear probe vs fine-tune (best run per model). */
export function transferSpec(runs: RunRecord[], options: { width?: number; height?: number; title?: string | null } = {}): TopLevelSpec {
  const rows = transferRows(runs);
  const taskOrder = TRANSFER_TASKS.map((t) => TRANSFER_TASK_TITLES[t]);
  const models = [...new Set(rows.map((r) => r.model))];
  const single = models.length <= 1;
  const x = { field: "taskTitle", type: "nominal" as const, title: null, sort: taskOrder, scale: { domain: taskOrder }, axis: { labelAngle: 0, labelFontSize: 15 } };
  const y = { field: "accuracy", type: "quantitative" as const, title: "MINICIFAR test accuracy (%)", stack: null, scale: { domain: [0, 100] } };
  const colorEnc = single
    ? { field: "task", type: "nominal" as const, legend: null, scale: { domain: [...TRANSFER_TASKS], range: TRANSFER_TASKS.map((t) => TASK_COLORS[t]) } }
    : { field: "model", type: "nominal" as const, title: "Model", legend: { columns: 3, labelLimit: 260 } };
  const xOffset = single ? undefined : { field: "model", type: "nominal" as const };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    ...(options.title === null ? {} : { title: { text: options.title ?? "Transfer learning on MINICIFAR", subtitle: "best test accuracy per model and method" } }),
    width: options.width ?? 620,
    height: options.height ?? 360,
    config: CHART_CONFIG,
    data: { values: rows },
    layer: [
      {
        mark: { type: "bar", clip: true },
        encoding: {
          x,
          y,
          color: colorEnc,
          ...(xOffset ? { xOffset } : {}),
          tooltip: [
            { field: "model", type: "nominal" },
            { field: "taskTitle", type: "nominal", title: "method" },
            { field: "accuracy", type: "quantitative", format: ".2f" },
          ],
        },
      },
      {
        mark: { type: "text", baseline: "bottom", dy: -4, fontSize: 14, fontWeight: "bold" },
        encoding: {
          x,
          y,
          ...(xOffset ? { xOffset } : {}),
          text: { field: "accuracy", type: "quantitative", format: ".1f" },
        },
      },
    ],
  } as TopLevelSpec;
}

/** The x axes of the compromise charts: what a run costs. */
export const TRADEOFF_AXES = {
  params: { field: "params", title: "Trainable parameters (log scale)", format: "~s" },
  trainSeconds: { field: "trainSeconds", title: "Training time (s, log scale)", format: "~s" },
  inferenceMsPerImage: { field: "inferenceMsPerImage", title: "Inference latency (ms per image, log scale)", format: "~g" },
} as const;
export type TradeoffAxis = keyof typeof TRADEOFF_AXES;

/** Points (with the Pareto front marked) and layers of one compromise panel: accuracy against one cost axis. */
function tradeoffView(runs: RunRecord[], axis: TradeoffAxis, width: number, height: number) {
  const ax = TRADEOFF_AXES[axis];
  const kept = runs.filter((r) => Number.isFinite(r.testAccuracy) && Number.isFinite(r[axis] as number) && (r[axis] as number) > 0);
  const labels = runLabels(kept);
  // Pareto front: the runs more accurate than every cheaper one.
  const front = new Set(paretoFront(kept, (r) => r[axis] as number));
  const rows = kept.map((r, i) => ({ id: r.id, model: labels[i], family: r.model.family, cost: r[axis] as number, accuracy: +(100 * r.testAccuracy).toFixed(2), front: front.has(r) }));
  const x = { field: "cost", type: "quantitative" as const, title: ax.title, scale: { type: "log" as const }, axis: { format: ax.format, grid: true } };
  const y = { field: "accuracy", type: "quantitative" as const, title: "Test accuracy (%)", scale: { zero: false } };
  return {
    width,
    height,
    data: { values: rows },
    layer: [
      {
        transform: [{ filter: "datum.front" }],
        mark: { type: "line", color: "#999", strokeDash: [4, 3], interpolate: "step-after" },
        encoding: { x, y, order: { field: "cost", type: "quantitative" } },
      },
      {
        mark: { type: "point", filled: true, size: 90, opacity: 0.85 },
        encoding: {
          x,
          y,
          color: { field: "family", type: "nominal", title: "Family" },
          shape: { field: "family", type: "nominal", title: "Family" },
          tooltip: [
            { field: "model", type: "nominal" },
            { field: "id", type: "nominal", title: "run" },
            { field: "cost", type: "quantitative", title: ax.title, format: ",.3~f" },
            { field: "accuracy", type: "quantitative", format: ".2f" },
          ],
        },
      },
      {
        transform: [{ filter: "datum.front" }],
        mark: { type: "text", align: "left", baseline: "bottom", dx: 6, dy: -4, fontSize: 11, limit: Math.round(width * 0.9) },
        encoding: { x, y, text: { field: "model", type: "nominal" } },
      },
    ],
  };
}

/**
 * A compromise chart: MINICIFAR test accuracy (%) against a cost of the run (parameters, training time or inference
 * latency, log scale), one point per finished run, coloured by family; the Pareto front (the runs no other run
 * beats on both accuracy and cost) is drawn as a line and its points are labelled.
 */
export function tradeoffSpec(runs: RunRecord[], axis: TradeoffAxis, options: { width?: number; height?: number; title?: string | null } = {}): TopLevelSpec {
  const ax = TRADEOFF_AXES[axis];
  const title = options.title === null ? {} : { title: { text: options.title ?? `Accuracy vs ${ax.title.replace(/ \(.*$/, "").toLowerCase()}`, subtitle: "MINICIFAR test accuracy · line: the best accuracy at each cost (Pareto front)" } };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    ...title,
    config: CHART_CONFIG,
    ...tradeoffView(runs, axis, options.width ?? 520, options.height ?? 320),
  } as TopLevelSpec;
}

/** The three compromise charts side by side, one shared legend (the slides' compromise page). */
export function tradeoffPanelsSpec(runs: RunRecord[], options: { width?: number; height?: number } = {}): TopLevelSpec {
  const axes = Object.keys(TRADEOFF_AXES) as TradeoffAxis[];
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    config: { ...CHART_CONFIG, legend: { ...CHART_CONFIG.legend, orient: "right" } },
    hconcat: axes.map((a) => tradeoffView(runs, a, options.width ?? 300, options.height ?? 300)),
    spacing: 70,
    bounds: "flush",
    resolve: { scale: { color: "shared", shape: "shared" }, legend: { color: "shared", shape: "shared" } },
  } as TopLevelSpec;
}
