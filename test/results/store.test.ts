import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import Database from "better-sqlite3";
import {
  MIGRATIONS,
  ResultsStoreError,
  SCHEMA_VERSION,
  getRun,
  loadRuns,
  migrate,
  openStore,
  resultsDb,
  saveRun,
  type ResultsStore,
} from "../../src/results/store";
import type { EpochMetrics, RunRecord } from "../../src/results/types";
import { fixtureRecords } from "./fixture-runs";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "results-store-"));
const sha = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const asDone = (r: RunRecord): RunRecord => ({ ...r, status: "done" });

function withStore<T>(fn: (s: ResultsStore, file: string) => T, file = path.join(tmp(), "results.sqlite")): T {
  const s = openStore(file);
  try {
    return fn(s, file);
  } finally {
    s.close();
  }
}

const epoch = (n: number, o: Partial<EpochMetrics> = {}): EpochMetrics => ({ epoch: n, trainLoss: 1 / n, trainAccuracy: 0.3 + n / 100, valLoss: 1.1 / n, valAccuracy: 0.25 + n / 100, lr: 0.05 / n, seconds: 10 + n, ...o });

function runStart(id: string) {
  const r = fixtureRecords()[0];
  return { id, task: r.task, dataset: r.dataset, model: r.model, train: r.train, params: r.params, backend: "cpu", profile: "test", flops: 123_456, sizeBytes: 4096, versions: { tfjs: "4.22.0", node: "20.0.0", lab: "0.1.0" } };
}

test("the default store is reports/results.sqlite; LAB_RESULTS_DB overrides it; reports/.gitignore keeps it out of git", () => {
  const saved = process.env.LAB_RESULTS_DB;
  try {
    delete process.env.LAB_RESULTS_DB;
    assert.equal(resultsDb(), path.resolve(__dirname, "..", "..", "reports", "results.sqlite"));
    process.env.LAB_RESULTS_DB = "some/where.sqlite";
    assert.equal(resultsDb(), path.resolve("some/where.sqlite"));
  } finally {
    if (saved === undefined) delete process.env.LAB_RESULTS_DB;
    else process.env.LAB_RESULTS_DB = saved;
  }
  const root = path.resolve(__dirname, "..", "..");
  for (const f of ["reports/results.sqlite", "reports/results.sqlite-wal", "reports/results.sqlite-shm"]) {
    const r = require("child_process").spawnSync("git", ["check-ignore", "-q", f], { cwd: root });
    assert.equal(r.status, 0, `${f} is ignored by git`);
  }
});

test("whole records round-trip: saveRun then listRuns/getRun give the same RunRecords (status done)", () => {
  const recs = fixtureRecords();
  withStore((s) => {
    for (const r of recs) s.saveRun(r);
    assert.deepEqual(s.listRuns(), recs.map(asDone));
    assert.deepEqual(s.getRun(recs[2].id), asDone(recs[2]));
    assert.equal(s.getRun("nope"), undefined);
    // Every optional field survives too, NaN included (SQLite stores NaN as NULL).
    const full: RunRecord = {
      ...recs[0],
      id: "x/full",
      flops: 4_000_000,
      sizeBytes: 1234,
      versions: { tfjs: "4.22.0", node: "20.19.0", lab: "0.1.0" },
      status: "diverged",
      error: "training loss became NaN in epoch 2",
      startedAt: "2025-01-01T00:00:00.000Z",
      finishedAt: "2025-01-01T01:00:00.000Z",
      epochs: [epoch(1), epoch(2, { trainLoss: NaN, valLoss: Infinity })],
      testAccuracy: NaN,
      testLoss: 2.5,
      inferenceMsPerImage: 0.75,
      peakRssBytes: 512 * 2 ** 20,
    };
    s.saveRun(full);
    assert.deepEqual(s.getRun("x/full"), full);
  });
});

