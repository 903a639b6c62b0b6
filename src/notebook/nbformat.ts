/**
 * nbformat v4 reading and writing. Kept to what Jupyter itself writes: 1-space indented JSON, sorted keys
 * inside cells are not required, `source` and multi-line text stored as lists of lines.
 */
import { randomBytes } from "crypto";
import * as fs from "fs";
import { writeFileAtomic } from "../results/store";

export type MultilineString = string | string[];
export type MimeBundle = Record<string, unknown>;

export interface StreamOutput {
  output_type: "stream";
  name: "stdout" | "stderr";
  text: MultilineString;
}
export interface DisplayDataOutput {
  output_type: "display_data";
  data: MimeBundle;
  metadata: Record<string, unknown>;
  /** In memory only (never written): the display id used by update_display_data. */
  transient?: { display_id?: string };
}
export interface ExecuteResultOutput {
  output_type: "execute_result";
  data: MimeBundle;
  metadata: Record<string, unknown>;
  execution_count: number | null;
}
export interface ErrorOutput {
  output_type: "error";
  ename: string;
  evalue: string;
  traceback: string[];
}
export type Output = StreamOutput | DisplayDataOutput | ExecuteResultOutput | ErrorOutput;

export interface CellMetadata {
  tags?: string[];
  execution?: Record<string, string>;
  [key: string]: unknown;
}
export interface CodeCell {
  cell_type: "code";
  id?: string;
  metadata: CellMetadata;
  source: MultilineString;
  outputs: Output[];
  execution_count: number | null;
}
export interface OtherCell {
  cell_type: "markdown" | "raw";
  id?: string;
  metadata: CellMetadata;
  source: MultilineString;
  attachments?: Record<string, unknown>;
}
export type Cell = CodeCell | OtherCell;

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: {
    kernelspec?: { name?: string; display_name?: string; language?: string; [k: string]: unknown };
    language_info?: Record<string, unknown>;
    [key: string]: unknown;
  };
  cells: Cell[];
}

/** Join a multi-line string as stored in a notebook. */
export function joinSource(s: MultilineString | undefined): string {
  if (s === undefined) return "";
  return Array.isArray(s) ? s.join("") : s;
}

/** Split text into lines keeping the trailing "\n" on each (Jupyter's on-disk form). */
export function splitLines(s: string): string[] {
  if (s === "") return [];
  const parts = s.split(/(?<=\n)/);
  return parts;
}

/** Line and column of a character offset, both 1-based. */
function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return { line, column };
}

/** Parse notebook JSON text; `file` is used in error messages only. */
export function parseNotebook(text: string, file = "<notebook>"): Notebook {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const m = /position (\d+)/.exec(msg);
    let where = "";
    if (m) {
      const { line, column } = position(text, Number(m[1]));
      where = ` at line ${line} column ${column} (position ${m[1]})`;
    } else if (/Unexpected end of JSON input/.test(msg)) {
      const { line, column } = position(text, text.length);
      where = ` at end of input, line ${line} column ${column}`;
    }
    throw new Error(`notebook ${file} is not valid JSON${where}: ${msg}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new Error(`notebook ${file} is not a JSON object`);
  }
  const nb = raw as Partial<Notebook>;
  if (typeof nb.nbformat !== "number") {
    throw new Error(`notebook ${file} has no "nbformat" version; only nbformat 4 is supported`);
  }
  if (nb.nbformat < 4) {
    throw new Error(`notebook ${file} is nbformat ${nb.nbformat}; only nbformat 4 is supported (convert it with \`jupyter nbconvert --to notebook\`)`);
  }
  if (nb.nbformat > 4) {
    throw new Error(`notebook ${file} is nbformat ${nb.nbformat}; only nbformat 4 is supported`);
  }
  if (!Array.isArray(nb.cells)) {
    throw new Error(`notebook ${file} has no "cells" list`);
  }
  const minor = typeof nb.nbformat_minor === "number" ? nb.nbformat_minor : 5;
  nb.cells.forEach((c, i) => {
    if (!c || typeof c !== "object" || typeof (c as Cell).cell_type !== "string") {
      throw new Error(`notebook ${file}: cell ${i + 1} has no cell_type`);
    }
    c.metadata ??= {};
    if (minor >= 5 && typeof c.id !== "string") c.id = randomBytes(8).toString("hex");
    if (c.source === undefined) c.source = "";
    if (c.cell_type === "code") {
      c.outputs ??= [];
      if (c.execution_count === undefined) c.execution_count = null;
    }
  });
  return {
    nbformat: 4,
    nbformat_minor: minor,
    metadata: nb.metadata && typeof nb.metadata === "object" ? nb.metadata : {},
    cells: nb.cells,
  };
}

export function readNotebook(file: string): Notebook {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read notebook ${file}: ${(err as Error).message}`);
  }
  return parseNotebook(text, file);
}

function normalizeOutput(o: Output, ): Record<string, unknown> {
  switch (o.output_type) {
    case "stream":
      return { name: o.name, output_type: "stream", text: splitLines(joinSource(o.text)) };
    case "display_data":
      return { data: normalizeBundle(o.data), metadata: o.metadata ?? {}, output_type: "display_data" };
    case "execute_result":
      return {
        data: normalizeBundle(o.data),
        execution_count: o.execution_count ?? null,
        metadata: o.metadata ?? {},
        output_type: "execute_result",
      };
    case "error":
      return { ename: o.ename, evalue: o.evalue, output_type: "error", traceback: o.traceback ?? [] };
    default:
      return o as unknown as Record<string, unknown>;
  }
}

/** Text mime types are stored as lists of lines; JSON mime types (e.g. vega-lite) stay objects. */
function normalizeBundle(data: MimeBundle): MimeBundle {
  const out: MimeBundle = {};
  for (const key of Object.keys(data ?? {}).sort()) {
    const v = data[key];
    const isJson = key === "application/json" || /\+json$/.test(key);
    out[key] = !isJson && (typeof v === "string" || Array.isArray(v)) ? splitLines(joinSource(v as MultilineString)) : v;
  }
  return out;
}

/** Deep copy with object keys sorted, as Jupyter writes them (`sort_keys=True`). */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** The on-disk JSON form of a notebook (Jupyter style: 1-space indent, trailing newline). */
export function serializeNotebook(nb: Notebook): string {
  const cells = nb.cells.map((c) => {
    const base: Record<string, unknown> = { cell_type: c.cell_type };
    if (c.cell_type === "code") base.execution_count = c.execution_count ?? null;
    if (c.id !== undefined) base.id = c.id;
    base.metadata = c.metadata ?? {};
    if (c.cell_type === "code") base.outputs = (c.outputs ?? []).map(normalizeOutput);
    if (c.cell_type !== "code" && c.attachments) base.attachments = c.attachments;
    base.source = splitLines(joinSource(c.source));
    return base;
  });
  const doc = { cells, metadata: nb.metadata ?? {}, nbformat: 4, nbformat_minor: nb.nbformat_minor ?? 5 };
  return JSON.stringify(sortKeys(doc), null, 1) + "\n";
}

export function writeNotebook(file: string, nb: Notebook): void {
  writeFileAtomic(file, serializeNotebook(nb));
}
