/**
 * 16:9 slides generated from run records: title, architecture, hyperparameters, results,
 * accuracy vs parameters, transfer learning, conclusion. A slide whose data is missing says so.
 */
import type { RunRecord } from "../results/types";
import { KUANGLIU, type ReferenceModel } from "../results/kuangliu";
import { ACCURACY_SUBTITLE, accuracyVsParamsSpec, runLabels, tradeoffPanelsSpec, transferRows, transferSpec, TRANSFER_TASK_TITLES } from "../charts/specs";
import { buildModel } from "../models";
import { stageSummary } from "../models/summary";
import { renderSvg } from "../charts/render";
import { escapeHtml, inlineSvg } from "./html";
import { formatDuration, formatParams, formatPercent, formatRate } from "./format";
import {
  bestPerFamily,
  chosenScratchRun,
  conclusions,
  finalValAccuracy,
  formatTrainValue,
  runsOfTask,
  sweepSummary,
  TASK_ORDER,
  TRAIN_FIELDS,
} from "./analysis";

export interface SlidesOptions {
  title: string;
  subtitle?: string;
  reference?: readonly ReferenceModel[];
  /** Maximum rows of the results table (the rest are counted in a note). */
  maxResultRows?: number;
  generated?: string;
}

const e = escapeHtml;

function slide(cls: string, title: string | null, content: string): string {
  const h = title ? `<h2>${e(title)}</h2>` : "";
  return `<section class="slide ${cls}">${h}${content}</section>`;
}

function empty(text: string): string {
  return `<div class="content"><div class="col"><p class="empty">${e(text)}</p></div></div>`;
}

