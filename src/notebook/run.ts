/**
 * Execute a notebook top to bottom on a fresh tslab kernel, papermill style: inject parameters, run each code
 * cell, record outputs and timings, write the executed notebook (also the partial one when a cell fails).
 */
import * as path from "path";
import { KernelClient, KernelDiedError, CellTimeoutError } from "./kernel";
import { joinSource, readNotebook, writeNotebook, type CodeCell, type Notebook, type Output } from "./nbformat";
import { OutputCollector } from "./outputs";
import { injectParameters, INJECTED_TAG } from "./parameters";
import { kernelNameOf, resolveTslab } from "./resolve";
import type { CacheKey } from "./cache";

export interface RunNotebookOptions {
  parameters?: Record<string, unknown>;
  /** Kernel working directory; default: the input notebook's folder (so `import … from "../src/x"` works). */
  cwd?: string;
  /** Extra environment variables for the kernel process. */
  env?: Record<string, string>;
  /** Per-cell time limit in ms (default: none). */
  cellTimeoutMs?: number;
  /** Time limit for the kernel to start answering (default 60 s). */
  startTimeoutMs?: number;
  /** Time limit for the whole notebook in ms, kernel start included (default: none). */
  notebookTimeoutMs?: number;
  /** The build cache's key (`cache.ts`), stored in the executed notebook's metadata. */
  cache?: CacheKey;
  /** Progress lines (one per cell, plus warnings). */
  log?: (line: string) => void;
  /** Also pass cell outputs (stream text) to `log` as they arrive. */
  logOutput?: boolean;
  /** tslab binary; default env LAB_TSLAB, then <repo>/node_modules/.bin/tslab, then PATH. */
  tslabPath?: string;
}

export interface RunNotebookResult {
  output: string;
  /** Number of code cells executed. */
  cells: number;
  seconds: number;
}

/** A cell failed (error, abort, timeout or kernel death). The partial notebook has been written to `output`. */
export class NotebookCellError extends Error {
  constructor(
    readonly notebook: string,
    /** 1-based index among all cells of the executed notebook (including markdown and injected cells). */
    readonly cellIndex: number,
    /** 1-based index among the code cells. */
    readonly codeCellNumber: number,
    readonly codeCells: number,
    readonly source: string,
    readonly errorText: string,
    readonly output: string,
  ) {
    super(
      `notebook ${notebook} failed at cell ${cellIndex} (code cell ${codeCellNumber} of ${codeCells}); ` +
        `partial notebook written to ${output}\n` +
        `--- cell source ---\n${source.replace(/\n$/, "")}\n` +
        `--- error ---\n${trimKernelFrames(errorText).replace(/\n$/, "")}`,
    );
    this.name = "NotebookCellError";
  }
}

function errorTextOf(outputs: Output[]): string {
  const parts: string[] = [];
  for (const o of outputs) {
    if (o.output_type === "stream" && o.name === "stderr") parts.push(joinSource(o.text));
    if (o.output_type === "error") parts.push(o.traceback.length ? o.traceback.join("\n") : `${o.ename}: ${o.evalue}`);
  }
  return parts.join("").trim();
}

/** Drop stack frames inside tslab and node:vm from an error text (the notebook keeps the full text). */
export function trimKernelFrames(text: string): string {
  return text
    .split("\n")
    .filter((l) => !/^\s+at .*(node:vm|tslab[\\/]dist|sigintHandlersWrap|node:internal)/.test(l))
    .join("\n");
}

function clearExecution(nb: Notebook): void {
  for (const c of nb.cells) {
    if (c.cell_type !== "code") continue;
    c.outputs = [];
    c.execution_count = null;
    delete c.metadata.execution;
  }
}

