/**
 * Throughput benchmark: training and inference images per second of our tfjs models on every TensorFlow.js
 * backend that initialises here, next to PyTorch on the same architectures, batch sizes and steps.
 *
 *   npm run bench [-- --json] [--models resnet20,vgg11] [--backends wasm,onednn] [--steps 5] [--warmup 1]
 *                 [--budget 90] [--seed 0] [--no-torch] [--python /usr/bin/python3] [--verbose]
 *
 * Models: resnet20 (ResNet20-w16, 4 classes, batch 32), resnet18, preactresnet18, vgg11, vgg16, densenet_cifar
 * (kuangliu, 10 classes, batch 64). Ours are built by src/models (buildModel + PRESETS), PyTorch's by
 * scripts/torch_bench.py from torch_oracle.py's transcriptions; both parameter counts are printed and must agree.
 *
 * Backends: every BACKEND_CHOICES entry of src/backend (a new choice is picked up automatically), each probed in
 * a child process; unavailable ones are listed with the reason. LAB_BACKEND, when set and --backends is not,
 * restricts the run to that backend.
 *
 * Method: each (backend, model) runs in its own child process (scripts/bench-worker.ts), one at a time, and so
 * does PyTorch (torch.set_num_threads(2)). Random inputs and labels (fixed seed). Inference: forward in
 * inference mode. Training: the step of trainModel (forward in training mode, softmax cross-entropy, backward,
 * SGD momentum 0.9, weight decay 5e-4); PyTorch: model.train(), CrossEntropyLoss, backward, SGD step. Per phase,
 * --warmup untimed steps then --steps timed ones; img/s = batch / median step time.
 *
 * Budget: --budget seconds per measurement (one phase of one model on one backend). A step longer than that
 * (the first warm-up step, usually) makes the cell "too slow (> N s/step)": the child is killed if need be,
 * and training counts as too slow when inference already is. Timed steps stop early when the budget is spent.
 *
 * Output: one table per model (train img/s, inference img/s, ours/PyTorch ratios, and PyTorch's own row), or
 * with --json one JSON document on stdout. Progress goes to stderr. A cell reads "too slow" or "out of memory"
 * (e.g. the 32-bit wasm heap) as results. Exit status: 0; 1 when a measurement failed otherwise, an explicitly
 * requested backend is unavailable or parameter counts differ; 2 for bad options.
 */
import { fork, spawn, spawnSync, type ChildProcess } from "child_process";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { BACKEND_CHOICES } from "../src/backend";
import { presetSpec, vggConfigFromStages } from "../src/models";
import type { ModelSpec } from "../src/results/types";
import type { MeasureJob, Phase, PhaseResult, ProbeJob, WorkerMessage } from "./bench-worker";

const ROOT = path.resolve(__dirname, "..");
const WORKER = path.join(__dirname, "bench-worker.ts");
const TORCH_BENCH = path.join(__dirname, "torch_bench.py");
const PHASES: Phase[] = ["infer", "train"];

/** The benchmarked models: id → preset, classes and batch size. */
export const BENCH_MODELS: Record<string, { preset: string; numClasses: number; batch: number }> = {
  resnet20: { preset: "ResNet20-w16", numClasses: 4, batch: 32 },
  resnet18: { preset: "ResNet18", numClasses: 10, batch: 64 },
  preactresnet18: { preset: "PreActResNet18", numClasses: 10, batch: 64 },
  vgg11: { preset: "VGG11", numClasses: 10, batch: 64 },
  vgg16: { preset: "VGG16", numClasses: 10, batch: 64 },
  densenet_cifar: { preset: "densenet_cifar", numClasses: 10, batch: 64 },
};

const USAGE = `usage: npm run bench -- [options]

  --models LIST     comma-separated, from: ${Object.keys(BENCH_MODELS).join(", ")} (default: all)
  --backends LIST   comma-separated, from: ${BACKEND_CHOICES.join(", ")} (default: every one that initialises;
                    LAB_BACKEND, when set, is the default)
  --steps N         timed steps per measurement (default 5)
  --warmup N        untimed steps before them (default 1)
  --budget S        seconds per measurement; a step longer than S is reported as "too slow" (default 90)
  --seed N          seed of weights, inputs and labels (default 0)
  --no-torch        skip PyTorch
  --python PATH     Python with torch (default /usr/bin/python3)
  --json            print one JSON document instead of tables
  --verbose         pass the child processes' stderr through
options may also be written --name=value`;

