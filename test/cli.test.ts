import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as path from "path";
import { readNotebook, joinSource } from "../src/notebook";

const ROOT = path.resolve(__dirname, "..");
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, "bin", "minicifar-lab.js"), ...args], { cwd: ROOT, encoding: "utf8" });

test("`minicifar-lab data minicifar --json` prints the course's MINICIFAR subset", () => {
  const r = cli("data", "minicifar", "--json");
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(j), ["classes", "trainPositions", "testPositions", "trainIndices", "validIndices"]);
  assert.deepEqual(j.classes, ["airplane", "automobile", "bird", "cat"]);
  assert.deepEqual(j.trainPositions.slice(0, 10), [1501, 2586, 2653, 1055, 705, 106, 589, 2468, 2413, 1600]);
  assert.equal(j.trainPositions.length, 1000);
  assert.equal(j.testPositions.length, 200);
  assert.equal(j.trainIndices.length, 3200);
  assert.equal(j.validIndices.length, 800);
  assert.deepEqual([...j.trainIndices, ...j.validIndices].sort((a: number, b: number) => a - b), Array.from({ length: 4000 }, (_, i) => i));
});

test("course options: --classes, --R, --train-size", () => {
  const r = cli("data", "minicifar", "--json", "--classes", "2", "--R", "10", "--train-size", "0.5");
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(j.classes, ["airplane", "automobile"]);
  assert.equal(j.trainPositions.length, 500);
  assert.equal(j.testPositions.length, 100);
  assert.equal(j.trainIndices.length, 500);
  assert.equal(j.validIndices.length, 500);
});

test("bad CLI input fails with a message naming the value", () => {
  const bad = cli("data", "minicifar", "--classes", "airplane,dragon");
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /unknown CIFAR-10 class "dragon"; valid names: airplane, automobile/);
  const unknown = cli("frobnicate");
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const profile = cli("build", "--profile", "huge");
  assert.equal(profile.status, 2);
  assert.match(profile.stderr, /--profile must be one of quick, full, got "huge"/);
});

test("the three lab notebooks are thin tslab notebooks with a parameters cell", () => {
  for (const name of ["01-scratch-training", "02-accuracy-vs-params", "03-transfer-learning"]) {
    const nb = readNotebook(path.join(ROOT, "notebooks", `${name}.ipynb`));
    assert.equal(nb.metadata?.kernelspec?.name, "tslab", name);
    const params = nb.cells.filter((c) => (c.metadata?.tags as string[] | undefined)?.includes("parameters"));
    assert.equal(params.length, 1, `${name} has one parameters cell`);
    assert.match(joinSource(params[0].source), /const profile: string = "quick";/);
    const code = nb.cells.filter((c) => c.cell_type === "code").map((c) => joinSource(c.source));
    assert.ok(code.every((s) => s.split("\n").length <= 15), `${name}: every code cell is short (logic lives in src/)`);
    assert.ok(nb.cells.every((c) => c.cell_type !== "code" || (c as { outputs: unknown[] }).outputs.length === 0), `${name} is committed without outputs`);
  }
});

test("report refuses failed notebooks and notebooks of another profile", async () => {
  const { checkExecuted } = await import("../src/cli");
  const fs = await import("fs");
  const os = await import("os");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "executed-"));
  try {
    const write = (name: string, meta: object) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, JSON.stringify({ cells: [], metadata: { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" }, minicifar_lab: meta }, nbformat: 4, nbformat_minor: 5 }));
      return f;
    };
    const ok = write("ok.ipynb", { status: "ok", parameters: { profile: "quick" } });
    assert.doesNotThrow(() => checkExecuted([ok], "quick"));
    const failed = write("failed.ipynb", { status: "failed", parameters: { profile: "quick" } });
    assert.throws(() => checkExecuted([ok, failed], "quick"), /failed\.ipynb has status "failed".*re-run `minicifar-lab build --profile quick`/);
    assert.throws(() => checkExecuted([ok], "full"), /ok\.ipynb ran with profile "quick", not "full"/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("`run` checks the notebook before compiling and names the file", () => {
  const r = cli("run", path.join(ROOT, "test", "fixtures", "notebooks", "invalid.ipynb"));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /invalid\.ipynb.*not valid JSON/);
  assert.doesNotMatch(r.stdout, /compiled src/);
});

test("--name=value works like --name value; bad data options are usage errors (exit 2)", () => {
  const r = cli("data", "minicifar", "--json", "--classes=2");
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).classes, ["airplane", "automobile"]);
  const bad = cli("data", "minicifar", "--R", "0");
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--R/);
});

test("profile names are checked against the real profiles, not object built-ins", async () => {
  const { getProfile } = await import("../src/train/experiments");
  assert.equal(getProfile("quick").name, "quick");
  assert.throws(() => getProfile("constructor"), /unknown profile "constructor"; valid: quick, full/);
  assert.throws(() => getProfile("toString"), /unknown profile "toString"/);
});
