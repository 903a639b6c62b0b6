/**
 * The build's execution cache, like Quarto's `freeze: auto`: an executed notebook is reused when nothing it depends
 * on has changed. Its key is the SHA-256 of
 *   - the notebook file's bytes (every cell's code and markdown),
 *   - the parameters it runs with (canonical JSON),
 *   - every source file it imports, followed through relative imports: `../dist/train/sweep` in a notebook is
 *     src/train/sweep.ts, which imports ./experiments, … (path and content of each),
 *   - the native addon's sources (native/src, native/binding.gyp) when src/backend/onednn.ts, which loads it, is
 *     among them,
 *   - package-lock.json (the versions of tfjs and every other package).
 * The key and its parts are stored in the executed notebook's metadata (`minicifar_lab.cache_key`,
 * `minicifar_lab.cache_parts`, so that a stale notebook can say what changed); a notebook is reused only when its executed copy exists, finished with status "ok",
 * and carries the same key.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { joinSource, readNotebook, sortKeys } from "./nbformat";
import { runNotebook, type RunNotebookOptions } from "./run";

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']*)["']/gm;
const EXTENSIONS = [".ts", ".tsx", ".js", ".json", "/index.ts", "/index.js"];

/** Relative import specifiers of a piece of TypeScript/JavaScript. */
export function relativeImports(code: string): string[] {
  return [...code.matchAll(IMPORT)].map((m) => m[1]);
}

function resolveFile(base: string): string | undefined {
  if (fs.existsSync(base) && fs.statSync(base).isFile()) return base;
  for (const ext of EXTENSIONS) if (fs.existsSync(base + ext) && fs.statSync(base + ext).isFile()) return base + ext;
  return undefined;
}

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? listFiles(path.join(dir, d.name)) : [path.join(dir, d.name)]));
}

export interface DependencyOptions {
  /** Repository root (holds src/ and dist/). */
  root: string;
}

/**
 * The source files a notebook depends on: its relative imports, with `<root>/dist/…` mapped to `<root>/src/…`
 * (the notebooks import the compiled library), then every relative import of those files, recursively. Sorted,
 * absolute paths. An import that resolves to no file is listed as it is (so that creating it changes the key).
 */
export function notebookDependencies(notebookFile: string, o: DependencyOptions): string[] {
  const nb = readNotebook(notebookFile);
  const dir = path.dirname(path.resolve(notebookFile));
  const dist = path.join(o.root, "dist") + path.sep;
  const src = path.join(o.root, "src") + path.sep;
  const seen = new Set<string>();
  const queue: string[] = [];
  const add = (from: string, spec: string) => {
    let target = path.resolve(from, spec);
    if (target.startsWith(dist) || target === dist.slice(0, -1)) target = src + target.slice(dist.length);
    const file = resolveFile(target) ?? `${target} (missing)`;
    if (!seen.has(file)) {
      seen.add(file);
      if (!file.endsWith(" (missing)")) queue.push(file);
    }
  };
  for (const c of nb.cells) if (c.cell_type === "code") for (const s of relativeImports(joinSource(c.source))) add(dir, s);
  while (queue.length) {
    const f = queue.shift()!;
    if (!/\.(ts|tsx|js)$/.test(f)) continue;
    for (const s of relativeImports(fs.readFileSync(f, "utf8"))) add(path.dirname(f), s);
  }
  // The oneDNN backend loads a compiled addon by path (not an import): its sources count.
  if (seen.has(path.join(o.root, "src", "backend", "onednn.ts"))) {
    const native = path.join(o.root, "native");
    for (const f of [path.join(native, "binding.gyp"), ...listFiles(path.join(native, "src"))]) if (fs.existsSync(f)) seen.add(f);
  }
  return [...seen].sort();
}

export interface CacheKey {
  key: string;
  /** What went into the key, each with the first 16 hex digits of its SHA-256: "notebook", "parameters",
   * "package-lock.json" and every dependency (relative to the root). */
  parts: Record<string, string>;
}

const sha = (data: string | Buffer) => crypto.createHash("sha256").update(data).digest("hex").slice(0, 16);