export class UsageError extends Error {}

export interface BenchOptions {
  models: string[];
  backends: string[] | null;
  steps: number;
  warmup: number;
  budget: number;
  seed: number;
  torch: boolean;
  python: string;
  json: boolean;
  verbose: boolean;
  help: boolean;
}

function list(flag: string, value: string, valid: readonly string[], normalise: (s: string) => string = (s) => s): string[] {
  const items = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`${flag} needs a comma-separated list; valid: ${valid.join(", ")}`);
  const out: string[] = [];
  for (const item of items) {
    const v = normalise(item);
    if (!valid.includes(v)) throw new UsageError(`${flag}: unknown value "${item}"; valid: ${valid.join(", ")}`);
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

function int(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${flag} must be an integer ≥ ${min}, got "${value}"`);
  }
  return n;
}

/** Parses the command line; throws UsageError naming the flag and the value. */
export function parseArgs(argv: string[]): BenchOptions {
  const o: BenchOptions = {
    models: Object.keys(BENCH_MODELS),
    backends: null,
    steps: 5,
    warmup: 1,
    budget: 90,
    seed: 0,
    torch: true,
    python: "/usr/bin/python3",
    json: false,
    verbose: false,
    help: false,
  };
  const flags: Record<string, () => void> = {
    "--json": () => (o.json = true),
    "--no-torch": () => (o.torch = false),
    "--verbose": () => (o.verbose = true),
    "--help": () => (o.help = true),
    "-h": () => (o.help = true),
  };
  const options: Record<string, (v: string, flag: string) => void> = {
    "--models": (v, f) => (o.models = list(f, v, Object.keys(BENCH_MODELS), (s) => s.toLowerCase())),
    "--backends": (v, f) => (o.backends = list(f, v, BACKEND_CHOICES, (s) => s.toLowerCase())),
    "--steps": (v, f) => (o.steps = int(f, v, 1)),
    "--warmup": (v, f) => (o.warmup = int(f, v, 0)),
    "--seed": (v, f) => (o.seed = int(f, v, 0)),
    "--budget": (v, f) => {
      const n = Number(v);
      if (v.trim() === "" || !Number.isFinite(n) || n <= 0) throw new UsageError(`${f} must be a number of seconds > 0, got "${v}"`);
      o.budget = n;
    },
    "--python": (v) => (o.python = v),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (flags[name] && eq < 0) {
      flags[name]();
    } else if (options[name]) {
      let v: string | undefined;
      if (eq > 0) v = arg.slice(eq + 1);
      else {
        v = argv[++i];
        if (v === undefined || v.startsWith("--")) throw new UsageError(`${name} needs a value`);
      }
      options[name](v, name);
    } else {
      throw new UsageError(`unknown option "${arg}"`);
    }
  }
  return o;
}

// ------------------------------------------------------------------------------------------------ child processes

const log = (s: string) => process.stderr.write(s + "\n");

interface WorkerRun {
  messages: WorkerMessage[];
  /** The step that was running when the watchdog killed the process. */
  killedDuring?: { phase: Phase; index: number; warm: boolean };
  code: number | null;
  stderr: string;
}

/**
 * Runs scripts/bench-worker.ts with LAB_BACKEND=backend. `stepLimitS` arms a watchdog at each "step" message;
 * `startLimitS` bounds the time before the first message.
 */
function runWorker(
  job: ProbeJob | MeasureJob,
  opts: { verbose: boolean; stepLimitS?: number; startLimitS: number; onMessage?: (m: WorkerMessage) => void },
): Promise<WorkerRun> {
  return new Promise((resolve) => {
    const child: ChildProcess = fork(WORKER, [JSON.stringify(job)], {
      cwd: ROOT,
      execArgv: ["--import", "tsx"],
      env: { ...process.env, LAB_BACKEND: job.backend },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const run: WorkerRun = { messages: [], code: null, stderr: "" };
    let timer: NodeJS.Timeout | undefined;
    let current: { phase: Phase; index: number; warm: boolean } | undefined;
    const arm = (seconds: number | undefined, what?: { phase: Phase; index: number; warm: boolean }) => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      current = what;
      if (seconds !== undefined) {
        timer = setTimeout(() => {
          run.killedDuring = current;
          child.kill("SIGKILL");
        }, seconds * 1000);
      }
    };
    arm(opts.startLimitS);
    const keep = (chunk: Buffer) => {
      run.stderr = (run.stderr + chunk.toString()).slice(-4000);
      if (opts.verbose) process.stderr.write(chunk);
    };
    child.stderr!.on("data", keep);
    child.stdout!.on("data", keep);
    child.on("message", (m: WorkerMessage) => {
      run.messages.push(m);
      if (m.type === "step" && opts.stepLimitS !== undefined) {
        // Grace on top of the budget: the child reports a step that ends just over it by itself.
        arm(opts.stepLimitS + Math.max(2, 0.05 * opts.stepLimitS), m);
      } else if (m.type !== "step") {
        arm(undefined);
      }
      opts.onMessage?.(m);
    });
    child.on("exit", (code) => {
      arm(undefined);
      run.code = code;
      resolve(run);
    });
  });
}

export interface BackendProbe {
  choice: string;
  available: boolean;
  name?: string;
  detail?: string;
  kernels?: string[];
  reason?: string;
}

async function probeBackend(choice: string, verbose: boolean): Promise<BackendProbe> {
  const run = await runWorker({ kind: "probe", backend: choice }, { verbose, startLimitS: 120 });
  const m = run.messages.find((x) => x.type === "probe");
  if (m && m.type === "probe") {
    return m.ok ? { choice, available: true, name: m.name, detail: m.detail, kernels: m.kernels } : { choice, available: false, reason: m.reason };
  }
  const tail = run.stderr.trim().split("\n").slice(-3).join(" | ");
  return { choice, available: false, reason: `probe process exited with code ${run.code}${tail ? `: ${tail}` : ""}` };
}

export type Cell = PhaseResult;

export interface BackendCell {
  params?: number;
  infer: Cell;
  train: Cell;
}

const num = (x: number, digits = 1) => x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function describe(r: PhaseResult): string {
  if (r.status === "ok") return `${num(r.imagesPerSecond)} img/s (median of ${r.steps} step${r.steps === 1 ? "" : "s"}, ${num(r.medianMs / 1000, 2)} s/step)`;
  if (r.status === "too-slow") return `too slow (> ${r.budget} s/step)`;
  if (r.status === "out-of-memory") return `out of memory: ${r.message}`;
  return `error: ${r.message}`;
}

async function measureBackend(backend: string, spec: ModelSpec, batch: number, o: BenchOptions, tag: string): Promise<BackendCell> {
  const results: Partial<Record<Phase, Cell>> = {};
  let params: number | undefined;
  let phases = [...PHASES];
  while (phases.length > 0) {
    const job: MeasureJob = { kind: "measure", backend, spec, batch, warmup: o.warmup, steps: o.steps, budget: o.budget, seed: o.seed, phases };
    const run = await runWorker(job, {
      verbose: o.verbose,
      stepLimitS: o.budget,
      startLimitS: Math.max(120, o.budget),
      onMessage: (m) => {
        if (m.type === "step") {
          const n = o.warmup + o.steps;
          log(`${tag} ${m.phase} step ${m.index + 1}/${n}${m.warm ? " (warm-up)" : ""}`);
        } else if (m.type === "phase") {
          log(`${tag} ${m.phase}: ${describe(m.result)}`);
        }
      },
    });
    for (const m of run.messages) {
      if (m.type === "ready") params = m.params;
      if (m.type === "phase") results[m.phase] = m.result;
    }
    if (run.killedDuring) {
      const p = run.killedDuring.phase;
      results[p] = { status: "too-slow", budget: o.budget };
      log(`${tag} ${p}: too slow (a step ran past the ${o.budget} s budget; stopped)`);
    }
    if (results.infer?.status === "too-slow" && !results.train) {
      // A training step contains a forward pass: it cannot be faster than inference.
      results.train = { status: "too-slow", budget: o.budget, inferred: true };
    }
    const left = phases.filter((p) => !results[p]);
    if (left.length === phases.length || !run.killedDuring) {
      // No progress, or the process ended without a watchdog kill: whatever is missing failed.
      const err = run.messages.find((m) => m.type === "error");
      const tail = run.stderr.trim().split("\n").slice(-3).join(" | ");
      const message = err && err.type === "error" ? err.message : `worker exited with code ${run.code}${tail ? `: ${tail}` : ""}`;
      for (const p of left) {
        results[p] = { status: "error", message };
        log(`${tag} ${p}: error: ${message}`);
      }
      break;
    }
    phases = left;
  }
  return { params, infer: results.infer!, train: results.train! };
}

export interface TorchInfo {
  available: boolean;
  python: string;
  version?: string;
  threads?: number;
  reason?: string;
}

function torchInfo(python: string): TorchInfo {
  const r = spawnSync(python, [TORCH_BENCH, "--version"], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  if (r.error) return { available: false, python, reason: `${python} could not be run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})` };
  if (r.status !== 0) {
    const last = (r.stderr || "").trim().split("\n").pop() ?? "";
    return { available: false, python, reason: `${python} has no usable torch (${last || `exit code ${r.status}`})` };
  }
  const j = JSON.parse(r.stdout) as { torch: string; threads: number };
  return { available: true, python, version: j.torch, threads: j.threads };
}

export interface TorchCell {
  params?: number;
  infer: Cell;
  train: Cell;
}

function measureTorch(spec: ModelSpec, batch: number, o: BenchOptions, tag: string): Promise<TorchCell> {
  const args = [TORCH_BENCH, "--spec", JSON.stringify(spec), "--batch", String(batch), "--warmup", String(o.warmup), "--steps", String(o.steps), "--budget", String(o.budget), "--seed", String(o.seed), "--threads", "2"];
  return new Promise((resolve) => {
    const child = spawn(o.python, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let killed = false;
    // Each phase stops near its budget; a step over it is reported by the script, so this only catches hangs.
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, (4 * o.budget + 120) * 1000);
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => {
      err = (err + c.toString()).slice(-4000);
      for (const line of c.toString().split("\n")) if (line.trim().startsWith("pytorch ")) log(`${tag} ${line.trim().slice(8)}`);
      if (o.verbose) process.stderr.write(c);
    });
    const fail = (message: string): TorchCell => ({ infer: { status: "error", message }, train: { status: "error", message } });
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve(fail(`${o.python}: ${e.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (killed) return resolve(fail(`PyTorch run killed after ${4 * o.budget + 120} s`));
      try {
        const j = JSON.parse(out) as { params: number; phases: Record<Phase, Cell> };
        for (const p of PHASES) log(`${tag} ${p}: ${describe(j.phases[p])}`);
        resolve({ params: j.params, infer: j.phases.infer, train: j.phases.train });
      } catch {
        const tail = err.trim().split("\n").filter((l) => !l.trim().startsWith("pytorch ")).slice(-3).join(" | ");
        resolve(fail(`torch_bench.py exited with code ${code}${tail ? `: ${tail}` : ""}`));
      }
    });
  });
}

