/**
 * The results store: one SQLite file (default `reports/results.sqlite`, `LAB_RESULTS_DB` overrides) holding every
 * training run, its per-epoch metrics and its final metrics. Notebooks, charts and the report read it through the
 * typed API below, which returns the plain `RunRecord`s of `types.ts`.
 *
 * Schema (version `SCHEMA_VERSION`, kept in SQLite's `user_version`; `application_id` marks the file as ours):
 *   runs     one row per run: id, task, dataset, profile, the full model and train specs as JSON, the model name,
 *            family and knobs as columns, params, FLOPs per image, weights' size in bytes, backend, seed, package
 *            versions, status (running | done | failed | diverged), error text, started_at, ended_at;
 *   epochs   (run_id, epoch) → train/val loss and accuracy, learning rate, seconds;
 *   metrics  run_id → test accuracy and loss, training seconds and throughput, inference ms per image, peak RSS;
 *   run_summary  a view: one flat row per run (runs ⋈ metrics), for ad-hoc SQL in a notebook.
 * `MIGRATIONS` is the ordered list of schema steps; opening an older file applies the missing ones in one
 * transaction, and a file from a newer version of the lab is refused.
 *
 * Writes are transactions (BEGIN IMMEDIATE): a run and its epochs and metrics are written all or nothing. The file
 * is in WAL mode, so readers never wait for a writer; a writer that finds another process writing waits
 * `busyTimeoutMs` (default 5 s), then fails with a `ResultsStoreError` of code "locked", having written nothing.
 *
 * A run id recorded again (saveRun or startRun) REPLACES the old run, its epochs and metrics in the same
 * transaction (a notebook re-run records the same ids); pass `{ onDuplicate: "refuse" }` to get a
 * `ResultsStoreError` of code "duplicate" instead, with the old run left as it was.
 */
import * as fs from "fs";
import * as path from "path";
import Database from "better-sqlite3";
import type { EpochMetrics, ModelSpec, RunRecord, RunStatus, RunVersions, TrainSpec } from "./types";
import { RUN_STATUSES } from "./types";

const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const DEFAULT_RESULTS_DB = path.join(REPO_ROOT, "reports", "results.sqlite");

/** The results database: `LAB_RESULTS_DB`, else `reports/results.sqlite`. */
export function resultsDb(): string {
  return process.env.LAB_RESULTS_DB ? path.resolve(process.env.LAB_RESULTS_DB) : DEFAULT_RESULTS_DB;
}

/**
 * Create `dir` and its missing parents, one level at a time. (Node's `mkdirSync(…, { recursive: true })` never
 * returns under a path like /proc/x, where mkdir answers ENOENT.) Errors name the directory that could not be made.
 */