test("listRuns filters by task, family, status, profile, dataset and model name (a list means any of)", () => {
  const recs = fixtureRecords();
  withStore((s) => {
    for (const r of recs) s.saveRun(r);
    s.saveRun({ ...recs[0], id: "other/failed", profile: "quick", status: "failed", error: "boom" });
    const ids = (f: Parameters<ResultsStore["listRuns"]>[0]) => s.listRuns(f).map((r) => r.id);
    assert.deepEqual(ids({ task: "scratch", profile: "full" }), recs.filter((r) => r.task === "scratch").map((r) => r.id));
    assert.deepEqual(ids({ family: "densenet" }), [...recs.filter((r) => r.model.family === "densenet").map((r) => r.id), "other/failed"]);
    assert.deepEqual(ids({ status: "failed" }), ["other/failed"]);
    assert.deepEqual(ids({ status: ["done", "diverged"] }), recs.map((r) => r.id));
    assert.deepEqual(ids({ task: ["probe", "finetune"] }), recs.filter((r) => r.task === "probe" || r.task === "finetune").map((r) => r.id));
    assert.deepEqual(ids({ modelName: recs[0].model.name, profile: "quick" }), ["other/failed"]);
    assert.deepEqual(ids({ dataset: "nothing" }), []);
    assert.deepEqual(ids({ task: [] }), []);
    assert.throws(() => s.listRuns({ colour: "red" } as never), /unknown run filter "colour"; valid: task, family, status, profile, dataset, modelName/);
    // best / bestPer: accuracies highest, others lowest; runs without the value skipped.
    const scratch = recs.filter((r) => r.task === "scratch");
    const top = scratch.reduce((a, b) => (b.testAccuracy > a.testAccuracy ? b : a));
    assert.equal(s.best("testAccuracy", { task: "scratch" })?.id, top.id);
    assert.equal(s.best("params", { task: "scratch" })?.id, scratch.reduce((a, b) => (b.params < a.params ? b : a)).id);
    const perFamily = s.bestPer("family", "testAccuracy", { status: "done" });
    assert.deepEqual(perFamily.map((r) => r.model.family), [...new Set(recs.map((r) => r.model.family))].sort());
    for (const r of perFamily) assert.ok(recs.filter((x) => x.model.family === r.model.family).every((x) => x.testAccuracy <= r.testAccuracy));
    // summaries: one flat row per run.
    const rows = s.summaries({ task: "scratch", profile: "full" });
    assert.deepEqual(rows.map((r) => r.id), scratch.map((r) => r.id));
    assert.deepEqual(
      { modelName: rows[0].modelName, params: rows[0].params, epochs: rows[0].epochs, testAccuracy: rows[0].testAccuracy, lr: rows[0].lr, status: rows[0].status },
      { modelName: scratch[0].model.name, params: scratch[0].params, epochs: scratch[0].epochs.length, testAccuracy: scratch[0].testAccuracy, lr: scratch[0].train.lr, status: "done" },
    );
  });
});

test("the run lifecycle: startRun → addEpoch → finishRun, and failRun", () => {
  withStore((s) => {
    s.startRun(runStart("t/a"));
    let r = s.getRun("t/a")!;
    assert.equal(r.status, "running");
    assert.ok(r.startedAt && !r.finishedAt);
    assert.ok(Number.isNaN(r.testAccuracy));
    assert.equal(r.flops, 123_456);
    s.addEpoch("t/a", epoch(1));
    s.addEpoch("t/a", epoch(2));
    s.addEpoch("t/a", epoch(2, { valAccuracy: 0.9 })); // re-recording an epoch replaces it
    assert.deepEqual(s.getRun("t/a")!.epochs, [epoch(1), epoch(2, { valAccuracy: 0.9 })]);
    s.finishRun("t/a", { testAccuracy: 0.8, testLoss: 0.5, trainSeconds: 12, trainImagesPerSecond: 300, inferenceMsPerImage: 0.4, peakRssBytes: 1e9 });
    r = s.getRun("t/a")!;
    assert.equal(r.status, "done");
    assert.ok(r.finishedAt! >= r.startedAt!);
    assert.deepEqual([r.testAccuracy, r.testLoss, r.trainSeconds, r.trainImagesPerSecond, r.inferenceMsPerImage, r.peakRssBytes], [0.8, 0.5, 12, 300, 0.4, 1e9]);
    assert.throws(() => s.addEpoch("t/a", epoch(3)), (e: ResultsStoreError) => e.code === "bad-record" && /run "t\/a" is done: epochs can only be added to a running run/.test(e.message));

    s.startRun(runStart("t/b"));
    s.addEpoch("t/b", epoch(1));
    s.failRun("t/b", new Error("out of memory"));
    r = s.getRun("t/b")!;
    assert.deepEqual([r.status, r.error, r.epochs.length], ["failed", "out of memory", 1]);
    s.startRun(runStart("t/c"));
    s.failRun("t/c", "loss is NaN", "diverged");
    assert.equal(s.getRun("t/c")!.status, "diverged");

    for (const f of [() => s.addEpoch("t/zzz", epoch(1)), () => s.finishRun("t/zzz", { testAccuracy: 1, trainSeconds: 1, trainImagesPerSecond: 1 }), () => s.failRun("t/zzz", "x")]) {
      assert.throws(f, (e: ResultsStoreError) => e.code === "unknown-run" && /no run "t\/zzz" in .*results\.sqlite/.test(e.message));
    }
    assert.throws(() => s.saveRun({ ...fixtureRecords()[0], id: "" }), /saveRun: the run record has no id/);
    assert.throws(() => s.saveRun({ ...fixtureRecords()[0], status: "paused" as never }), /status "paused"; valid: running, done, failed, diverged/);
  });
});