function table(head: { label: string; num?: boolean }[], rows: { cells: string[]; highlight?: boolean }[], cls = ""): string {
  const th = head.map((h) => `<th${h.num ? ' class="num"' : ""}>${e(h.label)}</th>`).join("");
  const body = rows
    .map((r) => `<tr${r.highlight ? ' class="highlight"' : ""}>${r.cells.map((c, i) => `<td${head[i]?.num ? ' class="num"' : ""}>${c}</td>`).join("")}</tr>`)
    .join("");
  return `<table class="${cls}"><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

function list(items: string[]): string {
  return `<ul>${items.map((i) => `<li>${i}</li>`).join("")}</ul>`;
}

/** Runs in report order: by task (scratch, pretrain, probe, fine-tune), then best test accuracy first. */
export function sortRuns(runs: RunRecord[]): RunRecord[] {
  const order = (r: RunRecord) => TASK_ORDER.indexOf(r.task);
  return [...runs].sort((a, b) => order(a) - order(b) || b.testAccuracy - a.testAccuracy);
}

/**
 * The table of runs shared by the slides and the HTML report. `detailed` adds the run id and dataset
 * columns and full-precision accuracies (the report); the slide folds the dataset into the task.
 */
export function runsTable(runs: RunRecord[], detailed: boolean, cls = ""): string {
  const digits = detailed ? 2 : 1;
  const head = [
    ...(detailed ? [{ label: "Run" }] : []),
    { label: "Model" },
    { label: "Task" },
    ...(detailed ? [{ label: "Dataset" }] : []),
    { label: "Params", num: true },
    { label: "Epochs", num: true },
    { label: "Val acc.", num: true },
    { label: "Test acc.", num: true },
    { label: "Train time", num: true },
    { label: "Throughput", num: true },
    { label: "Backend" },
  ];
  const rows = runs.map((r) => ({
    cells: [
      ...(detailed ? [e(r.id)] : []),
      e(r.model.name),
      e(detailed || !r.dataset || r.dataset === "minicifar" ? r.task : `${r.task} (${r.dataset})`),
      ...(detailed ? [e(r.dataset)] : []),
      e(formatParams(r.params)),
      e(String(r.epochs?.length ?? r.train?.epochs ?? "–")),
      e(formatPercent(finalValAccuracy(r), digits)),
      e(formatPercent(r.testAccuracy, digits)),
      e(formatDuration(r.trainSeconds)),
      e(formatRate(r.trainImagesPerSecond)),
      e(r.backend ?? "–"),
    ],
  }));
  return table(head, rows, cls);
}

/** Best run per model name, in descending test accuracy. */
function bestPerModel(runs: RunRecord[]): RunRecord[] {
  const m = new Map<string, RunRecord>();
  for (const r of runs) {
    const p = m.get(r.model.name);
    if (!p || r.testAccuracy > p.testAccuracy) m.set(r.model.name, r);
  }
  return [...m.values()].sort((a, b) => b.testAccuracy - a.testAccuracy);
}

let chartCounter = 0;
async function chart(spec: Parameters<typeof renderSvg>[0], prefix: string): Promise<string> {
  chartCounter += 1;
  const svg = await renderSvg(spec);
  return `<figure class="chart">${inlineSvg(svg, `${prefix}${chartCounter}-`)}</figure>`;
}

function titleSlide(runs: RunRecord[], o: SlidesOptions): string {
  const tasks = TASK_ORDER.map((t) => [t, runsOfTask(runs, t).length] as const).filter(([, n]) => n > 0);
  const backends = [...new Set(runs.map((r) => r.backend).filter(Boolean))];
  const meta = runs.length
    ? `${runs.length} recorded run${runs.length === 1 ? "" : "s"}: ${tasks.map(([t, n]) => `${n} ${t}`).join(", ")}` +
      (backends.length ? `<br>TensorFlow.js backend: ${e(backends.join(", "))}` : "")
    : "No runs recorded yet";
  return (
    `<section class="slide title"><div class="bar"></div><h1>${e(o.title)}</h1>` +
    `<p class="subtitle">${e(o.subtitle ?? "")}</p><p class="meta">${meta}${o.generated ? `<br>Generated ${e(o.generated)}` : ""}</p></section>`
  );
}

const FAMILY_TITLES: Record<string, string> = { resnet: "ResNet", preact_resnet: "PreActResNet", densenet: "DenseNet", vgg: "VGG" };
const UNIT_LABEL: Record<string, string> = { resnet: "Blocks", preact_resnet: "Blocks", densenet: "Units", vgg: "Convs" };

/**
 * One slide per architecture family: the family's best run (by validation accuracy) with its knobs and results, and
 * the table of its stages (output size, blocks, parameters, FLOPs) from the model built from the recorded spec.
 */
function architectureSlides(runs: RunRecord[]): string[] {
  const chosen = chosenScratchRun(runs);
  const best = bestPerFamily(runsOfTask(runs, "scratch"));
  if (!chosen || best.length === 0) return [slide("architecture", "Architectures", empty("No from-scratch runs are recorded, so there is no architecture to describe yet."))];
  return best.map((r) => {
    const m = r.model;
    // The stage table comes from the model rebuilt from the recorded spec; a record the current code cannot build
    // (an older family name, say) keeps its slide with the recorded blocks and widths instead.
    let stages: ReturnType<typeof stageSummary> | undefined;
    let flops = r.flops ?? NaN;
    let why = "";
    try {
      const model = buildModel(m);
      try {
        stages = stageSummary(model);
        flops = stages.reduce((n, st) => n + st.flops, 0); // the stages' FLOPs sum to the model's
      } finally {
        model.dispose();
      }
    } catch (err) {
      why = (err as Error).message.split("\n")[0];
    }
    const kv: [string, string][] = [
      ["Model", m.name],
      ...(m.block ? ([["Block", m.block]] as [string, string][]) : []),
      ["Activation", m.activation],
      ["Dropout", m.dropout ? String(m.dropout) : "none"],
      ["Parameters", `${formatParams(r.params)} (${r.params.toLocaleString("en-US")})`],
      ["FLOPs / image", formatParams(flops)],
      ["Val. / test acc.", `${formatPercent(finalValAccuracy(r), 1)} / ${formatPercent(r.testAccuracy, 1)}`],
      ["Training", `${r.epochs?.length ?? r.train.epochs} epochs, ${formatDuration(r.trainSeconds)}`],
    ];
    const left = `<div class="col"><dl class="kv">${kv.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join("")}</dl>${
      r.id === chosen.id ? `<p class="note">Chosen architecture: the best validation accuracy of all from-scratch runs.</p>` : ""
    }</div>`;
    const unit = UNIT_LABEL[m.family] ?? "Units";
    const right = stages
      ? `<div class="col wide"><p class="note">Stages of ${e(m.name)} on a 32×32 image (FLOPs: multiply-add = 2)</p>${table(
          [{ label: "Stage" }, { label: "Output" }, { label: unit, num: true }, { label: "Params", num: true }, { label: "FLOPs", num: true }],
          stages.map((st) => ({
            cells: [e(st.name), e(st.outputShape.join("×")), e(st.units ? String(st.units) : "–"), e(formatParams(st.params)), e(formatParams(st.flops))],
          })),
          stages.length > 8 ? "compact" : "",
        )}</div>`
      : `<div class="col wide"><dl class="kv"><dt>Blocks per stage</dt><dd>${e(m.blocks.join(" / "))}</dd><dt>Widths</dt><dd>${e(m.widths.join(" / "))}</dd></dl><p class="note">No stage table: the recorded model cannot be rebuilt (${e(why)}).</p></div>`;
    return slide("architecture", `${FAMILY_TITLES[m.family] ?? m.family}: ${m.name}`, `<div class="content">${left}${right}</div>`);
  });
}

/** The sweep a run belongs to, from its id `<profile>/sweep/<name>/<hash>` (undefined for other runs). */
export function sweepOf(r: RunRecord): string | undefined {
  return /^[^/]+\/sweep\/([^/]+)\//.exec(r.id)?.[1];
}

/** Values of one varied setting, short: a list, or a range with a count when there are many numbers. */
function searched(label: string, all: string[]): string {
  const values = all.filter((v) => v !== "–");
  const nums = values.map(Number);
  if (values.length > 4 && nums.every(Number.isFinite)) return `${label} ${values[0]}–${values[values.length - 1]} (${values.length} values)`;
  return `${label} ${values.join(", ")}`;
}

/**
 * The exploration strategy: one row per sweep stage (in the order the runs started), with the settings it searched
 * (model, knobs and train keys that varied within it) and its best config by validation accuracy.
 */
function strategySlide(runs: RunRecord[]): string {
  const scratch = runsOfTask(runs, "scratch");
  const groups = new Map<string, RunRecord[]>();
  for (const r of [...scratch].sort((a, b) => (a.startedAt ?? a.finishedAt ?? "").localeCompare(b.startedAt ?? b.finishedAt ?? ""))) {
    const g = sweepOf(r) ?? "other runs";
    groups.set(g, [...(groups.get(g) ?? []), r]);
  }
  if (groups.size === 0) return slide("strategy", "Exploration strategy", empty("No from-scratch runs are recorded, so there is no exploration to describe yet."));
  const rows = [...groups.entries()].map(([name, g]) => {
    const sum = sweepSummary(g);
    // A setting only some runs have (momentum, absent under Adam) varied, but it is searched only with ≥ 2 values.
    const items = sum.varied.filter((v) => v.values.filter((x) => x !== "–").length > 1).map((v) => searched(v.label.toLowerCase(), v.values));
    const models = [...new Set(g.map((r) => r.model.name))];
    if (models.length > 1) items.unshift(`model ${models.join(", ")}`);
    const best = g.reduce((b, r) => (finalValAccuracy(r) > finalValAccuracy(b) ? r : b));
    const label = runLabels(g)[g.indexOf(best)];
    return {
      cells: [
        e(name.replace(/^(quick|full)-/, "")),
        e(String(g.length)),
        e(items.join("; ") || "one config"),
        `${e(label)} <span class="note">(${e(formatPercent(finalValAccuracy(best), 1))})</span>`,
      ],
    };
  });
  const fixed = sweepSummary(scratch).fixed;
  return slide(
    "strategy",
    "Exploration strategy",
    `<div class="content stack">${table([{ label: "Stage" }, { label: "Runs", num: true }, { label: "Searched" }, { label: "Best (val. acc.)" }], rows, `compact wrap`)}` +
      `<p class="note">One row per sweep, in the order they ran, with the settings that varied within it (everything else as its base) and its best run. Runs are ranked by validation accuracy; the test set only reports.${
        fixed.length ? ` Never varied: ${e(fixed.map((f) => `${f.label.toLowerCase()} ${f.value}`).join(", "))}.` : ""
      }</p></div>`,
  );
}

/** Accuracy against parameters, training time and inference latency, side by side, each with its Pareto front. */
async function compromiseSlide(runs: RunRecord[]): Promise<string> {
  const scratch = runsOfTask(runs, "scratch").filter((r) => r.dataset === "minicifar");
  if (scratch.length === 0) return slide("compromise", "Compromises", empty("No from-scratch MINICIFAR runs are recorded yet."));
  const noLatency = scratch.filter((r) => !(Number.isFinite(r.inferenceMsPerImage) && (r.inferenceMsPerImage as number) > 0)).length;
  return slide(
    "compromise",
    "Compromises: accuracy vs size, training time, latency",
    `<div class="content stack">${await chart(tradeoffPanelsSpec(scratch, { width: 280, height: 380 }), "tradeoff")}<p class="note">MINICIFAR test accuracy of every from-scratch run against its parameters, training time and inference latency per image (log scales); dashed line: the Pareto front (no other run is both cheaper and more accurate), its runs labelled.${
      noLatency ? ` ${noLatency} run(s) without a recorded latency are left out of the third panel.` : ""
    }</p></div>`,
  );
}

function hyperparameterSlide(runs: RunRecord[]): string {
  const scratch = runsOfTask(runs, "scratch");
  const chosen = chosenScratchRun(runs);
  if (!chosen) return slide("hyper", "Hyperparameters", empty("No from-scratch runs are recorded, so there are no hyperparameters to report yet."));
  const kv = TRAIN_FIELDS.map(({ field, label }) => [label, formatTrainValue(field, chosen.train?.[field])]);
  const left = `<div class="col"><p class="note">Training setup of ${e(chosen.model.name)} (${e(chosen.id)})</p><dl class="kv">${kv
    .map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`)
    .join("")}</dl></div>`;
  const sweep = sweepSummary(scratch);
  const items: string[] = [`${sweep.runs} from-scratch run${sweep.runs === 1 ? "" : "s"} over ${sweep.models} architecture${sweep.models === 1 ? "" : "s"}`];
  if (sweep.varied.length) {
    for (const v of sweep.varied) items.push(`${e(v.label)} varied: ${e(v.values.join(", "))}`);
  } else items.push("No training hyperparameter was varied across runs");
  if (sweep.fixed.length) items.push(`Kept fixed: ${e(sweep.fixed.map((f) => `${f.label} ${f.value}`).join(" · "))}`);
  const right = `<div class="col"><p class="note">Exploration (from the recorded runs)</p>${list(items)}</div>`;
  return slide("hyper", "Hyperparameters", `<div class="content">${left}${right}</div>`);
}

function resultsSlide(runs: RunRecord[], maxRows: number): string {
  if (runs.length === 0) return slide("results", "Results", empty("No runs are recorded yet."));
  const sorted = sortRuns(runs);
  const shown = sorted.slice(0, maxRows);
  const more = sorted.length > shown.length ? `<p class="note">${sorted.length - shown.length} more run(s) in the HTML report.</p>` : "";
  return slide(
    "results",
    "Results",
    `<div class="content stack">${runsTable(shown, false, sorted.length > 8 ? "compact" : "")}${more}<p class="note">Val acc. = validation accuracy after the last epoch; test accuracy on the held-out MINICIFAR test set (CIFAR-100 pretraining: its test split, which also served for validation). A linear probe's throughput counts feature vectors, not images.</p></div>`,
  );
}

async function accuracySlide(runs: RunRecord[], reference: readonly ReferenceModel[]): Promise<string> {
  const scratch = runsOfTask(runs, "scratch");
  const spec = accuracyVsParamsSpec(runs, reference, { width: 900, height: 420, title: null });
  const note = scratch.length
    ? `<p class="note">${e(ACCURACY_SUBTITLE)}; ours: best from-scratch run of each architecture.</p>`
    : `<p class="note">No from-scratch runs are recorded yet: only the kuangliu CIFAR-10 reference points are shown.</p>`;
  return slide("accuracy", "Accuracy vs number of parameters", `<div class="content stack">${note}${await chart(spec, "acc")}</div>`);
}

async function transferSlide(runs: RunRecord[]): Promise<string> {
  const rows = transferRows(runs);
  const hasTransfer = rows.some((r) => r.task === "probe" || r.task === "finetune");
  if (!hasTransfer) {
    return slide("transfer", "Transfer learning", empty("No transfer-learning runs (linear probe or fine-tune) are recorded yet."));
  }
  const byId = new Map(runs.map((r) => [r.id, r]));
  // The table keeps the best from-scratch row only; the chart shows every architecture.
  const bestScratch = rows.filter((r) => r.task === "scratch").sort((a, b) => b.accuracy - a.accuracy)[0];
  const tableRows = rows.filter((r) => r.task !== "scratch" || r === bestScratch);
  const tbl = table(
    [{ label: "Method" }, { label: "Model" }, { label: "Trained params", num: true }, { label: "Test acc.", num: true }, { label: "Time", num: true }],
    tableRows.map((row) => {
      const r = byId.get(row.id)!;
      return {
        cells: [
          e(TRANSFER_TASK_TITLES[row.task] + (row === bestScratch && rows.filter((x) => x.task === "scratch").length > 1 ? " (best)" : "")),
          e(row.model),
          e(formatParams(r.params)),
          e(formatPercent(r.testAccuracy, 1)),
          e(formatDuration(r.trainSeconds)),
        ],
      };
    }),
    "compact wrap",
  );
  const pre = runsOfTask(runs, "pretrain");
  const preNote = pre.length
    ? `<p class="note">Backbone pretrained on ${e([...new Set(pre.map((p) => p.dataset))].join(", "))}.</p>`
    : `<p class="note">Backbones: pretrained weights loaded from checkpoints.</p>`;
  const spec = transferSpec(runs, { width: 420, height: 340, title: null });
  return slide(
    "transfer",
    "Transfer learning: scratch vs linear probe vs fine-tune",
    `<div class="content"><div class="col">${await chart(spec, "tr")}</div><div class="col wide">${tbl}${preNote}<p class="note">Best MINICIFAR test accuracy per method and model.</p></div></div>`,
  );
}

function conclusionSlide(runs: RunRecord[], reference: readonly ReferenceModel[]): string {
  const items = conclusions(runs, reference).map(e);
  return slide("conclusion", "Conclusion: size, time and accuracy", `<div class="content stack" style="font-size:20px">${list(items)}</div>`);
}

/** Build all slide sections (HTML), in order. */
export async function buildSlides(runs: RunRecord[], options: SlidesOptions): Promise<string[]> {
  const reference = options.reference ?? KUANGLIU;
  const sections = [
    titleSlide(runs, options),
    ...architectureSlides(runs),
    hyperparameterSlide(runs),
    strategySlide(runs),
    resultsSlide(runs, options.maxResultRows ?? 10),
    await accuracySlide(runs, reference),
    await compromiseSlide(runs),
    await transferSlide(runs),
    conclusionSlide(runs, reference),
  ];
  const n = sections.length;
  return sections.map((s, i) =>
    i === 0 ? s : s.replace(/<\/section>$/, `<footer><span>${e(options.title)}</span><span>${i + 1} / ${n}</span></footer></section>`),
  );
}


