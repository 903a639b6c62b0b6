/**
 * buildReport: executed notebooks + run records → report.html, slides.html, slides.pdf.
 * The report trains nothing; it reads notebooks and records and fills templates.
 */
import * as fs from "fs";
import * as path from "path";
import type { RunRecord } from "../results/types";
import { writeFileAtomic } from "../results/store";
import { KUANGLIU } from "../results/kuangliu";
import { accuracyVsParamsSpec, trainingCurvesSpec, transferSpec } from "../charts/specs";
import { renderSvg } from "../charts/render";
import { escapeHtml, inlineSvg } from "./html";
import { renderNotebookFile, type RenderedNotebook } from "./notebook";
import { DEFAULT_TEMPLATES_DIR, readTemplateFile, renderTemplate } from "./template";
import { buildSlides, runsTable, sortRuns } from "./slides";
import { conclusions, runsOfTask } from "./analysis";
import { describeOverflows, htmlToPdf, type SlideOverflow } from "./pdf";

export interface BuildReportOptions {
  /** Executed .ipynb files, in report order. */
  notebooks: string[];
  runs: RunRecord[];
  outDir: string;
  templatesDir?: string;
  title?: string;
  /** Write slides.pdf (default true). */
  pdf?: boolean;
  /** Chromium binary (default: LAB_CHROMIUM, else /usr/bin/chromium). */
  chromium?: string;
  /** Print progress and the PDF message (default true). */
  log?: (line: string) => void;
}

export interface BuildReportResult {
  /** Path of report.html. */
  html: string;
  /** Path of slides.html. */
  slidesHtml: string;
  /** Path of slides.pdf when written. */
  pdf?: string;
  /** Why the PDF was not written. */
  pdfError?: string;
  /** Number of slide pages. */
  slides: number;
  /** Slides whose content does not fit (measured in Chromium while printing the PDF). */
  overflows?: SlideOverflow[];
}

export const DEFAULT_TITLE = "MINICIFAR: training CNNs from scratch and by transfer in TensorFlow.js";

function subtitleFor(runs: RunRecord[]): string {
  const classes = [...new Set(runs.filter((r) => r.dataset === "minicifar").map((r) => r.model.numClasses))];
  return `MINICIFAR${classes.length === 1 ? ` (${classes[0]} classes)` : ""} · accuracy vs model size, training time and transfer learning`;
}

async function summarySection(runs: RunRecord[]): Promise<string> {
  const parts: string[] = [`<section class="summary" id="results-summary"><h2>Results summary</h2>`];
  if (runs.length === 0) {
    parts.push(`<p class="note">No run records were found, so there are no results to summarise.</p></section>`);
    return parts.join("");
  }
  parts.push(runsTable(sortRuns(runs), true, "data"));
  parts.push(`<figure class="chart">${inlineSvg(await renderSvg(accuracyVsParamsSpec(runs, KUANGLIU)), "sum-acc-")}</figure>`);
  const scratch = runsOfTask(runs, "scratch").filter((r) => r.epochs?.length);
  if (scratch.length) parts.push(`<figure class="chart">${inlineSvg(await renderSvg(trainingCurvesSpec(scratch)), "sum-curves-")}</figure>`);
  if (runs.some((r) => r.task === "probe" || r.task === "finetune")) {
    parts.push(`<figure class="chart">${inlineSvg(await renderSvg(transferSpec(runs)), "sum-transfer-")}</figure>`);
  } else parts.push(`<p class="note">No transfer-learning runs (linear probe or fine-tune) are recorded.</p>`);
  parts.push(`<h3>Conclusion</h3><ul>${conclusions(runs).map((c) => `<li>${escapeHtml(c)}</li>`).join("")}</ul></section>`);
  return parts.join("\n");
}

/** Build the HTML report, the slides HTML and (when Chromium is available) the slides PDF. */
export async function buildReport(options: BuildReportOptions): Promise<BuildReportResult> {
  const templatesDir = options.templatesDir ?? (process.env.LAB_TEMPLATES ? path.resolve(process.env.LAB_TEMPLATES) : DEFAULT_TEMPLATES_DIR);
  const title = options.title ?? DEFAULT_TITLE;
  const log = options.log ?? ((line: string) => console.log(line));
  const outDir = path.resolve(options.outDir);
  const runs = options.runs;
  const generated = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const subtitle = subtitleFor(runs);

  // Read every template up front so a broken template fails before any work.
  const reportCss = readTemplateFile(templatesDir, "report.css");
  const slidesCss = readTemplateFile(templatesDir, "slides.css");

  const notebooks: RenderedNotebook[] = [];
  for (let i = 0; i < options.notebooks.length; i++) notebooks.push(await renderNotebookFile(options.notebooks[i], i));

  const toc =
    `<ol>` +
    notebooks.map((nb) => `<li><a href="#${nb.id}">${escapeHtml(nb.title)}</a> <span class="note">(${escapeHtml(path.basename(nb.file))})</span></li>`).join("") +
    `<li><a href="#results-summary">Results summary</a></li></ol>`;
  const body =
    notebooks
      .map(
        (nb) =>
          `<section class="notebook" id="${nb.id}"><p class="source-file">Notebook: ${escapeHtml(path.basename(nb.file))}</p>\n${nb.html}\n</section>`,
      )
      .join("\n") +
    "\n" +
    (await summarySection(runs));

  const reportHtml = renderTemplate(templatesDir, "report.html", {
    title: escapeHtml(title),
    subtitle: escapeHtml(subtitle),
    generated: escapeHtml(generated),
    css: reportCss,
    toc,
    body,
  });
  const sections = await buildSlides(runs, { title, subtitle, generated });
  const slidesHtml = renderTemplate(templatesDir, "slides.html", {
    title: escapeHtml(title),
    subtitle: escapeHtml(subtitle),
    generated: escapeHtml(generated),
    css: slidesCss,
    slides: sections.join("\n"),
  });

  const htmlFile = path.join(outDir, "report.html");
  const slidesFile = path.join(outDir, "slides.html");
  writeFileAtomic(htmlFile, reportHtml);
  writeFileAtomic(slidesFile, slidesHtml);
  log(`report: ${htmlFile}`);
  log(`slides: ${slidesFile} (${sections.length} slides)`);

  const result: BuildReportResult = { html: htmlFile, slidesHtml: slidesFile, slides: sections.length };
  const pdfFile = path.join(outDir, "slides.pdf");
  const pdf = options.pdf ?? true ? await htmlToPdf(slidesHtml, pdfFile, { chromium: options.chromium }) : undefined;
  if (pdf?.pdf) {
    result.pdf = pdf.pdf;
    result.overflows = pdf.overflows ?? [];
    log(`pdf: ${pdf.pdf}`);
    for (const line of describeOverflows(result.overflows)) log(line);
  } else {
    if (pdf) {
      result.pdfError = pdf.error ?? "PDF not written";
      log(result.pdfError);
    }
    // An older slides.pdf no longer matches slides.html: remove it rather than leave it looking current.
    if (fs.existsSync(pdfFile)) {
      fs.rmSync(pdfFile);
      log(`removed the outdated ${pdfFile}: it no longer matches the new slides.html${pdf ? "" : " (--no-pdf)"}`);
    }
  }
  return result;
}