test("a run id recorded twice replaces the old run (epochs and metrics too), or is refused with onDuplicate: refuse", () => {
  const [a] = fixtureRecords();
  withStore((s, file) => {
    s.saveRun(a);
    const again: RunRecord = { ...a, epochs: [epoch(1)], testAccuracy: 0.5 };
    s.saveRun(again);
    assert.deepEqual(s.listRuns(), [asDone(again)]);
    assert.throws(
      () => s.saveRun(a, { onDuplicate: "refuse" }),
      (e: ResultsStoreError) => e.code === "duplicate" && e.message.includes(`run "${a.id}" is already in ${file} (status done); refused`),
    );
    assert.deepEqual(s.listRuns(), [asDone(again)]);
    // startRun replaces too: a re-run starts from no epochs.
    s.startRun({ ...runStart(a.id) });
    assert.deepEqual([s.getRun(a.id)!.status, s.getRun(a.id)!.epochs.length], ["running", 0]);
    assert.throws(() => s.startRun(runStart(a.id), { onDuplicate: "refuse" }), /is already in .* \(status running\); refused/);
  });
});

test("a run and its epochs are written atomically: a failure half-way writes nothing and keeps the old run", () => {
  const [a] = fixtureRecords();
  withStore((s) => {
    s.saveRun(a);
    const broken = { ...a, epochs: [epoch(1), epoch(2), { ...epoch(3), epoch: 3.5 }] };
    assert.throws(() => s.saveRun(broken), /epoch number 3.5 is not an integer/);
    assert.deepEqual(s.listRuns(), [asDone(a)]); // the old run, its epochs and metrics are still there
    assert.throws(() => s.saveRun({ ...broken, id: "new/one" }), /not an integer/);
    assert.equal(s.getRun("new/one"), undefined);
    assert.equal((s.db.prepare("SELECT count(*) AS n FROM epochs WHERE run_id = 'new/one'").get() as { n: number }).n, 0);
  });
});

