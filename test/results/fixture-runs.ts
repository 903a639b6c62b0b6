/**
 * The report's fixture runs (test/fixtures/report/runs/*.json, records of a real full-profile build), read
 * through the SQLite results store: saved into an in-memory store and listed back, as the report reads them.
 */
import * as fs from "fs";
import * as path from "path";
import { openStore } from "../../src/results/store";
import type { RunRecord } from "../../src/results/types";

export const FIXTURE_RUNS_DIR = path.join(__dirname, "..", "fixtures", "report", "runs");

/** The fixture records as written (plain JSON), sorted by id. */
export function fixtureRecords(): RunRecord[] {
  return fs
    .readdirSync(FIXTURE_RUNS_DIR)
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(fs.readFileSync(path.join(FIXTURE_RUNS_DIR, f), "utf8")) as RunRecord)
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** The fixture records after a round trip through a results store. */
export function fixtureRuns(): RunRecord[] {
  const store = openStore(":memory:");
  try {
    for (const r of fixtureRecords()) store.saveRun(r);
    return store.listRuns();
  } finally {
    store.close();
  }
}
