/**
 * Sweeps (src/train/sweep.ts): spec validation with the valid keys, grid and random expansion, resumable runs against
 * the results store (done configs skipped; a killed sweep re-run records every config exactly once), divergence and
 * the CLI commands.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { initBackend } from "../../src/backend";
import { loadMinicifar, subsetImages, type Minicifar } from "../../src/data";
import { openStore } from "../../src/results/store";
import { SweepSpecError, expandSweep, runSweep, spaceAssignments, type SweepSpec } from "../../src/train/sweep";
import { silentProgress } from "../../src/train/progress";
import { REPO, tempDir } from "../data/helpers";
import { SWEEP } from "./sweep-child";
import { PROFILES, baselineSweep } from "../../src/train/experiments";

const CHILD = path.join(__dirname, "sweep-child.ts");
const quiet = { log: () => {}, progress: silentProgress };

test("a sweep spec with an unknown hyperparameter, a wrong type or an empty grid is refused, listing the valid keys and types", () => {
  const cases: [unknown, RegExp][] = [
    [{ name: "s", base: { model: "ResNet8-w8" }, space: { "train.learningRate": [0.1] } }, /space\.train\.learningRate is not a known key/],
    [{ name: "s", base: { model: "ResNet8-w8" }, space: { "model.depth": [3] } }, /space\.model\.depth is not a known key/],
    [{ name: "s", space: { model: ["ResNet8-w8"] }, epochs: 3 }, /epochs is not a known key \(valid: name, search, samples, base, space/],
    [{ name: "s", base: { model: "ResNet8-w8" }, space: { "train.lr": ["fast"] } }, /space\.train\.lr\[0\] must be number > 0 \(one-cycle: max_lr\), got "fast"/],
    [{ name: "s", base: { model: "ResNet8-w8" }, space: { "model.activation": ["tanh"] } }, /space\.model\.activation\[0\] must be "relu" \| "leaky_relu"/],
    [{ name: "s", base: { model: "ResNet8-w8" }, space: { "train.batchSize": [] } }, /space\.train\.batchSize is an empty list: a grid over it has no configs/],
    [{ name: "s", space: { model: ["ResNet9000"] } }, /space\.model\[0\]: "ResNet9000" is not a preset name/],
    [{ name: "s", base: { model: "ResNet8-w8" }, space: { "train.lr": { min: 0.01, max: 0.1 } } }, /a range \{ min, max \} needs search "random"/],
    [{ name: "s", search: "random", base: { model: "ResNet8-w8" }, space: { "train.lr": [0.1] } }, /samples is required with search "random"/],
    [{ name: "bad name!", space: { model: ["ResNet8-w8"] } }, /name must be a string of letters/],
    [{ name: "s", space: {} }, /space is empty and base has no model/],
  ];
  for (const [spec, re] of cases) {
    assert.throws(() => expandSweep(spec as SweepSpec), (e: Error) => e instanceof SweepSpecError && re.test(e.message) && /valid sweep keys:[\s\S]*model\.widthMultiplier: number > 0[\s\S]*train\.weightDecay: number ≥ 0/.test(e.message), String(re));
  }
  // A combination that is invalid only once built: the config is named, with the train spec's own message.
  assert.throws(
    () => expandSweep({ name: "s", base: { model: "ResNet8-w8" }, space: { train: [{ optimizer: "adam", momentum: 0.9 }], "train.lr": [0.1] } }),
    /config 1 \(train=optimizer:adam,momentum:0\.9 train\.lr=0\.1\): [\s\S]*momentum does not apply to optimizer "adam"/,
  );
  // A base that names its optimizer and a parameter it does not take is refused too (not silently dropped).
  assert.throws(() => expandSweep({ name: "s", base: { model: "ResNet8-w8", train: { optimizer: "adam", momentum: 0.9 } }, space: { "train.lr": [1e-3] } }), /momentum does not apply to optimizer "adam"/);
  assert.throws(() => expandSweep({ name: "s", base: { model: "ResNet8-w8", train: { betas: [0.9, 0.99] } }, space: { "train.lr": [0.1] } }), /betas does not apply to optimizer "sgd"/);
  assert.throws(() => expandSweep({ name: "s", samples: 3, base: { model: "ResNet8-w8" }, space: { "train.lr": [0.1] } }), /samples applies to search "random" only/);
  // Inherited SGD parameters are dropped when the space switches to Adam; weight decay (all optimizers) is kept.
  const [sgd, adam] = expandSweep({ name: "s", base: { model: "ResNet8-w8", train: { nesterov: true } }, space: { train: [{}, { optimizer: "adam", lr: 1e-3 }] } });
  assert.equal(sgd.train.momentum, 0.9);
  assert.equal(sgd.train.nesterov, true);
  assert.equal(adam.train.momentum, undefined);
  assert.equal(adam.train.nesterov, undefined);
  assert.equal(adam.train.weightDecay, 5e-4);
});

test("grid search expands every combination in key order (last key fastest); random search draws distinct configs reproducibly", () => {
  const grid = expandSweep({ name: "g", base: { model: "ResNet8-w8", train: { epochs: 2 } }, space: { "train.lr": [0.01, 0.1], "model.dropout": [0, 0.2, 0.5] } });
  assert.equal(grid.length, 6);
  assert.deepEqual(grid.map((c) => [c.train.lr, c.model.dropout]), [[0.01, 0], [0.01, 0.2], [0.01, 0.5], [0.1, 0], [0.1, 0.2], [0.1, 0.5]]);
  assert.ok(grid.every((c) => c.train.epochs === 2 && c.model.numClasses === 4 && c.id === `sweep/sweep/g/${c.hash}`));
  assert.equal(new Set(grid.map((c) => c.hash)).size, 6);
  assert.equal(grid[1].model.name, "ResNet8-w8[dropout=0.2]");
  // Ids depend on the resolved config only: the same spec gives the same ids.
  assert.deepEqual(expandSweep({ name: "g", base: { model: "ResNet8-w8", train: { epochs: 2 } }, space: { "train.lr": [0.01, 0.1], "model.dropout": [0, 0.2, 0.5] } }).map((c) => c.hash), grid.map((c) => c.hash));
  const budget = expandSweep({ name: "g", base: { model: "ResNet8-w8" }, space: { "train.lr": [0.01, 0.1], "model.dropout": [0, 0.2, 0.5] }, budget: { runs: 4 } });
  assert.equal(budget.length, 4);
  const rnd: SweepSpec = { name: "r", search: "random", samples: 5, seed: 3, base: { model: "ResNet8-w8" }, space: { "train.lr": [0.01, 0.03, 0.1], "train.batchSize": [32, 64, 128], model: ["ResNet8-w8", "VGG11-w16"] } };
  const a = spaceAssignments(rnd);
  assert.equal(a.length, 5);
  assert.equal(new Set(a.map((x) => JSON.stringify(x))).size, 5, "distinct");
  assert.deepEqual(spaceAssignments(rnd), a, "same seed, same draws");
  assert.notDeepEqual(spaceAssignments({ ...rnd, seed: 4 }), a);
  const ranged = spaceAssignments({ name: "r", search: "random", samples: 40, seed: 1, base: { model: "ResNet8-w8" }, space: { "train.lr": { min: 1e-3, max: 1e-1, log: true }, "train.batchSize": { min: 16, max: 128, integer: true } } });
  const lrs = ranged.map((x) => x["train.lr"] as number);
  assert.ok(lrs.every((v) => v >= 1e-3 && v <= 1e-1));
  assert.ok(lrs.filter((v) => v < 1e-2).length >= 10, "log-uniform: about half below 1e-2");
  assert.ok(ranged.every((x) => Number.isInteger(x["train.batchSize"])));
});

let data: Minicifar;
before(async () => {
  await initBackend({ log: () => {} });
  const full = loadMinicifar();
  const pick = (n: number) => Array.from({ length: n }, (_, i) => i);
  data = { ...full, train: subsetImages(full.train, pick(128)), valid: subsetImages(full.valid, pick(64)), test: subsetImages(full.test, pick(64)) };
});

test("runSweep records every config; a NaN loss is marked diverged and the sweep goes on; a re-run trains nothing", { timeout: 300_000 }, async () => {
  const dir = tempDir("sweep");
  const db = path.join(dir, "results.sqlite");
  const spec: SweepSpec = { name: "nan", base: { model: "ResNet8-w8", train: { epochs: 1, batchSize: 64 } }, space: { "train.lr": [0.05, 1e30, 0.1] }, profile: "test" };
  const r = await runSweep(spec, { data, resultsDb: db, checkpointDir: dir, ...quiet });
  assert.deepEqual(r.rows.map((x) => x.status), ["done", "diverged", "done"]);
  assert.match(r.rows[1].error!, /loss became (NaN|Infinity)/);
  assert.ok(r.best && r.best.status === "done");
  assert.match(r.summary, /best \(validation accuracy\): train\.lr=/);
  assert.match(r.summary, /3 configs in .* \(2 done, 1 diverged\)/);
  const store = openStore(db);
  try {
    const runs = store.listRuns({ profile: "test" });
    assert.equal(runs.length, 3);
    const diverged = runs.find((x) => x.status === "diverged")!;
    assert.equal(diverged.train.lr, 1e30);
    assert.match(diverged.error!, /lower the learning rate/);
  } finally {
    store.close();
  }
  const again = await runSweep(spec, { data, resultsDb: db, checkpointDir: dir, ...quiet });
  assert.deepEqual(again.rows.map((x) => x.how), ["reused", "reused", "reused"]);
  assert.deepEqual(again.rows.map((x) => x.status), ["done", "diverged", "done"]);
  // A corrupt store is refused by name before anything trains, and left as it is.
  const bad = path.join(dir, "bad.sqlite");
  fs.writeFileSync(bad, "not a database, just text ".repeat(200));
  await assert.rejects(runSweep(spec, { data, resultsDb: bad, checkpointDir: dir, ...quiet }), (e: Error) => e.message.includes(bad));
  assert.equal(fs.readFileSync(bad, "utf8"), "not a database, just text ".repeat(200));
});

test("a checkpoint is resumed only for a run the store has as interrupted: another store's or a finished run's is stale; another backend's is refused", { timeout: 300_000 }, async () => {
  const dir = tempDir("sweep-stale");
  const spec: SweepSpec = { name: "stale", base: { model: "ResNet8-w8", train: { epochs: 2, batchSize: 64 } }, space: { "train.lr": [0.05] }, profile: "test" };
  const ckDir = path.join(dir, "ck");
  const ckpt = path.join(ckDir, "stale", `${expandSweep(spec)[0].hash}.ckpt`);
  const saved = path.join(dir, "epoch1.ckpt");
  // Keep a copy of the checkpoint written after epoch 1 (as an older version, or a killed run of another store, left).
  const copier = { start() {}, update: () => void (fs.existsSync(ckpt) && !fs.existsSync(saved) && fs.copyFileSync(ckpt, saved)), end() {} };
  const first = await runSweep(spec, { data, resultsDb: path.join(dir, "a.sqlite"), checkpointDir: ckDir, log: () => {}, progress: copier });
  assert.equal(first.rows[0].how, "ran");
  assert.ok(!fs.existsSync(ckpt), "a finished run's checkpoint is removed");
  assert.ok(fs.existsSync(saved));
  fs.copyFileSync(saved, ckpt);
  // A new store does not have the run: the planted checkpoint is stale, and the run trains from its first step.
  const steps: number[] = [];
  const progress = { start() {}, update: (n: number) => void steps.push(n), end() {} };
  const second = await runSweep(spec, { data, resultsDb: path.join(dir, "b.sqlite"), checkpointDir: ckDir, log: () => {}, progress });
  assert.equal(second.rows[0].how, "ran");
  assert.equal(steps[0], 1, "trained from the first step, not resumed");
  assert.equal(second.rows[0].record!.epochs.length, 2);
  // A checkpoint made on another backend is refused, naming both.
  const { checkCompatible, CheckpointMismatchError } = await import("../../src/train/checkpoint");
  const id = { label: "m", train: c0().train, weights: [], backend: "onednn" };
  assert.throws(() => checkCompatible({ identity: { ...id, backend: "wasm" } }, id, "f.ckpt"), (e: Error) => e instanceof CheckpointMismatchError && /backend: wasm in the checkpoint, onednn now/.test(e.message));
});

const c0 = () => expandSweep({ name: "x", base: { model: "ResNet8-w8" }, space: {} })[0];

test("a sweep killed in the middle of a run and re-run finishes with every config recorded exactly once, the killed run resumed", { timeout: 600_000 }, async () => {
  const dir = tempDir("sweep-kill");
  const db = path.join(dir, "results.sqlite");
  const steps = 2 * 8; // 2 epochs of 256 images at batch 32
  // Kill it during the second epoch of the second config.
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, db, dir], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const runs = (out.match(/^RUN /gm) ?? []).length;
      const tail = out.slice(out.lastIndexOf("RUN "));
      const last = [...tail.matchAll(/STEP (\d+)/g)].map((m) => Number(m[1])).pop() ?? 0;
      if (runs === 2 && last >= steps / 2 + 2) child.kill("SIGKILL");
    });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code, signal) => (signal === "SIGKILL" ? resolve() : reject(new Error(`sweep child ended with ${code} before the kill: ${err}`))));
  });
  const configs = expandSweep(SWEEP);
  const mid = openStore(db);
  try {
    assert.deepEqual(configs.map((c) => mid.getRun(c.id)?.status), ["done", "running", undefined], "killed during config 2");
  } finally {
    mid.close();
  }
  const r = spawnSync(process.execPath, ["--import", "tsx", CHILD, db, dir], { encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout.split("\n").find((l) => l.startsWith("DONE "))!.slice(5)) as { status: string; how: string }[];
  assert.deepEqual(rows.map((x) => `${x.status}/${x.how}`), ["done/reused", "done/ran", "done/ran"]);
  // Config 2 resumed from its epoch-1 checkpoint: its first step is step 9 of 16.
  const second = r.stdout.slice(r.stdout.indexOf("RUN "));
  assert.equal(Number(/STEP (\d+)/.exec(second)![1]), steps / 2, "the killed config resumed after epoch 1");
  const store = openStore(db);
  try {
    const runs = store.listRuns({ profile: "test" });
    assert.equal(runs.length, 3, "every config exactly once");
    assert.deepEqual(runs.map((x) => x.id).sort(), configs.map((c) => c.id).sort());
    assert.ok(runs.every((x) => x.status === "done" && x.epochs.length === 2));
  } finally {
    store.close();
  }
});

test("CLI: `sweep FILE` and `train --config FILE` run, record and resume; bad files and specs exit 2 or 1 with the reason", { timeout: 300_000 }, () => {
  const dir = tempDir("sweep-cli");
  const db = path.join(dir, "results.sqlite");
  const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(REPO, "bin", "minicifar-lab.js"), ...args], { encoding: "utf8", timeout: 240_000, env: { ...process.env, LAB_RESULTS_DB: db } });
  const bad = path.join(dir, "bad.json");
  fs.writeFileSync(bad, JSON.stringify({ name: "bad", base: { model: "ResNet8-w8" }, space: { "train.lr": [] } }));
  let r = cli("sweep", bad);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /space\.train\.lr is an empty list/);
  fs.writeFileSync(bad, "{ not json");
  r = cli("sweep", bad);
  assert.equal(r.status, 2);
  assert.match(r.stderr, new RegExp(`sweep spec ${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not valid JSON`));
  r = cli("sweep", path.join(dir, "missing.json"));
  assert.equal(r.status, 2);
  assert.match(r.stderr, /cannot read sweep spec .*missing\.json/);
  r = cli("sweep", dir);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /cannot read sweep spec .*: it is a directory, not a file/);
  r = cli("sweep", bad, "--budget-minutes", "soon");
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--budget-minutes must be a positive number, got "soon"/);
  const cfg = path.join(dir, "one.json");
  fs.writeFileSync(cfg, JSON.stringify({ name: "one", model: "ResNet8-w8", train: { epochs: 1, batchSize: 64 }, data: { trainImages: 128 }, profile: "cli" }));
  r = cli("train", "--config", cfg);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /1 config in .* \(1 done\)/);
  r = cli("train", "--config", cfg);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /1 already in/);
  // Every problem of a train config at once: an unknown key, a typo in train, a parameter of another optimizer.
  fs.writeFileSync(cfg, JSON.stringify({ model: "ResNet8-w8", epochs: 3, train: { lrr: 0.1, optimizer: "adam", momentum: 0.9 } }));
  r = cli("train", "--config", cfg);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /invalid train config .*one\.json:\n {2}- epochs is not a known key \(valid: name, model, train, data, profile, numClasses\)/);
  assert.match(r.stderr, /- train\.lrr is not a known key/);
  assert.match(r.stderr, /- train\.momentum does not apply to optimizer "adam"/);
  assert.match(r.stderr, /valid train config keys:/);
  r = cli("train");
  assert.equal(r.status, 2);
  assert.match(r.stderr, /train needs --config FILE/);
  const runs = openStore(db).listRuns({ profile: "cli" });
  assert.equal(runs.length, 1);
});

test("every profile's exploration builds: each stage valid, the families compared, the baseline once, every handout knob varied", () => {
  for (const p of Object.values(PROFILES)) {
    const configs = p.exploration.flatMap((s) => expandSweep(s));
    assert.equal(new Set(configs.map((c) => c.id)).size, configs.length, "distinct run ids");
    assert.deepEqual(new Set(expandSweep(p.exploration[0]).map((c) => c.model.family)), new Set(["resnet", "preact_resnet", "vgg", "densenet"]));
    const base = expandSweep(baselineSweep(p));
    assert.equal(base.length, 1);
    assert.equal(base[0].model.name, p.baseline.model);
    assert.deepEqual(base[0].train, p.baseline.train);
    assert.ok(configs.some((c) => c.id === base[0].id), "the baseline is a config of the exploration");
    const around = configs.filter((c) => c.model.family === "resnet" && c.id !== base[0].id);
    const varied = (f: (c: (typeof configs)[0]) => unknown) => new Set(around.map(f)).size > 1 || around.some((c) => f(c) !== f(base[0]));
    for (const [knob, f] of Object.entries({
      lr: (c: (typeof configs)[0]) => c.train.lr,
      optimizer: (c: (typeof configs)[0]) => c.train.optimizer,
      batchSize: (c: (typeof configs)[0]) => c.train.batchSize,
      epochs: (c: (typeof configs)[0]) => c.train.epochs,
      weightDecay: (c: (typeof configs)[0]) => c.train.weightDecay,
      augment: (c: (typeof configs)[0]) => JSON.stringify(c.train.augment),
      activation: (c: (typeof configs)[0]) => c.model.activation,
      width: (c: (typeof configs)[0]) => c.model.widthMultiplier ?? 1,
      depth: (c: (typeof configs)[0]) => JSON.stringify(c.model.blocks),
      dropout: (c: (typeof configs)[0]) => c.model.dropout,
    })) assert.ok(varied(f), `${p.name}: ${knob} is explored`);
  }
});
