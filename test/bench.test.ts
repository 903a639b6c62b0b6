/**
 * `npm run bench` in a tiny configuration (resnet20 on wasm, 1 warm-up + 1 timed step): the JSON document's
 * structure and that every figure is a positive number. Nothing here asserts on speed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "child_process";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");
const bench = (...args: string[]) => {
  const env = { ...process.env };
  delete env.LAB_BACKEND;
  return spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "bench.ts"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env,
    timeout: 180_000,
  });
};

const positive = (x: unknown, what: string) => assert.ok(typeof x === "number" && Number.isFinite(x) && x > 0, `${what} is a positive number, got ${x}`);

function checkPhase(p: Record<string, unknown>, what: string, steps: number) {
  assert.equal(p.status, "ok", `${what}: ${JSON.stringify(p)}`);
  positive(p.imagesPerSecond, `${what}.imagesPerSecond`);
  positive(p.medianMs, `${what}.medianMs`);
  assert.equal(p.steps, steps, `${what}.steps`);
  assert.equal((p.stepsMs as number[]).length, steps);
  positive((p.cores as { own: number }).own, `${what}.cores.own`);
}

test("bench --json: resnet20 on wasm (and PyTorch when installed), 1 warm-up + 1 step", () => {
  const r = bench("--models", "resnet20", "--backends", "wasm", "--warmup", "1", "--steps", "1", "--json");
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(doc), ["machine", "config", "models"]);
  positive(doc.machine.cores, "machine.cores");
  assert.equal(doc.machine.node, process.version);
  assert.match(doc.machine.tfjs, /^4\.\d+\.\d+/);
  assert.deepEqual(doc.machine.backends.map((b: { choice: string }) => b.choice), ["wasm"]);
  assert.equal(doc.machine.backends[0].available, true);
  assert.equal(doc.machine.backends[0].name, "wasm");
  assert.deepEqual(doc.config, { steps: 1, warmup: 1, budget: 90, seed: 0, torchThreads: 2 });
  assert.match(r.stderr, /resnet20 on wasm: train/, "progress on stderr");

  assert.equal(doc.models.length, 1);
  const m = doc.models[0];
  assert.equal(m.id, "resnet20");
  assert.equal(m.preset, "ResNet20-w16");
  assert.equal(m.numClasses, 4);
  assert.equal(m.batch, 32);
  assert.equal(m.params.ours, 272084);
  assert.deepEqual(Object.keys(m.backends), ["wasm"]);
  checkPhase(m.backends.wasm.train, "wasm.train", 1);
  checkPhase(m.backends.wasm.infer, "wasm.infer", 1);
  assert.equal(m.backends.wasm.train.tensorsLeaked, 0);
  assert.equal(m.backends.wasm.infer.tensorsLeaked, 0);
  if (doc.machine.torch.available) {
    assert.equal(m.params.torch, 272084);
    assert.equal(m.params.match, true);
    checkPhase(m.torch.train, "torch.train", 1);
    checkPhase(m.torch.infer, "torch.infer", 1);
    positive(m.backends.wasm.ratio.train, "ratio.train");
    positive(m.backends.wasm.ratio.infer, "ratio.infer");
    const expected = m.backends.wasm.train.imagesPerSecond / m.torch.train.imagesPerSecond;
    assert.ok(Math.abs(m.backends.wasm.ratio.train - expected) < 1e-9 * expected);
  } else {
    assert.match(doc.machine.torch.reason, /torch|could not be run/);
    assert.equal(m.torch, null);
    assert.deepEqual(m.backends.wasm.ratio, { train: null, infer: null });
  }
});

test("bench: bad options exit with status 2 and name the flag and the value", () => {
  const cases: [string[], RegExp][] = [
    [["--models", "resnet20,alexnet"], /--models: unknown value "alexnet"; valid: resnet20, resnet18/],
    [["--backends", "tpu"], /--backends: unknown value "tpu"; valid: .*wasm/],
    [["--steps", "abc"], /--steps must be an integer ≥ 1, got "abc"/],
    [["--warmup=-1"], /--warmup must be an integer ≥ 0, got "-1"/],
    [["--budget", "soon"], /--budget must be a number of seconds > 0, got "soon"/],
    [["--steps"], /--steps needs a value/],
    [["--frobnicate"], /unknown option "--frobnicate"/],
  ];
  for (const [args, message] of cases) {
    const r = bench(...args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, "");
  }
  // A backend asked for by name that cannot start fails at once (before any PyTorch measurement), saying why.
  let nodeInstalled = true;
  try {
    require.resolve("@tensorflow/tfjs-node");
  } catch {
    nodeInstalled = false;
  }
  if (!nodeInstalled) {
    const r = bench("--backends", "node", "--models", "resnet20");
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /FAILED: requested backend node is unavailable: .*tfjs-node/);
    assert.doesNotMatch(r.stderr, /PyTorch/);
  }
});
