/**
 * Executed notebooks (nbformat 4) → HTML fragments for the report.
 * Output rules: stream and text/plain are escaped, text/html is kept as HTML, SVG is
 * inlined, PNG/JPEG become data URIs, Vega-Lite specs are re-rendered to SVG (falling back
 * to the bundle's SVG), errors are shown.
 */
import * as fs from "fs";
import * as path from "path";
import { Marked, type Tokens } from "marked";
import type { TopLevelSpec } from "vega-lite";
import { renderSvg } from "../charts/render";
import { applyCarriageReturns, escapeHtml, inlineSvg, joinSource, slugify, stripAnsi } from "./html";

export interface NotebookOutput {
  output_type: "stream" | "display_data" | "execute_result" | "error" | string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  execution_count?: number | null;
}

export interface NotebookCell {
  cell_type: "markdown" | "code" | "raw" | string;
  source: string | string[];
  outputs?: NotebookOutput[];
  execution_count?: number | null;
  metadata?: Record<string, unknown>;
}

export interface Notebook {
  cells: NotebookCell[];
  metadata?: Record<string, unknown>;
  nbformat?: number;
  nbformat_minor?: number;
}

/** Read and minimally validate an .ipynb file. */
export function readNotebook(file: string): Notebook {
  if (!fs.existsSync(file)) throw new Error(`notebook not found: ${file}`);
  let nb: unknown;
  try {
    nb = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`notebook ${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (!nb || typeof nb !== "object" || !Array.isArray((nb as Notebook).cells)) {
    throw new Error(`notebook ${file} has no "cells" array (is it nbformat 4?)`);
  }
  return nb as Notebook;
}

/** The notebook's title: its first markdown heading, else the file name. */
export function notebookTitle(nb: Notebook, file: string): string {
  for (const cell of nb.cells) {
    if (cell.cell_type !== "markdown") continue;
    const m = /^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$/m.exec(joinSource(cell.source));
    if (m) return m[1].replace(/[*_`]/g, "").trim();
  }
  return path.basename(file).replace(/\.ipynb$/i, "");
}

const DANGEROUS_HTML = /<\s*\/?\s*(script|iframe|object|embed|style|link|meta|base|form)\b/i;

/** Markdown → HTML. Raw HTML in markdown is kept unless it carries active content, which is escaped. */
const markdown = new Marked({
  gfm: true,
  async: false,
  renderer: {
    html(token: Tokens.HTML | Tokens.Tag): string {
      return DANGEROUS_HTML.test(token.text) ? escapeHtml(token.text) : token.text;
    },
  },
});

export function renderMarkdown(src: string): string {
  return markdown.parse(src, { async: false }) as string;
}

/** Preference order among the mime types of one display bundle. */
export const MIME_ORDER = [
  "application/vnd.vegalite.v5+json",
  "application/vnd.vegalite.v4+json",
  "text/html",
  "image/svg+xml",
  "image/png",
  "image/jpeg",
  "text/markdown",
  "text/latex",
  "application/json",
  "text/plain",
] as const;

function preText(text: string, cls: string): string {
  return `<pre class="${cls}">${escapeHtml(applyCarriageReturns(stripAnsi(text)))}</pre>`;
}

let svgCounter = 0;
function nextSvgPrefix(prefix: string): string {
  svgCounter += 1;
  return `${prefix}s${svgCounter}-`;
}

/** Render one display bundle (display_data / execute_result) to HTML. */
export async function renderBundle(data: Record<string, unknown>, idPrefix = "o"): Promise<string> {
  const vlMime = MIME_ORDER.find((m) => m.startsWith("application/vnd.vegalite") && data[m] !== undefined);
  if (vlMime) {
    const raw = data[vlMime];
    try {
      const spec = (typeof raw === "string" ? JSON.parse(raw) : raw) as TopLevelSpec;
      const svg = await renderSvg(spec);
      return `<div class="output chart">${inlineSvg(svg, nextSvgPrefix(idPrefix))}</div>`;
    } catch (err) {
      const fallback = data["image/svg+xml"];
      if (fallback !== undefined) {
        return `<div class="output chart">${inlineSvg(joinSource(fallback), nextSvgPrefix(idPrefix))}</div>`;
      }
      return `<div class="output chart-error">${preText(`Vega-Lite chart could not be rendered: ${(err as Error).message}`, "error")}</div>`;
    }
  }
  if (data["text/html"] !== undefined) return `<div class="output html">${joinSource(data["text/html"])}</div>`;
  if (data["image/svg+xml"] !== undefined) {
    return `<div class="output svg">${inlineSvg(joinSource(data["image/svg+xml"]), nextSvgPrefix(idPrefix))}</div>`;
  }
  for (const mime of ["image/png", "image/jpeg"]) {
    if (data[mime] !== undefined) {
      const b64 = joinSource(data[mime]).replace(/\s+/g, "");
      return `<div class="output image"><img alt="output image" src="data:${mime};base64,${b64}"></div>`;
    }
  }
  if (data["text/markdown"] !== undefined) return `<div class="output markdown">${renderMarkdown(joinSource(data["text/markdown"]))}</div>`;
  if (data["text/latex"] !== undefined) return `<div class="output">${preText(joinSource(data["text/latex"]), "text")}</div>`;
  if (data["application/json"] !== undefined) {
    return `<div class="output">${preText(JSON.stringify(data["application/json"], null, 2), "text")}</div>`;
  }
  if (data["text/plain"] !== undefined) return `<div class="output">${preText(joinSource(data["text/plain"]), "text")}</div>`;
  const types = Object.keys(data).join(", ") || "none";
  return `<div class="output">${preText(`(output with unsupported mime types: ${types})`, "text")}</div>`;
}

