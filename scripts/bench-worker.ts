/**
 * Child process of scripts/bench.ts: one backend probe, or one (backend, model) measurement. Not meant to be
 * run by hand. The parent starts it with `fork` and an IPC channel; the job is one JSON argument:
 *
 *   {"kind":"probe","backend":"wasm"}
 *   {"kind":"measure","backend":"wasm","spec":{…ModelSpec…},"batch":32,"warmup":1,"steps":5,"budget":60,
 *    "seed":0,"phases":["infer","train"]}
 *
 * It selects the backend with initBackend and LAB_BACKEND=<backend> (set by the parent), so a choice added to
 * BACKEND_CHOICES is measured like the others. Messages to the parent (WorkerMessage): "probe", "ready" (model
 * built, parameter count), "step" before each step (sent before the step starts, so the parent can time it and
 * kill the process when one step exceeds the budget), "phase" with each phase's result, then the process exits.
 *
 * Train step: trainStep from src/train/loop.ts (the step of trainModel: forward in training mode, softmax
 * cross-entropy, gradients, our SGD with momentum 0.9 and weight decay 5e-4). Inference step: forward in
 * inference mode, as evaluate does, with the logits read back.
 */
import * as tf from "@tensorflow/tfjs";
import { backendInfo, initBackend } from "../src/backend";
import { buildModel, countParams } from "../src/models";
import type { ModelSpec } from "../src/results/types";
import { trainStep } from "../src/train/loop";
import { SGD } from "../src/train/sgd";

export type Phase = "infer" | "train";

export interface ProbeJob {
  kind: "probe";
  backend: string;
}

export interface MeasureJob {
  kind: "measure";
  backend: string;
  spec: ModelSpec;
  batch: number;
  warmup: number;
  steps: number;
  /** Seconds: a step longer than this makes the phase "too slow"; timed steps stop once a phase has used it. */
  budget: number;
  seed: number;
  phases: Phase[];
}

export type PhaseResult =
  | {
      status: "ok";
      imagesPerSecond: number;
      medianMs: number;
      minMs: number;
      maxMs: number;
      /** Timed steps (fewer than asked when the budget ran out). */
      steps: number;
      warmup: number;
      stepsMs: number[];
      /** Tensors alive after the timed steps minus before (0 when a step frees all it allocates). */
      tensorsLeaked: number;
      /** Last training loss (train phase). */
      loss?: number;
      /**
       * CPU use during the timed steps, in cores: this process (all its threads) and every other process of
       * the machine (from /proc/stat; absent elsewhere). Other processes above ~0.2 cores distort the figure.
       */
      cores?: { own: number; others?: number };
    }
  | {
      status: "too-slow";
      budget: number;
      /** The step's duration, when it finished. */
      stepSeconds?: number;
      /** Not run: inference was already too slow, and a training step contains a forward pass. */
      inferred?: boolean;
    }
  | { status: "out-of-memory"; message: string }
  | { status: "error"; message: string };

export type WorkerMessage =
  | { type: "probe"; ok: true; name: string; detail: string; kernels: string[]; line: string }
  | { type: "probe"; ok: false; reason: string }
  | { type: "ready"; backend: string; detail: string; params: number; buildSeconds: number }
  | { type: "step"; phase: Phase; index: number; warm: boolean }
  | { type: "phase"; phase: Phase; result: PhaseResult }
  | { type: "error"; message: string };

/** Sends and waits until the message has been written, so that it is not held back by a long synchronous step. */
function send(m: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) {
      console.log(JSON.stringify(m));
      resolve();
      return;
    }
    process.send(m, undefined, {}, () => resolve());
  });
}

function errMsg(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0].slice(0, 300);
}

async function probe(job: ProbeJob): Promise<void> {
  try {
    await initBackend({ prefer: job.backend, log: () => {} });
    const info = backendInfo()!;
    // A tiny op proves that the backend computes, not only that it registered.
    const s = tf.tidy(() => tf.sum(tf.mul(tf.ones([4, 4]), 2)));
    const v = (await s.data())[0];
    s.dispose();
    if (v !== 32) throw new Error(`sanity op returned ${v}, expected 32`);
    await send({ type: "probe", ok: true, name: info.name, detail: info.detail, kernels: info.kernels, line: info.line });
  } catch (e) {
    await send({ type: "probe", ok: false, reason: errMsg(e) });
  }
}

/** Deterministic labels in [0, n): a 32-bit LCG, so that inputs do not depend on the backend's RNG. */
function labels(count: number, n: number, seed: number): Int32Array {
  let s = (seed * 2654435761 + 12345) >>> 0;
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 8) % n;
  }
  return out;
}

