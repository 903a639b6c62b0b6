/**
 * Writes run records from a results store as JSON files, one per run (test fixtures of real builds):
 *   node --import tsx scripts/export-runs.ts OUT_DIR [--profile P] [--db FILE]
 * File names are the run ids with "/" replaced by "__". Writes are atomic.
 */
import * as fs from "fs";
import * as path from "path";
import { loadRuns, resultsDb, writeFileAtomic } from "../src/results/store";

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};
const profile = opt("--profile");
const db = opt("--db") ?? resultsDb();
const out = args[0];
if (!out || args.length !== 1) {
  console.error("usage: node --import tsx scripts/export-runs.ts OUT_DIR [--profile P] [--db FILE]");
  process.exit(2);
}
const runs = loadRuns({ ...(profile ? { profile } : {}), status: ["done", "diverged"] }, db);
fs.mkdirSync(out, { recursive: true });
for (const r of runs) writeFileAtomic(path.join(out, `${r.id.replace(/\//g, "__")}.json`), JSON.stringify(r, null, 1) + "\n");
console.log(`${runs.length} runs of ${db} → ${out}`);