// ------------------------------------------------------------------------------------------------ report

export interface ModelReport {
  id: string;
  preset: string;
  numClasses: number;
  batch: number;
  params: { ours: number | null; torch: number | null; match: boolean | null };
  backends: Record<string, BackendCell & { ratio: { train: number | null; infer: number | null } }>;
  torch: TorchCell | null;
}

const rate = (c: Cell | undefined) => (c && c.status === "ok" ? c.imagesPerSecond : null);
const ratio = (ours: Cell, ref: Cell | undefined) => {
  const a = rate(ours);
  const b = rate(ref);
  return a !== null && b !== null ? a / b : null;
};

function cellText(c: Cell | undefined): string {
  if (!c) return "—";
  if (c.status === "ok") return num(c.imagesPerSecond);
  if (c.status === "too-slow") return `too slow (> ${c.budget} s/step)`;
  if (c.status === "out-of-memory") return "out of memory";
  return "error";
}

/** Above this many cores used by other processes during a measurement, the table says so. */
const OTHERS_WARN = 0.25;

/** initBackend's "LAB_BACKEND=x requested but unavailable: x: why (hint)" → "why". */
function shortReason(choice: string, reason: string): string {
  const m = reason.match(new RegExp(`unavailable: ${choice}: (.*)$`));
  const r = m ? m[1] : reason;
  const cut = r.indexOf(" (");
  return cut > 0 ? r.slice(0, cut) : r;
}