/** Busy CPU seconds of the whole machine so far (Linux /proc/stat), or undefined. */
export function machineBusySeconds(): number | undefined {
  try {
    const f = require("fs").readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const busy = f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0);
    return Number.isFinite(busy) ? busy / 100 : undefined;
  } catch {
    return undefined;
  }
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Out-of-memory errors (the 32-bit wasm heap fails past ~2 GiB with "memory access out of bounds") get their own status. */
function failure(e: unknown): PhaseResult {
  const message = errMsg(e);
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.length;
  const withHeap = heap ? `${message} (wasm heap ${Math.round(heap / 2 ** 20)} MiB)` : message;
  // Emscripten's abort when malloc fails near the 32-bit heap's end reads only "Aborted()".
  const oom = /out of memory|memory access out of bounds|Array buffer allocation failed|Cannot enlarge memory|bad_alloc/i.test(message) || (/Aborted\(/.test(message) && !!heap && heap > 1.5 * 2 ** 30);
  return oom ? { status: "out-of-memory", message: withHeap } : { status: "error", message: withHeap };
}

async function runPhase(job: MeasureJob, phase: Phase, step: () => Promise<number | void>): Promise<PhaseResult> {
  const t0 = performance.now();
  const times: number[] = [];
  let tensors0 = 0;
  let loss: number | undefined;
  let clock0 = { wall: 0, own: 0, busy: undefined as number | undefined };
  for (let i = 0; i < job.warmup + job.steps; i++) {
    const warm = i < job.warmup;
    if (!warm && times.length > 0) {
      // Stop early when the next step would overrun the budget (at least one timed step is kept).
      const spent = (performance.now() - t0) / 1000;
      if (spent + median(times) / 1000 > job.budget) break;
    }
    if (!warm && times.length === 0) {
      tensors0 = tf.memory().numTensors;
      clock0 = { wall: performance.now(), own: cpuSeconds(), busy: machineBusySeconds() };
    }
    await send({ type: "step", phase, index: i, warm });
    const s0 = performance.now();
    const v = await step();
    const ms = performance.now() - s0;
    if (typeof v === "number") loss = v;
    if (ms / 1000 > job.budget) return { status: "too-slow", budget: job.budget, stepSeconds: ms / 1000 };
    if (!warm) times.push(ms);
  }
  const wall = (performance.now() - clock0.wall) / 1000;
  const own = cpuSeconds() - clock0.own;
  const busy = machineBusySeconds();
  const round2 = (x: number) => Math.round(x * 100) / 100;
  const cores = {
    own: round2(own / wall),
    ...(busy !== undefined && clock0.busy !== undefined ? { others: round2(Math.max(0, busy - clock0.busy - own) / wall) } : {}),
  };
  const med = median(times);
  return {
    status: "ok",
    imagesPerSecond: (job.batch * 1000) / med,
    medianMs: med,
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
    steps: times.length,
    warmup: job.warmup,
    stepsMs: times.map((t) => Math.round(t * 100) / 100),
    tensorsLeaked: tf.memory().numTensors - tensors0,
    ...(loss !== undefined ? { loss } : {}),
    cores,
  };
}

async function measure(job: MeasureJob): Promise<void> {
  await initBackend({ prefer: job.backend, log: () => {} });
  const info = backendInfo()!;
  const b0 = performance.now();
  const model = buildModel(job.spec, job.seed);
  const params = countParams(model);
  await send({ type: "ready", backend: info.name, detail: info.detail, params, buildSeconds: (performance.now() - b0) / 1000 });

  const numClasses = job.spec.numClasses;
  const x = tf.randomNormal([job.batch, 32, 32, 3], 0, 1, "float32", job.seed + 1);
  const y = tf.tensor1d(labels(job.batch, numClasses, job.seed), "int32");
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const opt = new SGD({ lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });

  const steps: Record<Phase, () => Promise<number | void>> = {
    train: async () => (await trainStep(model, vars, opt, { x, y }, numClasses)).loss,
    infer: async () => {
      const out = tf.tidy(() => model.apply(x, { training: false }) as tf.Tensor);
      await out.data();
      out.dispose();
    },
  };
  let inferTooSlow = false;
  for (const phase of job.phases) {
    let result: PhaseResult;
    if (phase === "train" && inferTooSlow) {
      result = { status: "too-slow", budget: job.budget, inferred: true };
    } else {
      try {
        result = await runPhase(job, phase, steps[phase]);
      } catch (e) {
        result = failure(e);
      }
    }
    if (phase === "infer" && result.status === "too-slow") inferTooSlow = true;
    await send({ type: "phase", phase, result });
  }
  opt.dispose();
  tf.dispose([x, y]);
  model.dispose();
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "null") as ProbeJob | MeasureJob | null;
  if (!job || (job.kind !== "probe" && job.kind !== "measure")) throw new Error("bench-worker: expected a JSON job argument (started by scripts/bench.ts)");
  if (job.kind === "probe") await probe(job);
  else await measure(job);
}

if (require.main === module) {
  main()
    .then(() => process.exit(0))
    .catch(async (e) => {
      await send({ type: "error", message: errMsg(e) });
      process.exit(1);
    });
}