/** Run `input`, write the executed notebook to `output`. */
export async function runNotebook(input: string, output: string, opts: RunNotebookOptions = {}): Promise<RunNotebookResult> {
  const t0 = Date.now();
  const log = opts.log ?? (() => undefined);
  const name = path.basename(input).replace(/\.ipynb$/, "");
  const nb = readNotebook(input);
  kernelNameOf(nb, input);
  const tslab = resolveTslab({ tslabPath: opts.tslabPath });

  const injected = injectParameters(nb, opts.parameters);
  for (const w of injected?.warnings ?? []) log(`[${name}] warning: ${w}`);
  clearExecution(nb);
  const meta: Record<string, unknown> = {
    input_path: input,
    output_path: output,
    parameters: opts.parameters ?? {},
    start_time: new Date(t0).toISOString(),
    status: "running",
    ...(opts.cache ? { cache_key: opts.cache.key, cache_parts: opts.cache.parts } : {}),
  };
  const deadline = opts.notebookTimeoutMs && opts.notebookTimeoutMs > 0 ? t0 + opts.notebookTimeoutMs : Infinity;
  nb.metadata.minicifar_lab = meta;

  const runnable = nb.cells
    .map((c, i) => ({ cell: c, index: i }))
    .filter((x): x is { cell: CodeCell; index: number } => x.cell.cell_type === "code" && joinSource(x.cell.source).trim() !== "");

  const finish = (status: string, extra: Record<string, unknown> = {}) => {
    Object.assign(meta, { status, end_time: new Date().toISOString(), duration: (Date.now() - t0) / 1000, ...extra });
    writeNotebook(output, nb);
  };

  log(`[${name}] starting tslab kernel (cwd ${opts.cwd ?? path.dirname(path.resolve(input))})`);
  let kernel: KernelClient;
  try {
    kernel = await KernelClient.start({
      binary: tslab,
      cwd: path.resolve(opts.cwd ?? path.dirname(path.resolve(input))),
      env: opts.env,
      startTimeoutMs: Math.min(opts.startTimeoutMs ?? 60_000, Math.max(1, deadline - Date.now())),
    });
  } catch (err) {
    throw new Error(`notebook ${input}: cannot start the tslab kernel: ${(err as Error).message}`);
  }

  const languageInfo = kernel.kernelInfo?.language_info;
  if (languageInfo && typeof languageInfo === "object") nb.metadata.language_info = languageInfo as Record<string, unknown>;
  let counter = 0;
  let graceMs = 3000;
  try {
    for (let k = 0; k < runnable.length; k++) {
      const { cell, index } = runnable[k];
      const tCell = Date.now();
      const collector = new OutputCollector(kernel.displays);
      cell.outputs = collector.outputs;
      const label = `[${name}] cell ${k + 1}/${runnable.length}`;
      const source = joinSource(cell.source);
      const fail = (text: string): never => {
        finish("failed", { failed_cell: index + 1, error: text });
        log(`${label} failed after ${((Date.now() - tCell) / 1000).toFixed(1)}s`);
        throw new NotebookCellError(input, index + 1, k + 1, runnable.length, source, text, output);
      };
      let res;
      const left = deadline - Date.now();
      const notebookLimited = left < (opts.cellTimeoutMs && opts.cellTimeoutMs > 0 ? opts.cellTimeoutMs : Infinity);
      try {
        if (left <= 0) throw new CellTimeoutError(0);
        res = await kernel.execute(source, {
          timeoutMs: notebookLimited ? Math.max(1, left) : opts.cellTimeoutMs,
          collector,
          onOutput: opts.logOutput
            ? (o) => {
                if (o.output_type === "stream") {
                  for (const line of joinSource(o.text).replace(/\n$/, "").split("\n")) log(`${label} ${o.name === "stderr" ? "!" : "|"} ${line}`);
                } else if (o.output_type === "display_data") {
                  log(`${label} | <display ${Object.keys(o.data).join(", ")}>`);
                }
              }
            : undefined,
        });
      } catch (err) {
        const e = err as Error;
        // The cell was sent (it may have printed): it gets its number, as nbclient numbers a started cell.
        if (left > 0) cell.execution_count = ++counter;
        if (e instanceof CellTimeoutError) graceMs = 300; // the kernel is busy: don't wait long for a clean exit
        const prefix =
          e instanceof CellTimeoutError
            ? notebookLimited
              ? `timeout: the notebook did not finish within its limit of ${(opts.notebookTimeoutMs! / 1000).toFixed(1)} s; `
              : "timeout: "
            : e instanceof KernelDiedError
              ? ""
              : "kernel error: ";
        const partial = errorTextOf(cell.outputs);
        return fail(`${prefix}${e.message}${partial ? `\n${partial}` : ""}`);
      }
      counter++;
      cell.execution_count = res.executionCount ?? counter;
      cell.metadata.execution = res.timing;
      const secs = ((Date.now() - tCell) / 1000).toFixed(1);
      if (res.status === "abort") return fail("the kernel aborted the request (status \"abort\")");
      if (res.status !== "ok") {
        const reply = res.reply as { ename?: string; evalue?: string; traceback?: string[] };
        const text = errorTextOf(cell.outputs) || [reply.ename, reply.evalue].filter(Boolean).join(": ") || "cell failed (no error text)";
        return fail(text);
      }
      const tag = cell.metadata.tags?.includes(INJECTED_TAG) ? " (injected parameters)" : "";
      log(`${label}${tag} ${secs}s`);
    }
    finish("ok");
  } finally {
    await kernel.shutdown(graceMs);
  }
  const seconds = (Date.now() - t0) / 1000;
  log(`[${name}] done: ${runnable.length} cells in ${seconds.toFixed(1)}s → ${output}`);
  return { output, cells: runnable.length, seconds };
}