/** Render one output of a code cell. */
export async function renderOutput(out: NotebookOutput, idPrefix = "o"): Promise<string> {
  switch (out.output_type) {
    case "stream": {
      const name = out.name === "stderr" ? "stderr" : "stdout";
      return `<div class="output stream">${preText(joinSource(out.text), `stream ${name}`)}</div>`;
    }
    case "display_data":
    case "execute_result":
      return renderBundle(out.data ?? {}, idPrefix);
    case "error": {
      const head = `${out.ename ?? "Error"}: ${out.evalue ?? ""}`;
      const tb = (out.traceback ?? []).map((l) => stripAnsi(l)).join("\n");
      return `<div class="output error">${preText(tb.includes(out.evalue ?? "\u0000") ? tb : `${head}\n${tb}`.trim(), "error")}</div>`;
    }
    default:
      return `<div class="output">${preText(`(unknown output type "${out.output_type}")`, "text")}</div>`;
  }
}

/** Merge consecutive stream outputs of the same stream, as Jupyter front-ends display them. */
function mergeStreams(outputs: NotebookOutput[]): NotebookOutput[] {
  const merged: NotebookOutput[] = [];
  for (const o of outputs) {
    const last = merged[merged.length - 1];
    if (o.output_type === "stream" && last?.output_type === "stream" && last.name === o.name) {
      merged[merged.length - 1] = { ...last, text: joinSource(last.text) + joinSource(o.text) };
    } else merged.push(o);
  }
  return merged;
}

/** Render a notebook's cells (not the section wrapper). */
export async function renderNotebookCells(nb: Notebook, idPrefix: string): Promise<string> {
  const parts: string[] = [];
  for (const cell of nb.cells) {
    const src = joinSource(cell.source);
    if (cell.cell_type === "markdown") {
      parts.push(`<div class="cell markdown">${renderMarkdown(src)}</div>`);
    } else if (cell.cell_type === "code") {
      const count = cell.execution_count == null ? " " : String(cell.execution_count);
      const firstLine = src.split("\n").find((l) => l.trim() !== "") ?? "";
      const summary = `<span class="prompt">In [${escapeHtml(count)}]</span> <code>${escapeHtml(firstLine.length > 90 ? firstLine.slice(0, 87) + "…" : firstLine)}</code>`;
      const outputs: string[] = [];
      for (const o of mergeStreams(cell.outputs ?? [])) outputs.push(await renderOutput(o, idPrefix));
      const hasSource = src.trim() !== "";
      parts.push(
        `<div class="cell code">` +
          (hasSource ? `<details class="source"><summary>${summary}</summary><pre class="code">${escapeHtml(src)}</pre></details>` : "") +
          (outputs.length ? `<div class="outputs">${outputs.join("\n")}</div>` : "") +
          `</div>`,
      );
    } else if (src.trim() !== "") {
      parts.push(`<div class="cell raw"><pre class="raw">${escapeHtml(src)}</pre></div>`);
    }
  }
  return parts.join("\n");
}

export interface RenderedNotebook {
  id: string;
  title: string;
  file: string;
  html: string;
}

/** Read and render one executed notebook. `index` keeps section ids unique. */
export async function renderNotebookFile(file: string, index = 0): Promise<RenderedNotebook> {
  const nb = readNotebook(file);
  const title = notebookTitle(nb, file);
  const id = `nb${index + 1}-${slugify(path.basename(file).replace(/\.ipynb$/i, ""))}`;
  const html = await renderNotebookCells(nb, `${id}-`);
  return { id, title, file, html };
}
