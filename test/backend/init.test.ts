import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import Module from "node:module";
import * as tf from "@tensorflow/tfjs";
import { initBackend, backendInfo, resetBackendChoice, BACKEND_CHOICES } from "../../src/backend";

const savedEnv = process.env.LAB_BACKEND;
afterEach(() => {
  resetBackendChoice();
  if (savedEnv === undefined) delete process.env.LAB_BACKEND;
  else process.env.LAB_BACKEND = savedEnv;
});

test("auto picks the best present backend and logs one line", async () => {
  delete process.env.LAB_BACKEND;
  const lines: string[] = [];
  const name = await initBackend({ log: (s) => lines.push(s) });
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^minicifar-lab: backend \S+ \(/);
  assert.equal(tf.getBackend(), name);
  const info = backendInfo();
  assert.ok(info);
  assert.equal(info.name, name);
  assert.equal(info.reason, "auto");
  if (name === "onednn") {
    // the addon is built: it comes right after tfjs-node(-gpu), which are not installable here
    assert.deepEqual(info.fallbacks.map((f) => f.choice), ["node-gpu", "node"]);
    assert.match(lines[0], /oneDNN 2\.\d+\.\d+, OpenMP, \d+ threads?/);
    assert.ok(info.kernels.includes("Conv2DBackpropFilter"));
    assert.ok(tf.getKernel("Conv2DBackpropFilter", "onednn"));
  }
  if (name === "wasm") {
    // tfjs-node(-gpu) are not installable here: both must be recorded as fallbacks
    assert.deepEqual(info.fallbacks.map((f) => f.choice), ["node-gpu", "node"]);
    assert.match(lines[0], /XNNPACK/);
    assert.match(lines[0], /tfjs-node not installed/);
    assert.ok(info.kernels.includes("Conv2DBackpropFilter"));
    assert.ok(tf.getKernel("Conv2DBackpropFilter", "wasm"));
  }
});

test("idempotent: a second call returns the current backend without logging", async () => {
  delete process.env.LAB_BACKEND;
  const first = await initBackend({ log: () => {} });
  const lines: string[] = [];
  const second = await initBackend({ prefer: "cpu", log: (s) => lines.push(s) });
  assert.equal(second, first);
  assert.equal(lines.length, 0);
});

test("LAB_BACKEND=cpu overrides prefer", async () => {
  process.env.LAB_BACKEND = "cpu";
  const name = await initBackend({ prefer: "wasm", log: () => {} });
  assert.equal(name, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  assert.equal(backendInfo()?.reason, "LAB_BACKEND=cpu");
});

test("prefer accepts tfjs names", async () => {
  delete process.env.LAB_BACKEND;
  assert.equal(await initBackend({ prefer: "wasm", log: () => {} }), "wasm");
});

test("unknown LAB_BACKEND value lists valid values", async () => {
  process.env.LAB_BACKEND = "tpu";
  await assert.rejects(initBackend({ log: () => {} }), (e: Error) => {
    assert.match(e.message, /unknown backend "tpu"/);
    for (const c of BACKEND_CHOICES) assert.ok(e.message.includes(c), c);
    return true;
  });
});

test("requested but unavailable backend says why", async () => {
  let present = true;
  try {
    require.resolve("@tensorflow/tfjs-node");
  } catch {
    present = false;
  }
  if (present) return; // only meaningful where tfjs-node is absent
  process.env.LAB_BACKEND = "node";
  await assert.rejects(initBackend({ log: () => {} }), /LAB_BACKEND=node requested but unavailable: node: tfjs-node not installed/);
});

test("a present but broken native package falls through with its reason", async () => {
  delete process.env.LAB_BACKEND;
  const M = Module as unknown as { _load: (req: string, ...rest: unknown[]) => unknown };
  const orig = M._load;
  M._load = function (req: string, ...rest: unknown[]) {
    if (req === "@tensorflow/tfjs-node-gpu" || req === "@tensorflow/tfjs-node") {
      throw new Error("libtensorflow.so.2: cannot open shared object file");
    }
    return orig.call(this, req, ...rest);
  };
  try {
    const lines: string[] = [];
    const name = await initBackend({ log: (s) => lines.push(s) });
    // Next in line: onednn where the addon is built, else wasm (cpu as a last resort).
    assert.ok(name === "onednn" || name === "wasm" || name === "cpu", name);
    const info = backendInfo();
    assert.ok((info?.fallbacks.length ?? 0) >= 2);
    assert.match(info!.fallbacks[1].reason, /tfjs-node failed to load: libtensorflow/);
    assert.match(lines[0], /libtensorflow/);
  } finally {
    M._load = orig;
  }
});