test("migrations: versions are 1..N in order; an older file is migrated on open, its runs kept", () => {
  assert.deepEqual(MIGRATIONS.map((m) => m.version), MIGRATIONS.map((_, i) => i + 1));
  assert.ok(SCHEMA_VERSION >= 2);
  const file = path.join(tmp(), "old.sqlite");
  const db = new Database(file);
  assert.equal(migrate(db, 1), 1); // the file as the first schema version left it
  db.prepare("INSERT INTO runs (id, task, dataset, profile, model_name, family, model_json, train_json, params, backend, status, ended_at) VALUES ('old/run', 'scratch', 'minicifar', 'full', 'ResNet8-w8', 'resnet', ?, ?, 1000, 'wasm', 'done', '2024-01-01T00:00:00Z')").run(JSON.stringify(fixtureRecords()[0].model), JSON.stringify(fixtureRecords()[0].train));
  db.prepare("INSERT INTO metrics (run_id, test_accuracy, train_seconds, train_images_per_second) VALUES ('old/run', 0.7, 100, 50)").run();
  assert.throws(() => db.prepare("SELECT * FROM run_summary").all(), /no such table: run_summary/);
  db.close();
  withStore((s) => {
    assert.equal(s.schemaVersion, SCHEMA_VERSION);
    const r = s.getRun("old/run")!;
    assert.deepEqual([r.status, r.testAccuracy, r.params, r.finishedAt], ["done", 0.7, 1000, "2024-01-01T00:00:00Z"]);
    assert.deepEqual(s.summaries().map((x) => [x.id, x.testAccuracy]), [["old/run", 0.7]]); // the view of migration 2
    const indexes = (s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'runs_%' ORDER BY name").all() as { name: string }[]).map((x) => x.name);
    assert.deepEqual(indexes, ["runs_family", "runs_profile_task", "runs_status"]);
  }, file);
  // Opening an up-to-date file again changes nothing.
  withStore((s) => assert.equal(s.schemaVersion, SCHEMA_VERSION), file);
});

test("a store written by a newer version of the lab is refused, naming both versions, and left untouched", () => {
  const file = path.join(tmp(), "newer.sqlite");
  withStore((s) => s.saveRun(fixtureRecords()[0]), file);
  const db = new Database(file);
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  const before = sha(file);
  assert.throws(
    () => openStore(file),
    (e: ResultsStoreError) =>
      e.code === "newer-schema" && e.message.includes(`${file} has results schema version ${SCHEMA_VERSION + 1}, newer than the version ${SCHEMA_VERSION} this minicifar-lab knows`),
  );
  assert.equal(sha(file), before);
});

test("a corrupt store file (text, random bytes, another app's database, damaged pages) is refused by name and left untouched", () => {
  const dir = tmp();
  const text = path.join(dir, "notes.sqlite");
  fs.writeFileSync(text, "these are my notes, not results\n");
  const noise = path.join(dir, "noise.sqlite");
  fs.writeFileSync(noise, crypto.randomBytes(8192));
  for (const file of [text, noise]) {
    const before = sha(file);
    for (const open of [() => openStore(file), () => loadRuns({}, file), () => saveRun(fixtureRecords()[0], file)]) {
      assert.throws(open, (e: ResultsStoreError) => e.code === "not-a-results-db" && e.message.startsWith(`${file} is not a results database: it is not an SQLite file (it starts with `));
    }
    assert.equal(sha(file), before, `${file} is untouched`);
    assert.ok(!fs.existsSync(`${file}-wal`) && !fs.existsSync(`${file}-shm`), "no WAL files were created next to it");
  }
  assert.throws(() => openStore(text), /starts with "these are my not"/);

  const other = path.join(dir, "other.sqlite");
  const db = new Database(other);
  db.exec("CREATE TABLE customers (name TEXT)");
  db.close();
  const before = sha(other);
  assert.throws(() => openStore(other), new RegExp(`^Error: |${other.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not a results database: it is an SQLite database of something else \\(tables: customers\\)`));
  assert.equal(sha(other), before);

  // A results database whose pages were overwritten: refused when read, by name.
  const damaged = path.join(dir, "damaged.sqlite");
  withStore((s) => fixtureRecords().forEach((r) => s.saveRun(r)), damaged);
  const bytes = fs.readFileSync(damaged);
  bytes.fill(0xff, 4096, bytes.length);
  fs.writeFileSync(damaged, bytes);
  assert.throws(
    () => loadRuns({}, damaged),
    (e: ResultsStoreError) => e.code === "not-a-results-db" && e.message.startsWith(`${damaged} is not a results database: SQLite reports "`),
  );

  assert.throws(() => openStore(dir), /is not a results database: it is not a regular file/);
});

test("an empty file and a missing file are new stores; loadRuns/getRun of a missing file create nothing", () => {
  const dir = tmp();
  const empty = path.join(dir, "empty.sqlite");
  fs.writeFileSync(empty, "");
  withStore((s) => assert.deepEqual(s.listRuns(), []), empty);
  const missing = path.join(dir, "sub", "missing.sqlite");
  assert.deepEqual(loadRuns({}, missing), []);
  assert.equal(getRun("x", missing), undefined);
  assert.ok(!fs.existsSync(missing));
  assert.equal(saveRun(fixtureRecords()[0], missing), missing);
  assert.equal(loadRuns({}, missing).length, 1);
});

test("a store whose folder cannot be made is refused at once, naming the folder: under a file, under /proc", () => {
  const dir = tmp();
  const file = path.join(dir, "plain-file");
  fs.writeFileSync(file, "x");
  assert.throws(() => openStore(path.join(file, "sub", "r.sqlite")), (e: Error) => e instanceof ResultsStoreError && e.code === "cannot-open" && e.message.includes(`${file} is a file, not a directory`));
  if (fs.existsSync("/proc/self")) {
    // Node's recursive mkdir never returns here; the store must not hang.
    assert.throws(() => openStore("/proc/no-such-dir/r.sqlite"), /cannot open the results store \/proc\/no-such-dir\/r\.sqlite: cannot create the directory \/proc\/no-such-dir/);
    // A folder SQLite cannot create files in (even as root): the error names the file and what to do.
    assert.throws(() => openStore("/proc/self/r.sqlite"), (e: Error) => e instanceof ResultsStoreError && e.code === "cannot-open" && /cannot open the results store \/proc\/self\/r\.sqlite for writing: .*SQLITE_CANTOPEN.*LAB_RESULTS_DB/.test(e.message));
  }
  assert.equal(fs.readFileSync(file, "utf8"), "x");
});

test("a store locked by another process: reads go on, a write fails after the busy timeout with a clear error and writes nothing", { timeout: 120_000 }, async () => {
  const file = path.join(tmp(), "locked.sqlite");
  const [a, b] = fixtureRecords();
  withStore((s) => s.saveRun(a), file);
  const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "lock-child.ts"), file], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  try {
    await new Promise<void>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
        if (out.includes("locked\n")) resolve();
      });
      child.on("exit", (code) => reject(new Error(`lock child exited (${code}) before locking: ${stderr}`)));
    });
    // Make sure the child's write lock is visible from here before timing anything (a loaded machine can be slow
    // to let it through): a probe connection must find the store busy.
    const probeUntil = Date.now() + 10_000;
    for (;;) {
      const probe = new Database(file, { timeout: 0 });
      let busy = false;
      try {
        probe.exec("BEGIN IMMEDIATE");
        probe.exec("ROLLBACK");
      } catch (e) {
        busy = /SQLITE_BUSY|locked/i.test(String((e as { code?: string }).code ?? e));
      } finally {
        probe.close();
      }
      if (busy) break;
      if (Date.now() > probeUntil) throw new Error(`the lock child printed "locked" but the store is not locked (child stderr: ${stderr})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const s = openStore(file, { busyTimeoutMs: 300 }); // opening needs no write lock
    try {
      assert.deepEqual(s.listRuns().map((r) => r.id), [a.id]); // WAL: readers see the last commit, not the child's insert
      const t0 = Date.now();
      assert.throws(
        () => s.saveRun(b),
        (e: ResultsStoreError) => e.code === "locked" && e.message.includes(`results store ${file} is locked by another process (still busy after 300 ms); nothing was written`),
      );
      const waited = Date.now() - t0;
      assert.ok(waited >= 250 && waited < 10_000, `waited ${waited} ms`);
      assert.throws(() => s.startRun(runStart("t/x")), /is locked by another process/);
    } finally {
      s.close();
    }
  } finally {
    child.kill("SIGKILL");
    await new Promise((r) => child.once("close", r));
  }
  // The child's transaction died with it, and the failed writes left nothing.
  withStore((s) => {
    assert.deepEqual(s.listRuns().map((r) => r.id), [a.id]);
    assert.equal((s.db.prepare("SELECT count(*) AS n FROM epochs WHERE run_id <> ?").get(a.id) as { n: number }).n, 0);
    s.saveRun(b); // and the store is writable again
    assert.equal(s.listRuns().length, 2);
  }, file);
});