/** The cache key of running `notebookFile` with `parameters` (see the file comment). */
export function notebookCacheKey(notebookFile: string, parameters: Record<string, unknown>, o: DependencyOptions): CacheKey {
  const parts: Record<string, string> = {
    notebook: sha(fs.readFileSync(notebookFile)),
    parameters: sha(JSON.stringify(sortKeys(parameters))),
  };
  for (const f of notebookDependencies(notebookFile, o)) parts[path.relative(o.root, f)] = f.endsWith(" (missing)") ? "missing" : sha(fs.readFileSync(f));
  const lock = path.join(o.root, "package-lock.json");
  if (fs.existsSync(lock)) parts["package-lock.json"] = sha(fs.readFileSync(lock));
  const key = crypto.createHash("sha256").update(JSON.stringify(sortKeys(parts))).digest("hex");
  return { key, parts };
}

/**
 * Why the executed copy `output` cannot be reused for `key` (undefined: it can). Reasons: it does not exist or
 * does not parse, it failed or was interrupted, it has no key (an older build), or what changed: the notebook, the
 * parameters, or the files named.
 */
export function staleReason(output: string, key: CacheKey): string | undefined {
  if (!fs.existsSync(output)) return "not executed yet";
  let meta: { status?: string; cache_key?: string; cache_parts?: Record<string, string> };
  try {
    meta = (readNotebook(output).metadata?.minicifar_lab ?? {}) as typeof meta;
  } catch (e) {
    return `the executed copy cannot be read (${(e as Error).message.split("\n")[0]})`;
  }
  if (meta.status !== "ok") return `the last run ended with status "${meta.status ?? "unknown"}"`;
  if (!meta.cache_key) return "the executed copy has no cache key";
  if (meta.cache_key === key.key) return undefined;
  const old = meta.cache_parts ?? {};
  const changed = [...new Set([...Object.keys(old), ...Object.keys(key.parts)])].filter((k) => old[k] !== key.parts[k]).sort();
  const named = changed.map((k) => (k === "notebook" ? "the notebook" : k === "parameters" ? "the parameters" : k));
  return named.length ? `changed: ${named.slice(0, 4).join(", ")}${named.length > 4 ? ` and ${named.length - 4} more` : ""}` : "its cache key changed";
}

export interface RunNotebooksOptions extends Omit<RunNotebookOptions, "cache" | "parameters"> {
  /** Notebooks in order. */
  notebooks: string[];
  /** Where the executed copies go (same file names). */
  outDir: string;
  parameters: Record<string, unknown>;
  /** Repository root (src/, dist/, package-lock.json). */
  root: string;
  /** Execute every notebook, cached or not. */
  force?: boolean;
}

export interface NotebookOutcome {
  notebook: string;
  output: string;
  /** "executed" (with the reason) or "reused". */
  how: "executed" | "reused";
  reason?: string;
  /** Seconds of execution (0 when reused). */
  seconds: number;
}

/**
 * Executes notebooks in order, reusing each one whose executed copy is current (`staleReason`). The notebooks
 * read what earlier ones recorded (the results store), so once one is executed, every later one is executed too.
 * A failing notebook throws (`NotebookCellError`), its partial copy written with status "failed", so the next
 * build runs it again.
 */
export async function runNotebooks(o: RunNotebooksOptions): Promise<NotebookOutcome[]> {
  const { notebooks, outDir, parameters, root, force, ...runOptions } = o;
  const log = o.log ?? (() => undefined);
  const out: NotebookOutcome[] = [];
  let upstream = false;
  for (const nb of notebooks) {
    const output = path.join(outDir, path.basename(nb));
    const key = notebookCacheKey(nb, parameters, { root });
    const reason = force ? "--force" : upstream ? "an earlier notebook ran again, and its results feed this one" : staleReason(output, key);
    if (!reason) {
      log(`== ${path.basename(nb)}: reused (unchanged since its last run; --force executes it)`);
      out.push({ notebook: nb, output, how: "reused", seconds: 0 });
      continue;
    }
    log(`== ${path.basename(nb)}: executing (${reason})`);
    const r = await runNotebook(nb, output, { ...runOptions, parameters, cache: key });
    upstream = true;
    out.push({ notebook: nb, output, how: "executed", reason, seconds: r.seconds });
  }
  return out;
}