function table(rows: string[][], right: boolean[]): string {
  const w = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return rows.map((r) => "  " + r.map((c, j) => (right[j] ? c.padStart(w[j]) : c.padEnd(w[j]))).join("   ").trimEnd()).join("\n");
}

/** The tables of a --json document. */
export function renderText(doc: BenchDocument): string {
  const m = doc.machine;
  const out: string[] = [];
  out.push(`minicifar-lab bench: ${m.cores} cores (${m.cpuModel}), Node ${m.node}, tfjs ${m.tfjs}`);
  out.push(
    m.torch.available
      ? `PyTorch ${m.torch.version} (${m.torch.python}, ${m.torch.threads} threads)`
      : `PyTorch: not measured — ${m.torch.reason ?? "disabled (--no-torch)"}; our figures only`,
  );
  out.push(`backends: ${m.backends.filter((b) => b.available).map((b) => `${b.choice} (${b.detail})`).join(", ") || "none available"}`);
  const un = m.backends.filter((b) => !b.available);
  if (un.length) out.push(`unavailable: ${un.map((b) => `${b.choice} (${shortReason(b.choice, b.reason ?? "")})`).join("; ")}`);
  const c = doc.config;
  out.push(`${c.warmup} warm-up + ${c.steps} timed steps per measurement, budget ${c.budget} s; img/s = batch / median step time`);
  for (const r of doc.models) {
    out.push("");
    const p = r.params;
    const pt = p.torch === null ? "PyTorch: —" : p.match === null ? `PyTorch ${p.torch.toLocaleString("en-US")}` : p.match ? `PyTorch ${p.torch.toLocaleString("en-US")}: equal` : `PyTorch ${p.torch.toLocaleString("en-US")}: MISMATCH`;
    out.push(`${r.id}: ${r.preset}, ${r.numClasses} classes, batch ${r.batch}, ${p.ours === null ? "?" : p.ours.toLocaleString("en-US")} parameters (${pt})`);
    const withTorch = r.torch !== null;
    const rows: string[][] = [["backend", "train img/s", "infer img/s", ...(withTorch ? ["train ours/PyTorch", "infer ours/PyTorch"] : [])]];
    const fmtRatio = (x: number | null) => (x === null ? "—" : `${x.toFixed(2)}×`);
    for (const [name, b] of Object.entries(r.backends)) {
      rows.push([name, cellText(b.train), cellText(b.infer), ...(withTorch ? [fmtRatio(b.ratio.train), fmtRatio(b.ratio.infer)] : [])]);
    }
    if (r.torch) rows.push([`PyTorch ${m.torch.version ?? ""}`.trim(), cellText(r.torch.train), cellText(r.torch.infer), "(reference)", "(reference)"]);
    if (rows.length === 1) rows.push(["(nothing measured)", "", "", ...(withTorch ? ["", ""] : [])]);
    out.push(table(rows, [false, true, true, true, true]));
    const notes: string[] = [];
    const all: [string, BackendCell | TorchCell][] = [...Object.entries(r.backends), ...(r.torch ? ([["PyTorch", r.torch]] as [string, TorchCell][]) : [])];
    for (const [name, b] of all) {
      for (const ph of PHASES) {
        const cell = b[ph];
        if (cell.status === "error" || cell.status === "out-of-memory") notes.push(`${name} ${ph}: ${cell.message}`);
        if (cell.status === "ok" && cell.steps < c.steps) notes.push(`${name} ${ph}: ${cell.steps} timed step${cell.steps === 1 ? "" : "s"} (budget)`);
        if (cell.status === "ok" && cell.tensorsLeaked) notes.push(`${name} ${ph}: ${cell.tensorsLeaked} tensors leaked`);
        const others = cell.status === "ok" ? (cell.cores?.others ?? 0) : 0;
        if (others > OTHERS_WARN) notes.push(`${name} ${ph}: other processes used ${others.toFixed(2)} cores meanwhile (figure may be low)`);
      }
    }
    for (const n of notes) out.push(`  note: ${n}`);
  }
  return out.join("\n");
}

