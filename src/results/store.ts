/**
 * File-backed results store: one JSON file per run under a results directory
 * (default `reports/results/`). Writes are atomic (temp file + rename).
 */
import * as fs from "fs";
import * as path from "path";
import type { RunRecord } from "./types";

export const DEFAULT_RESULTS_DIR = path.resolve(__dirname, "..", "..", "reports", "results");

/** Directory for results: `LAB_RESULTS_DIR`, else `reports/results/`. */
export function resultsDir(): string {
  return process.env.LAB_RESULTS_DIR ? path.resolve(process.env.LAB_RESULTS_DIR) : DEFAULT_RESULTS_DIR;
}

/** Write `data` to `file` atomically: temp file in the same folder, then rename. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

function fileFor(dir: string, id: string): string {
  const safe = id.replace(/[^A-Za-z0-9._-]+/g, "__");
  return path.join(dir, `${safe}.json`);
}

/** Save (or replace) one run record. Returns the file written. */
export function saveRun(run: RunRecord, dir = resultsDir()): string {
  if (!run.id) throw new Error("saveRun: the run record has no id");
  const file = fileFor(dir, run.id);
  writeFileAtomic(file, JSON.stringify(run, null, 2) + "\n");
  return file;
}

/** Load every run record in `dir`, sorted by id. A file that is not a valid record is an error naming it. */
export function loadRuns(dir = resultsDir()): RunRecord[] {
  if (!fs.existsSync(dir)) return [];
  const runs: RunRecord[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    if (!name.endsWith(".json")) continue;
    const file = path.join(dir, name);
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
      throw new Error(`results file ${file} is not valid JSON: ${(err as Error).message}`);
    }
    const rec = parsed as Partial<RunRecord>;
    for (const field of ["id", "task", "model", "params", "testAccuracy"] as const) {
      if (rec[field] === undefined) throw new Error(`results file ${file} has no field "${field}"`);
    }
    runs.push(rec as RunRecord);
  }
  return runs.sort((a, b) => a.id.localeCompare(b.id));
}
