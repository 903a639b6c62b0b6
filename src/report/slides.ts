/**
 * 16:9 slides generated from run records: title, architecture, hyperparameters, results,
 * accuracy vs parameters, transfer learning, conclusion. A slide whose data is missing says so.
 */
import type { RunRecord } from "../results/types";
import { KUANGLIU, type ReferenceModel } from "../results/kuangliu";
import { ACCURACY_SUBTITLE, accuracyVsParamsSpec, transferRows, transferSpec, TRANSFER_TASK_TITLES } from "../charts/specs";
import { renderSvg } from "../charts/render";
import { escapeHtml, inlineSvg } from "./html";
import { formatDuration, formatParams, formatPercent, formatRate } from "./format";
import {
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

function architectureSlide(runs: RunRecord[]): string {
  const scratch = runsOfTask(runs, "scratch");
  const chosen = chosenScratchRun(runs);
  if (!chosen) return slide("architecture", "Chosen architecture", empty("No from-scratch runs are recorded, so there is no architecture to describe yet."));
  const m = chosen.model;
  const kv: [string, string][] = [
    ["Family", m.family],
    ["Model", m.name],
    ["Stages", String(m.blocks.length)],
    ["Blocks per stage", m.blocks.join(" / ")],
    ["Widths (channels)", m.widths.join(" / ")],
    ["Activation", m.activation],
    ["Dropout", m.dropout ? String(m.dropout) : "none"],
    ["Classes", String(m.numClasses)],
    ["Parameters", `${formatParams(chosen.params)} (${chosen.params.toLocaleString("en-US")})`],
    ["Validation accuracy", formatPercent(finalValAccuracy(chosen))],
    ["Test accuracy", formatPercent(chosen.testAccuracy)],
    ["Epochs", String(chosen.epochs?.length ?? chosen.train.epochs)],
  ];
  const left = `<div class="col"><dl class="kv">${kv.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join("")}</dl></div>`;
  const candidates = bestPerModel(scratch).slice(0, 8);
  const right =
    candidates.length > 1
      ? `<div class="col wide"><p class="note">Architectures trained from scratch (best run of each; chosen = highest validation accuracy, so the test set plays no part in the choice)</p>` +
        table(
          [{ label: "Model" }, { label: "Blocks" }, { label: "Widths" }, { label: "Act." }, { label: "Params", num: true }, { label: "Test acc.", num: true }],
          candidates.map((r) => ({
            highlight: r.id === chosen.id,
            cells: [e(r.model.name), e(r.model.blocks.join("/")), e(r.model.widths.join("/")), e(r.model.activation), e(formatParams(r.params)), e(formatPercent(r.testAccuracy, 1))],
          })),
          "compact",
        ) +
        "</div>"
      : `<div class="col wide"><p class="note">Only one architecture was trained from scratch.</p></div>`;
  return slide("architecture", `Chosen architecture: ${m.name}`, `<div class="content">${left}${right}</div>`);
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
  const spec = transferSpec(runs, { width: 520, height: 340, title: null });
  return slide(
    "transfer",
    "Transfer learning: scratch vs linear probe vs fine-tune",
    `<div class="content"><div class="col wide">${await chart(spec, "tr")}</div><div class="col">${tbl}${preNote}<p class="note">Best MINICIFAR test accuracy per method and model.</p></div></div>`,
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
    architectureSlide(runs),
    hyperparameterSlide(runs),
    resultsSlide(runs, options.maxResultRows ?? 10),
    await accuracySlide(runs, reference),
    await transferSlide(runs),
    conclusionSlide(runs, reference),
  ];
  const n = sections.length;
  return sections.map((s, i) =>
    i === 0 ? s : s.replace(/<\/section>$/, `<footer><span>${e(options.title)}</span><span>${i + 1} / ${n}</span></footer></section>`),
  );
}