export function ensureDir(dir: string): void {
  const missing: string[] = [];
  let d = path.resolve(dir);
  while (!fs.existsSync(d)) {
    missing.unshift(d);
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  if (fs.existsSync(d) && !fs.statSync(d).isDirectory()) throw new Error(`cannot create ${dir}: ${d} is a file, not a directory`);
  for (const m of missing) {
    try {
      fs.mkdirSync(m);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST" && fs.statSync(m).isDirectory()) continue;
      throw new Error(`cannot create the directory ${m}: ${(err as Error).message}`);
    }
  }
}

/** Write `data` to `file` atomically: temp file in the same folder, then rename. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  ensureDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Schema and migrations

/** "MCLR" (minicifar-lab results) in SQLite's application_id header field. */
export const APPLICATION_ID = 0x4d434c52;

export interface Migration {
  /** The schema version this migration produces (1, 2, …, in order). */
  version: number;
  description: string;
  sql: string;
}

/** Every schema step, oldest first. Append new ones; never edit a released one. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "runs, epochs and final metrics",
    sql: `
      CREATE TABLE runs (
        id TEXT PRIMARY KEY NOT NULL,
        task TEXT NOT NULL,
        dataset TEXT NOT NULL,
        profile TEXT NOT NULL,
        model_name TEXT NOT NULL,
        family TEXT NOT NULL,
        num_classes INTEGER,
        block TEXT,
        blocks TEXT,
        widths TEXT,
        width_multiplier REAL,
        activation TEXT,
        dropout REAL,
        block_dropout REAL,
        growth INTEGER,
        reduction REAL,
        optimizer TEXT,
        lr REAL,
        momentum REAL,
        weight_decay REAL,
        planned_epochs INTEGER,
        batch_size INTEGER,
        schedule TEXT,
        augment TEXT,
        seed INTEGER,
        model_json TEXT NOT NULL CHECK (json_valid(model_json)),
        train_json TEXT NOT NULL CHECK (json_valid(train_json)),
        params INTEGER NOT NULL,
        flops INTEGER,
        size_bytes INTEGER,
        backend TEXT NOT NULL,
        tfjs_version TEXT,
        node_version TEXT,
        lab_version TEXT,
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'diverged')),
        error TEXT,
        started_at TEXT,
        ended_at TEXT
      ) STRICT;
      CREATE TABLE epochs (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        epoch INTEGER NOT NULL,
        train_loss REAL,
        train_accuracy REAL,
        val_loss REAL,
        val_accuracy REAL,
        lr REAL,
        seconds REAL,
        PRIMARY KEY (run_id, epoch)
      ) STRICT;
      CREATE TABLE metrics (
        run_id TEXT PRIMARY KEY NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        test_accuracy REAL,
        test_loss REAL,
        train_seconds REAL,
        train_images_per_second REAL,
        inference_ms_per_image REAL,
        peak_rss_bytes INTEGER
      ) STRICT;
    `,
  },
  {
    version: 2,
    description: "query indexes and the run_summary view",
    sql: `
      CREATE INDEX runs_profile_task ON runs (profile, task);
      CREATE INDEX runs_family ON runs (family);
      CREATE INDEX runs_status ON runs (status);
      CREATE VIEW run_summary AS
        SELECT r.id, r.task, r.dataset, r.profile, r.model_name, r.family, r.status, r.params, r.flops, r.size_bytes,
               r.backend, r.seed, r.lr, r.batch_size, r.planned_epochs,
               (SELECT count(*) FROM epochs e WHERE e.run_id = r.id) AS epochs,
               m.test_accuracy, m.test_loss, m.train_seconds, m.train_images_per_second, m.inference_ms_per_image,
               m.peak_rss_bytes, r.started_at, r.ended_at
        FROM runs r LEFT JOIN metrics m ON m.run_id = r.id;
    `,
  },
];

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/**
 * Bring `db` to schema `target` (default: the latest), applying the missing migrations in one IMMEDIATE
 * transaction. Exported for tests (which make older files with it); `openStore` calls it.
 */
export function migrate(db: Database.Database, target = SCHEMA_VERSION): number {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current >= target) return current; // nothing to do: take no write lock (another process may be writing)
  const step = db.transaction(() => {
    const from = db.pragma("user_version", { simple: true }) as number; // re-read under the write lock
    for (const m of MIGRATIONS) {
      if (m.version <= from || m.version > target) continue;
      db.exec(m.sql);
    }
    if (from < target) {
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${target}`);
    }
    return Math.max(from, target);
  });
  return step.immediate();
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

export type ResultsStoreErrorCode = "not-a-results-db" | "newer-schema" | "locked" | "duplicate" | "unknown-run" | "bad-record" | "cannot-open";

export class ResultsStoreError extends Error {
  constructor(
    readonly code: ResultsStoreErrorCode,
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = "ResultsStoreError";
  }
}

const SQLITE_MAGIC = Buffer.from("SQLite format 3\0", "latin1");

function notOurs(file: string, why: string): ResultsStoreError {
  return new ResultsStoreError("not-a-results-db", file, `${file} is not a results database: ${why}; it was left untouched (move it away, or set LAB_RESULTS_DB to another file)`);
}

/** Refuse, without writing to it, a file that is not an SQLite database. */
function checkHeader(file: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return; // not there yet: it will be created
  }
  if (!st.isFile()) throw notOurs(file, "it is not a regular file");
  if (st.size === 0) return; // an empty file is an empty database (SQLite's own convention)
  const head = Buffer.alloc(16);
  const fd = fs.openSync(file, "r");
  let n: number;
  try {
    n = fs.readSync(fd, head, 0, 16, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (n < 16 || !head.equals(SQLITE_MAGIC)) {
    const shown = JSON.stringify(head.subarray(0, n).toString("latin1").replace(/[^\x20-\x7e]/g, "."));
    throw notOurs(file, `it is not an SQLite file (it starts with ${shown}, not "SQLite format 3")`);
  }
}

function sqliteCode(err: unknown): string {
  return typeof (err as { code?: unknown })?.code === "string" ? (err as { code: string }).code : "";
}

// ---------------------------------------------------------------------------------------------------------------
// The typed API

/** Runs to select; each field takes one value or a list (any of). */
export interface RunFilter {
  task?: RunRecord["task"] | RunRecord["task"][];
  family?: string | string[];
  status?: RunStatus | RunStatus[];
  profile?: string | string[];
  dataset?: string | string[];
  /** ModelSpec.name, e.g. "ResNet8-w8". */
  modelName?: string | string[];
}

/** What startRun records: the run's identity and set-up, known before training. */
export type RunStart = Pick<RunRecord, "id" | "task" | "dataset" | "model" | "train" | "params" | "backend" | "profile"> &
  Partial<Pick<RunRecord, "flops" | "sizeBytes" | "versions" | "startedAt">>;

/** What finishRun records: the final metrics. */
export type FinalMetrics = Pick<RunRecord, "testAccuracy" | "trainSeconds" | "trainImagesPerSecond"> &
  Partial<Pick<RunRecord, "testLoss" | "inferenceMsPerImage" | "peakRssBytes" | "finishedAt">>;

export interface WriteOptions {
  /** A run id already in the store: "replace" it (default) or "refuse" with a ResultsStoreError "duplicate". */
  onDuplicate?: "replace" | "refuse";
}

/** Metrics `best` and `bestPer` rank by; accuracies are maximised, the others minimised. */
export type RankKey = "testAccuracy" | "finalValAccuracy" | "testLoss" | "trainSeconds" | "inferenceMsPerImage" | "peakRssBytes" | "params" | "flops";

/** One flat row per run (the run_summary view), for tables and charts. */
export interface RunSummary {
  id: string;
  task: RunRecord["task"];
  dataset: string;
  profile: string;
  modelName: string;
  family: string;
  status: RunStatus;
  params: number;
  flops: number | null;
  sizeBytes: number | null;
  backend: string;
  seed: number | null;
  lr: number | null;
  batchSize: number | null;
  plannedEpochs: number | null;
  /** Epochs recorded. */
  epochs: number;
  testAccuracy: number | null;
  testLoss: number | null;
  trainSeconds: number | null;
  trainImagesPerSecond: number | null;
  inferenceMsPerImage: number | null;
  peakRssBytes: number | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface OpenOptions {
  /** How long a write waits for another process's write transaction before failing (default 5000 ms). */
  busyTimeoutMs?: number;
}

interface RunRow {
  id: string;
  task: string;
  dataset: string;
  profile: string;
  model_json: string;
  train_json: string;
  params: number;
  flops: number | null;
  size_bytes: number | null;
  backend: string;
  tfjs_version: string | null;
  node_version: string | null;
  lab_version: string | null;
  status: RunStatus;
  error: string | null;
  started_at: string | null;
  ended_at: string | null;
  test_accuracy: number | null;
  test_loss: number | null;
  train_seconds: number | null;
  train_images_per_second: number | null;
  inference_ms_per_image: number | null;
  peak_rss_bytes: number | null;
}

interface EpochRow {
  epoch: number;
  train_loss: number | null;
  train_accuracy: number | null;
  val_loss: number | null;
  val_accuracy: number | null;
  lr: number | null;
  seconds: number | null;
}

const FILTER_COLUMNS: Record<keyof RunFilter, string> = {
  task: "r.task",
  family: "r.family",
  status: "r.status",
  profile: "r.profile",
  dataset: "r.dataset",
  modelName: "r.model_name",
};

const RUN_SELECT = `
  SELECT r.id, r.task, r.dataset, r.profile, r.model_json, r.train_json, r.params, r.flops, r.size_bytes, r.backend,
         r.tfjs_version, r.node_version, r.lab_version, r.status, r.error, r.started_at, r.ended_at,
         m.test_accuracy, m.test_loss, m.train_seconds, m.train_images_per_second, m.inference_ms_per_image, m.peak_rss_bytes
  FROM runs r LEFT JOIN metrics m ON m.run_id = r.id`;

/** NULL (SQLite's NaN) back to NaN for required numbers. */
const num = (v: number | null | undefined) => (v === null || v === undefined ? NaN : v);
/** A finite number or null: what the integer and optional columns store. */
const opt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? null : v);
const int = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? null : Math.round(v));
const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));

function whereOf(filter: RunFilter): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  for (const [key, value] of Object.entries(filter) as [keyof RunFilter, unknown][]) {
    if (value === undefined) continue;
    const column = FILTER_COLUMNS[key];
    if (!column) throw new Error(`unknown run filter "${key}"; valid: ${Object.keys(FILTER_COLUMNS).join(", ")}`);
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0) {
      clauses.push("0");
      continue;
    }
    clauses.push(`${column} IN (${values.map(() => "?").join(", ")})`);
    params.push(...values.map(String));
  }
  return { sql: clauses.length ? ` WHERE ${clauses.join(" AND ")}` : "", params };
}

function checkRecord(r: Partial<RunRecord>, what: string): void {
  const bad = (why: string) => new ResultsStoreError("bad-record", "", `${what}: ${why}`);
  if (!r || typeof r !== "object") throw bad("not an object");
  if (typeof r.id !== "string" || !r.id) throw bad("the run record has no id");
  for (const k of ["task", "dataset", "backend", "profile"] as const) {
    if (typeof r[k] !== "string") throw bad(`run "${r.id}" has no string field "${k}"`);
  }
  if (!r.model || typeof r.model.name !== "string" || typeof r.model.family !== "string") throw bad(`run "${r.id}" has no model spec with a name and a family`);
  if (!r.train || typeof r.train !== "object") throw bad(`run "${r.id}" has no train spec`);
  if (typeof r.params !== "number" || !Number.isFinite(r.params)) throw bad(`run "${r.id}" has no finite "params"`);
  if (r.status !== undefined && !RUN_STATUSES.includes(r.status)) throw bad(`run "${r.id}" has status "${r.status}"; valid: ${RUN_STATUSES.join(", ")}`);
}

function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version?: string }).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Versions of tfjs, Node and minicifar-lab in this process. */
export function currentVersions(tfjsVersion: string): RunVersions {
  return { tfjs: tfjsVersion, node: process.versions.node, lab: packageVersion() };
}

export class ResultsStore {
  /** The raw better-sqlite3 connection, for ad-hoc SQL (e.g. `store.db.prepare("SELECT * FROM run_summary").all()`). */
  readonly db: Database.Database;
  /** Absolute path of the file (or ":memory:"). */
  readonly file: string;
  readonly busyTimeoutMs: number;

  constructor(file: string, options: OpenOptions = {}) {
    this.file = file === ":memory:" ? file : path.resolve(file);
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    if (this.file !== ":memory:") {
      checkHeader(this.file);
      try {
        ensureDir(path.dirname(this.file));
      } catch (err) {
        throw new ResultsStoreError("cannot-open", this.file, `cannot open the results store ${this.file}: ${(err as Error).message}`);
      }
    }
    let db: Database.Database;
    try {
      db = new Database(this.file, { timeout: this.busyTimeoutMs });
    } catch (err) {
      throw this.wrap(err);
    }
    this.db = db;
    try {
      this.checkSchema();
      if (this.file !== ":memory:") db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("foreign_keys = ON");
      this.guard(() => migrate(db));
    } catch (err) {
      db.close();
      throw this.wrap(err);
    }
  }

  /** Refuse (before writing anything) a database that is not ours or is newer than this code. */
  private checkSchema(): void {
    const version = this.db.pragma("user_version", { simple: true }) as number;
    const appId = this.db.pragma("application_id", { simple: true }) as number;
    if (version === 0 && appId === 0) {
      const tables = (this.db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]).map((t) => t.name);
      if (tables.length) throw notOurs(this.file, `it is an SQLite database of something else (tables: ${tables.join(", ")})`);
      return; // a new, empty database
    }
    if (appId !== APPLICATION_ID) throw notOurs(this.file, `it is an SQLite database of another application (application_id ${appId})`);
    if (version > SCHEMA_VERSION) {
      throw new ResultsStoreError(
        "newer-schema",
        this.file,
        `${this.file} has results schema version ${version}, newer than the version ${SCHEMA_VERSION} this minicifar-lab knows; ` +
          `it was written by a newer minicifar-lab: update this checkout (git pull && npm ci), or set LAB_RESULTS_DB to another file`,
      );
    }
  }

  /** The schema version of the open file. */
  get schemaVersion(): number {
    return this.db.pragma("user_version", { simple: true }) as number;
  }

  private wrap(err: unknown): Error {
    if (err instanceof ResultsStoreError) return err;
    const code = sqliteCode(err);
    const msg = (err as Error)?.message ?? String(err);
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
      return new ResultsStoreError(
        "locked",
        this.file,
        `results store ${this.file} is locked by another process (still busy after ${this.busyTimeoutMs} ms); nothing was written. ` +
          `Wait for the other writer (a notebook or build still training?) to finish, then retry`,
      );
    }
    if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")) return notOurs(this.file, `SQLite reports "${msg}"`);
    if (code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_PERM") || code.startsWith("SQLITE_IOERR")) {
      return new ResultsStoreError("cannot-open", this.file, `cannot open the results store ${this.file} for writing: SQLite reports "${msg}" (${code}); check that its folder exists and is writable, or set LAB_RESULTS_DB to another file`);
    }
    return err instanceof Error ? err : new Error(msg);
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw this.wrap(err);
    }
  }

  /** Run `fn` in one write transaction (BEGIN IMMEDIATE): all of it is written, or nothing. */
  transaction<T>(fn: () => T): T {
    return this.guard(() => this.db.transaction(fn).immediate());
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // --- writing ---------------------------------------------------------------------------------------------------

  private statusOf(id: string): RunStatus | undefined {
    return (this.db.prepare("SELECT status FROM runs WHERE id = ?").get(id) as { status: RunStatus } | undefined)?.status;
  }

  private insertRun(r: RunStart & Partial<Pick<RunRecord, "status" | "error" | "finishedAt">>, options: WriteOptions): void {
    const old = this.statusOf(r.id);
    if (old !== undefined) {
      if (options.onDuplicate === "refuse") {
        throw new ResultsStoreError("duplicate", this.file, `run "${r.id}" is already in ${this.file} (status ${old}); refused (onDuplicate: "refuse"). Use another id, or "replace"`);
      }
      this.db.prepare("DELETE FROM runs WHERE id = ?").run(r.id); // epochs and metrics go with it (ON DELETE CASCADE)
    }
    const m: ModelSpec = r.model;
    const t: Partial<TrainSpec> = r.train ?? {};
    this.db
      .prepare(
        `INSERT INTO runs (id, task, dataset, profile, model_name, family, num_classes, block, blocks, widths, width_multiplier,
           activation, dropout, block_dropout, growth, reduction, optimizer, lr, momentum, weight_decay, planned_epochs,
           batch_size, schedule, augment, seed, model_json, train_json, params, flops, size_bytes, backend, tfjs_version,
           node_version, lab_version, status, error, started_at, ended_at)
         VALUES (@id, @task, @dataset, @profile, @model_name, @family, @num_classes, @block, @blocks, @widths, @width_multiplier,
           @activation, @dropout, @block_dropout, @growth, @reduction, @optimizer, @lr, @momentum, @weight_decay, @planned_epochs,
           @batch_size, @schedule, @augment, @seed, @model_json, @train_json, @params, @flops, @size_bytes, @backend, @tfjs_version,
           @node_version, @lab_version, @status, @error, @started_at, @ended_at)`,
      )
      .run({
        id: r.id,
        task: r.task,
        dataset: r.dataset,
        profile: r.profile,
        model_name: m.name,
        family: m.family,
        num_classes: int(m.numClasses),
        block: m.block ?? null,
        blocks: json(m.blocks),
        widths: json(m.widths),
        width_multiplier: opt(m.widthMultiplier),
        activation: m.activation ?? null,
        dropout: opt(m.dropout),
        block_dropout: opt(m.blockDropout),
        growth: int(m.growth),
        reduction: opt(m.reduction),
        optimizer: t.optimizer ?? null,
        lr: opt(t.lr),
        momentum: opt(t.momentum),
        weight_decay: opt(t.weightDecay),
        planned_epochs: int(t.epochs),
        batch_size: int(t.batchSize),
        schedule: t.schedule ?? null,
        augment: json(t.augment),
        seed: int(t.seed),
        model_json: JSON.stringify(m),
        train_json: JSON.stringify(r.train),
        params: Math.round(r.params),
        flops: int(r.flops),
        size_bytes: int(r.sizeBytes),
        backend: r.backend,
        tfjs_version: r.versions?.tfjs ?? null,
        node_version: r.versions?.node ?? null,
        lab_version: r.versions?.lab ?? null,
        status: r.status ?? "running",
        error: r.error ?? null,
        started_at: r.startedAt ?? null,
        ended_at: r.finishedAt ?? null,
      });
  }

  private upsertEpoch(id: string, e: EpochMetrics): void {
    if (!Number.isInteger(e?.epoch)) throw new ResultsStoreError("bad-record", this.file, `run "${id}": epoch number ${JSON.stringify(e?.epoch)} is not an integer`);
    this.db
      .prepare(
        `INSERT INTO epochs (run_id, epoch, train_loss, train_accuracy, val_loss, val_accuracy, lr, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, epoch) DO UPDATE SET train_loss = excluded.train_loss, train_accuracy = excluded.train_accuracy,
           val_loss = excluded.val_loss, val_accuracy = excluded.val_accuracy, lr = excluded.lr, seconds = excluded.seconds`,
      )
      .run(id, e.epoch, e.trainLoss, e.trainAccuracy, e.valLoss, e.valAccuracy, e.lr, e.seconds);
  }

  private upsertMetrics(id: string, f: Partial<FinalMetrics>): void {
    this.db
      .prepare(
        `INSERT INTO metrics (run_id, test_accuracy, test_loss, train_seconds, train_images_per_second, inference_ms_per_image, peak_rss_bytes)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id) DO UPDATE SET test_accuracy = excluded.test_accuracy, test_loss = excluded.test_loss,
           train_seconds = excluded.train_seconds, train_images_per_second = excluded.train_images_per_second,
           inference_ms_per_image = excluded.inference_ms_per_image, peak_rss_bytes = excluded.peak_rss_bytes`,
      )
      .run(id, f.testAccuracy ?? null, f.testLoss ?? null, f.trainSeconds ?? null, f.trainImagesPerSecond ?? null, f.inferenceMsPerImage ?? null, int(f.peakRssBytes));
  }

  private requireRun(id: string): RunStatus {
    const status = this.statusOf(id);
    if (status === undefined) throw new ResultsStoreError("unknown-run", this.file, `no run "${id}" in ${this.file}; startRun it first`);
    return status;
  }

  /**
   * Save a whole run (row, epochs, final metrics) in one transaction; status defaults to "done". A run with the
   * same id is replaced (or refused, with `onDuplicate: "refuse"`).
   */
  saveRun(run: RunRecord, options: WriteOptions = {}): void {
    checkRecord(run, "saveRun");
    const status = run.status ?? "done";
    this.transaction(() => {
      this.insertRun({ ...run, status }, options);
      for (const e of run.epochs ?? []) this.upsertEpoch(run.id, e);
      if (status !== "running") this.upsertMetrics(run.id, run);
    });
  }

  /** Record a run that starts now, with status "running" (a run with the same id is replaced, or refused). */
  startRun(run: RunStart, options: WriteOptions = {}): void {
    checkRecord({ ...run, epochs: [] } as Partial<RunRecord>, "startRun");
    this.transaction(() => this.insertRun({ ...run, startedAt: run.startedAt ?? new Date().toISOString(), status: "running" }, options));
  }

  /** Record (or re-record) one epoch of a running run. */
  addEpoch(id: string, epoch: EpochMetrics): void {
    this.transaction(() => {
      const status = this.requireRun(id);
      if (status !== "running") throw new ResultsStoreError("bad-record", this.file, `run "${id}" is ${status}: epochs can only be added to a running run`);
      this.upsertEpoch(id, epoch);
    });
  }

  /** End a run with its final metrics: status "done" (or "diverged", with an error text). */
  finishRun(id: string, final: FinalMetrics, options: { status?: "done" | "diverged"; error?: string } = {}): void {
    this.transaction(() => {
      this.requireRun(id);
      this.upsertMetrics(id, final);
      this.db.prepare("UPDATE runs SET status = ?, error = ?, ended_at = ? WHERE id = ?").run(options.status ?? "done", options.error ?? null, final.finishedAt ?? new Date().toISOString(), id);
    });
  }

  /** End a run that failed (an exception) or diverged, keeping its epochs and the error text. */
  failRun(id: string, error: unknown, status: "failed" | "diverged" = "failed"): void {
    const text = error instanceof Error ? error.message : String(error);
    this.transaction(() => {
      this.requireRun(id);
      this.db.prepare("UPDATE runs SET status = ?, error = ?, ended_at = ? WHERE id = ?").run(status, text, new Date().toISOString(), id);
    });
  }

  /** Delete a run (its epochs and metrics too). Returns whether it was there. */
  deleteRun(id: string): boolean {
    return this.transaction(() => this.db.prepare("DELETE FROM runs WHERE id = ?").run(id).changes > 0);
  }

  // --- reading ---------------------------------------------------------------------------------------------------

  private toRecord(row: RunRow): RunRecord {
    const epochs = (this.db.prepare("SELECT epoch, train_loss, train_accuracy, val_loss, val_accuracy, lr, seconds FROM epochs WHERE run_id = ? ORDER BY epoch").all(row.id) as EpochRow[]).map(
      (e): EpochMetrics => ({
        epoch: e.epoch,
        trainLoss: num(e.train_loss),
        trainAccuracy: num(e.train_accuracy),
        valLoss: num(e.val_loss),
        valAccuracy: num(e.val_accuracy),
        lr: num(e.lr),
        seconds: num(e.seconds),
      }),
    );
    const rec: RunRecord = {
      id: row.id,
      task: row.task as RunRecord["task"],
      dataset: row.dataset,
      model: JSON.parse(row.model_json) as ModelSpec,
      train: JSON.parse(row.train_json) as TrainSpec,
      params: row.params,
      backend: row.backend,
      profile: row.profile,
      status: row.status,
      epochs,
      testAccuracy: num(row.test_accuracy),
      trainSeconds: num(row.train_seconds),
      trainImagesPerSecond: num(row.train_images_per_second),
    };
    if (row.flops !== null) rec.flops = row.flops;
    if (row.size_bytes !== null) rec.sizeBytes = row.size_bytes;
    if (row.tfjs_version !== null || row.node_version !== null || row.lab_version !== null) {
      rec.versions = { tfjs: row.tfjs_version ?? "", node: row.node_version ?? "", lab: row.lab_version ?? "" };
    }
    if (row.error !== null) rec.error = row.error;
    if (row.started_at !== null) rec.startedAt = row.started_at;
    if (row.test_loss !== null) rec.testLoss = row.test_loss;
    if (row.inference_ms_per_image !== null) rec.inferenceMsPerImage = row.inference_ms_per_image;
    if (row.peak_rss_bytes !== null) rec.peakRssBytes = row.peak_rss_bytes;
    if (row.ended_at !== null) rec.finishedAt = row.ended_at;
    return rec;
  }

  /** One run, or undefined. */
  getRun(id: string): RunRecord | undefined {
    return this.guard(() => {
      const row = this.db.prepare(`${RUN_SELECT} WHERE r.id = ?`).get(id) as RunRow | undefined;
      return row && this.toRecord(row);
    });
  }

  /** The runs that match `filter` (every field optional; a list means any of), sorted by id. */
  listRuns(filter: RunFilter = {}): RunRecord[] {
    return this.guard(() => {
      const w = whereOf(filter);
      // One read transaction: the runs and their epochs come from the same snapshot.
      return this.db.transaction(() => (this.db.prepare(`${RUN_SELECT}${w.sql} ORDER BY r.id`).all(...w.params) as RunRow[]).map((r) => this.toRecord(r))).deferred();
    });
  }

  /** One flat row per matching run (the run_summary view), sorted by id: for console.table and charts. */
  summaries(filter: RunFilter = {}): RunSummary[] {
    return this.guard(() => {
      const w = whereOf(filter);
      const rows = this.db.prepare(`SELECT s.* FROM run_summary s JOIN runs r ON r.id = s.id${w.sql} ORDER BY s.id`).all(...w.params) as Record<string, unknown>[];
      return rows.map((s) => ({
        id: s.id as string,
        task: s.task as RunRecord["task"],
        dataset: s.dataset as string,
        profile: s.profile as string,
        modelName: s.model_name as string,
        family: s.family as string,
        status: s.status as RunStatus,
        params: s.params as number,
        flops: s.flops as number | null,
        sizeBytes: s.size_bytes as number | null,
        backend: s.backend as string,
        seed: s.seed as number | null,
        lr: s.lr as number | null,
        batchSize: s.batch_size as number | null,
        plannedEpochs: s.planned_epochs as number | null,
        epochs: s.epochs as number,
        testAccuracy: s.test_accuracy as number | null,
        testLoss: s.test_loss as number | null,
        trainSeconds: s.train_seconds as number | null,
        trainImagesPerSecond: s.train_images_per_second as number | null,
        inferenceMsPerImage: s.inference_ms_per_image as number | null,
        peakRssBytes: s.peak_rss_bytes as number | null,
        startedAt: s.started_at as string | null,
        finishedAt: s.ended_at as string | null,
      }));
    });
  }

  /** The best matching run by `key` (accuracies highest, the rest lowest; runs without the value are skipped; ties: first id). */
  best(key: RankKey, filter: RunFilter = {}): RunRecord | undefined {
    return pickBest(this.listRuns(filter), key);
  }

  /** The best run by `key` in each group (e.g. per family), sorted by group name. */
  bestPer(group: "family" | "modelName" | "task" | "profile", key: RankKey, filter: RunFilter = {}): RunRecord[] {
    const groups = new Map<string, RunRecord[]>();
    for (const r of this.listRuns(filter)) {
      const g = group === "family" ? r.model.family : group === "modelName" ? r.model.name : r[group];
      groups.set(g, [...(groups.get(g) ?? []), r]);
    }
    return [...groups.keys()]
      .sort()
      .map((g) => pickBest(groups.get(g)!, key))
      .filter((r): r is RunRecord => r !== undefined);
  }
}

function rankValue(r: RunRecord, key: RankKey): number | undefined {
  const v = key === "finalValAccuracy" ? r.epochs[r.epochs.length - 1]?.valAccuracy : r[key];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function pickBest(runs: RunRecord[], key: RankKey): RunRecord | undefined {
  const higher = key === "testAccuracy" || key === "finalValAccuracy";
  let best: RunRecord | undefined;
  let bestV = 0;
  for (const r of runs) {
    const v = rankValue(r, key);
    if (v === undefined) continue;
    if (best === undefined || (higher ? v > bestV : v < bestV)) {
      best = r;
      bestV = v;
    }
  }
  return best;
}

/** Open (creating and migrating if needed) the results store; `file` defaults to `resultsDb()`. Close it when done. */
export function openStore(file: string = resultsDb(), options: OpenOptions = {}): ResultsStore {
  return new ResultsStore(file, options);
}

function withStore<T>(file: string, fn: (s: ResultsStore) => T): T {
  const store = openStore(file);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

/** Save one whole run record to the store at `file` (opened and closed here). Returns the file. */
export function saveRun(run: RunRecord, file: string = resultsDb(), options: WriteOptions = {}): string {
  withStore(file, (s) => s.saveRun(run, options));
  return path.resolve(file);
}

/** The runs of the store at `file` that match `filter`, sorted by id; [] when the file does not exist yet. */
export function loadRuns(filter: RunFilter = {}, file: string = resultsDb()): RunRecord[] {
  if (!fs.existsSync(file)) return [];
  return withStore(file, (s) => s.listRuns(filter));
}

/** One run of the store at `file`, or undefined. */
export function getRun(id: string, file: string = resultsDb()): RunRecord | undefined {
  if (!fs.existsSync(file)) return undefined;
  return withStore(file, (s) => s.getRun(id));
}