export interface BenchDocument {
  machine: {
    cores: number;
    cpuModel: string;
    memoryGiB: number;
    platform: string;
    node: string;
    tfjs: string;
    backends: BackendProbe[];
    torch: TorchInfo;
  };
  config: { steps: number; warmup: number; budget: number; seed: number; torchThreads: number };
  models: ModelReport[];
}

async function main(argv: string[]): Promise<number> {
  let o: BenchOptions;
  try {
    o = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`bench: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  if (o.help) {
    console.log(USAGE);
    return 0;
  }
  const envBackend = process.env.LAB_BACKEND?.trim().toLowerCase();
  let explicit = o.backends !== null;
  let wanted = o.backends ?? [...BACKEND_CHOICES];
  if (!explicit && envBackend) {
    if (!(BACKEND_CHOICES as readonly string[]).includes(envBackend)) {
      process.stderr.write(`bench: LAB_BACKEND: unknown value "${process.env.LAB_BACKEND}"; valid: ${BACKEND_CHOICES.join(", ")}\n`);
      return 2;
    }
    wanted = [envBackend];
    explicit = true;
  }

  log(`bench: probing backends ${wanted.join(", ")}…`);
  const probes: BackendProbe[] = [];
  for (const b of wanted) {
    const p = await probeBackend(b, o.verbose);
    probes.push(p);
    log(`bench:   ${b}: ${p.available ? `${p.name} (${p.detail})` : `unavailable (${shortReason(b, p.reason ?? "")})`}`);
  }
  const usable = probes.filter((p) => p.available).map((p) => p.choice);
  // A backend asked for by name that cannot start: say so now, before minutes of PyTorch measurements.
  const missing = explicit ? probes.filter((p) => !p.available) : [];
  if (missing.length) {
    for (const p of missing) process.stderr.write(`bench: FAILED: requested backend ${p.choice} is unavailable: ${p.reason ?? "no reason given"}\n`);
    return 1;
  }
  let torch: TorchInfo = { available: false, python: o.python, reason: "disabled (--no-torch)" };
  if (o.torch) {
    torch = torchInfo(o.python);
    log(`bench: ${torch.available ? `PyTorch ${torch.version} via ${o.python}` : `PyTorch unavailable: ${torch.reason}; printing our figures only`}`);
  }

  const doc: BenchDocument = {
    machine: {
      cores: os.cpus().length,
      cpuModel: os.cpus()[0]?.model.trim() ?? "unknown",
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      node: process.version,
      tfjs: tf.version.tfjs,
      backends: probes,
      torch,
    },
    config: { steps: o.steps, warmup: o.warmup, budget: o.budget, seed: o.seed, torchThreads: 2 },
    models: [],
  };

  const total = o.models.length * (usable.length + (torch.available ? 1 : 0));
  let k = 0;
  const failures: string[] = [];
  for (const id of o.models) {
    const m = BENCH_MODELS[id];
    const spec = presetSpec(m.preset, m.numClasses);
    const report: ModelReport = { id, preset: m.preset, numClasses: m.numClasses, batch: m.batch, params: { ours: null, torch: null, match: null }, backends: {}, torch: null };
    if (torch.available) {
      // The oracle takes VGG as a full config; everything else as our spec.
      const tspec: ModelSpec = spec.family === "vgg" && !spec.config ? { ...spec, config: vggConfigFromStages(spec.blocks, spec.widths) } : spec;
      report.torch = await measureTorch(tspec, m.batch, o, `bench: [${++k}/${total}] ${id} on PyTorch:`);
      report.params.torch = report.torch.params ?? null;
    }
    for (const b of usable) {
      const cell = await measureBackend(b, spec, m.batch, o, `bench: [${++k}/${total}] ${id} on ${b}:`);
      if (cell.params !== undefined) {
        if (report.params.ours !== null && report.params.ours !== cell.params) {
          failures.push(`${id}: ${b} built ${cell.params} parameters, another backend ${report.params.ours}`);
        }
        report.params.ours ??= cell.params;
      }
      report.backends[b] = { ...cell, ratio: { train: ratio(cell.train, report.torch?.train), infer: ratio(cell.infer, report.torch?.infer) } };
    }
    if (report.params.ours !== null && report.params.torch !== null) {
      report.params.match = report.params.ours === report.params.torch;
      log(`bench: ${id}: ${report.params.ours.toLocaleString("en-US")} parameters here, ${report.params.torch.toLocaleString("en-US")} in PyTorch${report.params.match ? "" : " — MISMATCH"}`);
      if (!report.params.match) failures.push(`${id}: ${report.params.ours} parameters here but ${report.params.torch} in PyTorch`);
    }
    const cells = [...Object.values(report.backends), ...(report.torch ? [report.torch] : [])];
    if (cells.some((c) => c.train.status === "error" || c.infer.status === "error")) failures.push(`${id}: a measurement failed (see the notes)`);
    doc.models.push(report);
  }

  if (o.json) console.log(JSON.stringify(doc, null, 2));
  else console.log(renderText(doc));
  if (usable.length === 0) failures.push("no backend could be measured");
  for (const f of failures) log(`bench: FAILED: ${f}`);
  return failures.length ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
