/**
 * The one command-line entry point (`minicifar-lab`). Each command calls into
 * the pipeline folders: data → models → train → results → charts → notebook → report.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { initBackend } from "./backend";
import { minicifarJson, parseMinicifarArgs } from "./data";
import { readNotebook, runNotebook } from "./notebook";
import { runNotebooks } from "./notebook/cache";
import { buildReport } from "./report";
import { buildModel, presetSpec, modelSummary, forwardFlops, PRESETS } from "./models";
import type { ModelSpec } from "./results/types";
import { loadRuns, openStore, resultsDb } from "./results/store";
import { SpecFileError, SweepSpecError, expandSweep, readJsonFile, readSweepSpec, runSweep, singleRunSweep, sweepCheckpointDir, type SweepConfig, type SweepSpec } from "./train/sweep";
import { TrainSpecError } from "./train/spec";
import { PROFILES } from "./train/experiments";
import { logitsCommand } from "./models/torch/cli";

export const REPO_ROOT = path.resolve(__dirname, "..");
const NOTEBOOK_DIR = path.join(REPO_ROOT, "notebooks");

const USAGE = `usage: minicifar-lab <command> [options]

commands:
  build [--profile quick|full] [--only 01,03] [--force] [--no-pdf] [--quiet|--log-output] [TIMEOUTS]
        compile src/, execute every notebook headlessly (reports/notebooks/),
        then write reports/report.html, reports/slides.html and reports/slides.pdf;
        a notebook whose code, parameters and imported src/ files are unchanged since its
        last successful run is reused, not executed (--force executes everything);
        cell output (training progress) is echoed unless --quiet
  run NOTEBOOK [--output FILE] [-p NAME VALUE]... [--quiet|--log-output] [TIMEOUTS]
        execute one notebook (values are JSON, else strings); the executed copy goes to
        reports/runs/NAME.ipynb unless --output says otherwise (build outputs are never touched)
  report [--profile quick|full] [--no-pdf]
        rebuild the report and slides from reports/notebooks and reports/results.sqlite
  data minicifar [--json] [--classes N|a,b,c] [--R N] [--train-size F] [--seed N] [--split-seed N]
        print the MINICIFAR subset (positions and train/valid indices)
  model summary NAME [--classes N] [--activation X] [--dropout F] [--block-dropout F] [--width-multiplier F]
        [--blocks 2,2,2] [--widths 16,32,64] [--block basic|bottleneck] [--growth N] [--reduction F] [--json]
        print a model card: parameters, multiply-adds per 32×32 image, size and layers (NAME: a preset)
  logits --model NAME --classes N --weights FILE.pth --input FILE.bin [--cifar100] [--json]
        load a PyTorch checkpoint (kuangliu state_dict, {'net': ...}, bare or module.-prefixed)
        and print the logits of each image of a CIFAR binary-format file
  train --config FILE [--results-db FILE] [--fresh]
        train one model on MINICIFAR from a JSON config { name?, model, train?, data?, profile? }
        (model: a preset name or { preset, ...knobs }; train: TrainSpec keys); checkpointed after every
        epoch and resumed when run again; recorded in reports/results.sqlite
  sweep FILE [--results-db FILE] [--budget-minutes N] [--budget-runs N]
        run a hyperparameter sweep (grid or random search over model and train keys, see README);
        resumable: configs already done are skipped, a killed run resumes from its checkpoint;
        ends with the best config and a table
  backend
        print the TensorFlow.js backend that would be used (LAB_BACKEND overrides)
  compile
        compile src/ to dist/ (what notebooks import)

TIMEOUTS (seconds): --cell-timeout S (each cell), --notebook-timeout S (the whole notebook),
  --start-timeout S (the kernel's start, default 60)
options may also be written --name=value; LAB_PROFILE sets the default profile of build and report`;

class UsageError extends Error {}

function takeFlag(args: string[], name: string): boolean {
  const i = args.indexOf(name);
  if (i < 0) return false;
  args.splice(i, 1);
  return true;
}

function takeOption(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new UsageError(`option ${name} needs a value`);
  args.splice(i, 2);
  return v;
}

/** The value of a numeric option, which must be > 0 (and an integer when `integer`); `what` is "number of seconds" etc. */
function positiveNumber(flag: string, v: string, what: string, integer = false): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new UsageError(`${flag} must be a ${what}, got "${v}"`);
  return n;
}

function noRest(args: string[], cmd: string): void {
  if (args.length) throw new UsageError(`${cmd}: unexpected argument(s) ${args.map((a) => JSON.stringify(a)).join(" ")}`);
}

function parseValue(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** Compile src/ to dist/ with tsc: notebooks import the compiled library (tslab cannot compile files outside its folder). */
export function compile(log: (s: string) => void = console.log): void {
  const tsc = require.resolve("typescript/bin/tsc");
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [tsc, "-p", path.join(REPO_ROOT, "tsconfig.build.json")], { cwd: REPO_ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`compiling src/ failed:\n${r.stdout}${r.stderr}`);
  log(`compiled src/ → dist/ in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
}

export function listNotebooks(only?: string): string[] {
  const all = fs.readdirSync(NOTEBOOK_DIR).filter((f) => f.endsWith(".ipynb")).sort();
  if (!only) return all.map((f) => path.join(NOTEBOOK_DIR, f));
  const wanted = only.split(",").map((s) => s.trim()).filter(Boolean);
  return wanted.map((w) => {
    const hit = all.find((f) => f === w || f.startsWith(w));
    if (!hit) throw new UsageError(`--only: no notebook matches "${w}"; notebooks: ${all.join(", ")}`);
    return path.join(NOTEBOOK_DIR, hit);
  });
}

function checkProfile(p: string): string {
  if (!Object.keys(PROFILES).includes(p)) throw new UsageError(`--profile must be one of ${Object.keys(PROFILES).join(", ")}, got "${p}"`);
  return p;
}

/** Refuse to report notebooks that failed, or that ran with another profile than the one reported. */
export function checkExecuted(files: string[], profile: string): void {
  for (const f of files) {
    const meta = (readNotebook(f).metadata?.minicifar_lab ?? {}) as { status?: string; parameters?: { profile?: unknown }; error?: unknown };
    if (meta.status && meta.status !== "ok" && meta.status !== "completed") {
      throw new Error(`executed notebook ${f} has status "${meta.status}" (a failed or interrupted run); re-run \`minicifar-lab build --profile ${profile}\``);
    }
    const ran = meta.parameters?.profile;
    if (ran !== undefined && ran !== profile) {
      throw new Error(`executed notebook ${f} ran with profile "${String(ran)}", not "${profile}"; use --profile ${String(ran)} or re-run \`minicifar-lab build --profile ${profile}\``);
    }
  }
}

async function report(profile: string, pdf: boolean, notebooks?: string[]): Promise<number> {
  const outDir = path.join(REPO_ROOT, "reports");
  const executed =
    notebooks ??
    listNotebooks()
      .map((nb) => path.join(outDir, "notebooks", path.basename(nb)))
      .filter((f) => fs.existsSync(f));
  if (executed.length === 0) throw new Error(`no executed notebooks in ${path.join(outDir, "notebooks")}; run \`minicifar-lab build\` first`);
  checkExecuted(executed, profile);
  // Finished runs only: a run still "running" (or one that failed) has no final metrics to report.
  const runs = loadRuns({ profile, status: ["done", "diverged"] });
  if (runs.length === 0) {
    throw new Error(`no finished runs of profile "${profile}" in ${resultsDb()}; run \`minicifar-lab build --profile ${profile}\` first`);
  }
  await initBackend({ log: () => {} }); // the slides rebuild models (stage tables): on the lab's backend, quietly
  const r = await buildReport({ notebooks: executed, runs, outDir, pdf });
  // buildReport prints the paths, and the reason when the PDF could not be written.
  return r.pdfError ? 2 : 0;
}

/** --cell-timeout, --notebook-timeout and --start-timeout (seconds) as runNotebook options. */
function takeTimeouts(args: string[]): { cellTimeoutMs?: number; notebookTimeoutMs?: number; startTimeoutMs?: number } {
  const out: { cellTimeoutMs?: number; notebookTimeoutMs?: number; startTimeoutMs?: number } = {};
  for (const [flag, key] of [["--cell-timeout", "cellTimeoutMs"], ["--notebook-timeout", "notebookTimeoutMs"], ["--start-timeout", "startTimeoutMs"]] as const) {
    const v = takeOption(args, flag);
    if (v !== undefined) out[key] = positiveNumber(flag, v, "positive number of seconds") * 1000;
  }
  return out;
}

/** Output echo: on by default; --quiet turns it off, --log-output (papermill's flag) keeps it on. */
function takeLogOutput(args: string[]): boolean {
  const quiet = takeFlag(args, "--quiet");
  const explicit = takeFlag(args, "--log-output");
  if (quiet && explicit) throw new UsageError("--quiet and --log-output contradict each other");
  return !quiet;
}

async function build(args: string[]): Promise<number> {
  const profile = checkProfile(takeOption(args, "--profile") ?? process.env.LAB_PROFILE ?? "quick");
  const only = takeOption(args, "--only");
  const pdf = !takeFlag(args, "--no-pdf");
  const force = takeFlag(args, "--force");
  const logOutput = takeLogOutput(args);
  const timeouts = takeTimeouts(args);
  noRest(args, "build");
  const t0 = Date.now();
  const notebooks = listNotebooks(only);
  notebooks.forEach((nb) => readNotebook(nb));
  await initBackend(); // the notebooks' kernels make the same choice; print it in the build log too
  compile();
  const outcomes = await runNotebooks({
    notebooks,
    outDir: path.join(REPO_ROOT, "reports", "notebooks"),
    parameters: { profile },
    root: REPO_ROOT,
    force,
    log: (l) => console.log(l.startsWith("== ") ? `\n${l} (profile ${profile})` : l),
    logOutput,
    ...timeouts,
  });
  const executed = outcomes.map((x) => x.output);
  const reused = outcomes.filter((x) => x.how === "reused").map((x) => path.basename(x.notebook));
  const times = outcomes.filter((x) => x.how === "executed").map((x) => `${path.basename(x.notebook)} ${x.seconds.toFixed(0)}s`);
  const code = await report(profile, pdf, only ? undefined : executed);
  const ran = notebooks.length - reused.length;
  console.log(
    `\nbuild finished in ${((Date.now() - t0) / 1000).toFixed(0)}s: ${ran} notebook${ran === 1 ? "" : "s"} executed, ${reused.length} reused${reused.length ? ` (${reused.join(", ")})` : ""}${times.length ? `; ${times.join(", ")}` : ""}`,
  );
  return code;
}

async function run(args: string[]): Promise<number> {
  const output = takeOption(args, "--output");
  const logOutput = takeLogOutput(args);
  const timeouts = takeTimeouts(args);
  const parameters: Record<string, unknown> = {};
  for (let i = args.indexOf("-p"); i >= 0; i = args.indexOf("-p")) {
    const [name, value] = [args[i + 1], args[i + 2]];
    if (name === undefined || value === undefined) throw new UsageError("-p needs a NAME and a VALUE");
    parameters[name] = parseValue(value);
    args.splice(i, 3);
  }
  if (args.length !== 1) throw new UsageError("run: give exactly one NOTEBOOK");
  const input = path.resolve(args[0]);
  readNotebook(input); // fail fast on a missing or malformed notebook
  compile();
  const out = output ? path.resolve(output) : path.join(REPO_ROOT, "reports", "runs", path.basename(input));
  const r = await runNotebook(input, out, { parameters, log: (l) => console.log(l), logOutput, ...timeouts });
  console.log(`executed ${r.cells} cells in ${r.seconds.toFixed(1)}s → ${r.output}`);
  return 0;
}

async function data(args: string[]): Promise<number> {
  const sub = args.shift();
  if (sub !== "minicifar") throw new UsageError(`data: unknown subcommand ${JSON.stringify(sub ?? "")}; valid: minicifar`);
  const json = takeFlag(args, "--json");
  let r: ReturnType<typeof minicifarJson>;
  try {
    r = minicifarJson(parseMinicifarArgs(args));
  } catch (err) {
    throw new UsageError((err as Error).message); // every failure here is a bad option value
  }
  if (json) {
    console.log(JSON.stringify(r));
  } else {
    console.log(`classes: ${r.classes.join(", ")}`);
    console.log(`train positions per class: ${r.trainPositions.length} (first ${r.trainPositions.slice(0, 10).join(" ")})`);
    console.log(`test positions per class: ${r.testPositions.length} (first ${r.testPositions.slice(0, 10).join(" ")})`);
    console.log(`train/valid: ${r.trainIndices.length}/${r.validIndices.length}`);
  }
  return 0;
}

/** `model summary` knob options: option → [ModelSpec field, parser]. */
const MODEL_KNOB_OPTIONS: Record<string, [keyof ModelSpec, (v: string) => unknown]> = {
  "--activation": ["activation", String],
  "--dropout": ["dropout", Number],
  "--block-dropout": ["blockDropout", Number],
  "--width-multiplier": ["widthMultiplier", Number],
  "--blocks": ["blocks", (v) => v.split(",").map(Number)],
  "--widths": ["widths", (v) => v.split(",").map(Number)],
  "--block": ["block", String],
  "--growth": ["growth", Number],
  "--reduction": ["reduction", Number],
};

async function model(args: string[]): Promise<number> {
  const sub = args.shift();
  if (sub !== "summary") throw new UsageError(`model: unknown subcommand ${JSON.stringify(sub ?? "")}; valid: summary`);
  const json = takeFlag(args, "--json");
  const classes = Number(takeOption(args, "--classes") ?? "10");
  const overrides: Record<string, unknown> = {};
  for (const [opt, [field, parse]] of Object.entries(MODEL_KNOB_OPTIONS)) {
    const v = takeOption(args, opt);
    if (v !== undefined) overrides[field] = parse(v);
  }
  const unknown = args.find((a) => a.startsWith("-"));
  if (unknown) throw new UsageError(`model summary: unknown option "${unknown}"; valid: --classes, ${Object.keys(MODEL_KNOB_OPTIONS).join(", ")}, --json`);
  if (args.length !== 1) throw new UsageError(`model summary: give exactly one model NAME; valid: ${Object.keys(PRESETS).join(", ")}`);
  let m: ReturnType<typeof buildModel>;
  try {
    m = buildModel(presetSpec(args[0], classes, overrides as Partial<ModelSpec>));
  } catch (err) {
    throw new UsageError((err as Error).message); // unknown model or bad knob value
  }
  const s = modelSummary(m);
  const flops = forwardFlops(m);
  m.dispose();
  if (json) {
    console.log(JSON.stringify(s));
    return 0;
  }
  console.log(`${args[0]} (${classes} classes)`);
  console.log(`parameters: ${s.params.toLocaleString("en-US")} trainable, ${s.nonTrainable.toLocaleString("en-US")} non-trainable (BN running statistics)`);
  console.log(`multiply-adds per 32×32 image: ${(s.flops / 1e6).toFixed(2)} M (convs and dense layers)`);
  console.log(`FLOPs per 32×32 image: ${(flops / 1e6).toFixed(2)} M (multiply-add = 2; BN, activations, pooling and adds included)`);
  console.log(`size: ${(s.sizeBytes / 2 ** 20).toFixed(2)} MiB (float32)`);
  const rows = s.layers.map((l) => [l.name, l.className, `[${l.outputShape.join(", ")}]`, String(l.params)]);
  const head = ["layer", "class", "output", "params"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) console.log(r.map((c, i) => (i === 3 ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  "));
  return 0;
}

/** `train --config FILE` and `sweep FILE`: both run through runSweep (a train config is a sweep of one). */
async function sweepCommand(cmd: "train" | "sweep", args: string[]): Promise<number> {
  if (takeFlag(args, "--help") || takeFlag(args, "-h")) {
    const lines = USAGE.split("\n");
    const start = lines.findIndex((l) => l.startsWith(`  ${cmd} `));
    const end = lines.findIndex((l, i) => i > start && /^ {2}\S/.test(l));
    console.log(`usage: minicifar-lab${lines.slice(start, end).join("\n").slice(1)}\nsee the README, "Training and sweeps", for the file format`);
    return 0;
  }
  const db = takeOption(args, "--results-db");
  let spec: SweepSpec;
  let fresh = false;
  let configs: SweepConfig[];
  try {
    if (cmd === "train") {
      fresh = takeFlag(args, "--fresh");
      const file = takeOption(args, "--config");
      if (!file) throw new UsageError("train needs --config FILE (a JSON object { name?, model, train?, data?, profile? })");
      noRest(args, "train");
      spec = singleRunSweep(readJsonFile(file, "train config"), file);
    } else {
      const minutes = takeOption(args, "--budget-minutes");
      const runs = takeOption(args, "--budget-runs");
      const file = args.shift();
      if (!file) throw new UsageError("sweep needs a spec file: minicifar-lab sweep FILE");
      noRest(args, "sweep");
      const budget = {
        ...(minutes !== undefined ? { minutes: positiveNumber("--budget-minutes", minutes, "positive number") } : {}),
        ...(runs !== undefined ? { runs: positiveNumber("--budget-runs", runs, "positive integer", true) } : {}),
      };
      spec = readSweepSpec(file);
      if (Object.keys(budget).length) spec = { ...spec, budget: { ...spec.budget, ...budget } };
    }
    configs = expandSweep(spec); // every config is checked before the backend starts
  } catch (e) {
    if (e instanceof SweepSpecError || e instanceof TrainSpecError || e instanceof SpecFileError) {
      console.error(`minicifar-lab ${cmd}: ${e.message}`);
      return 2;
    }
    throw e;
  }
  if (fresh) {
    // train --fresh: forget the config's stored run and checkpoint, so that it trains from epoch 1.
    const store = db ?? resultsDb();
    for (const c of configs) fs.rmSync(path.join(sweepCheckpointDir(store), spec.name, `${c.hash}.ckpt`), { force: true });
    const s = openStore(store);
    try {
      for (const c of configs) s.deleteRun(c.id);
    } finally {
      s.close();
    }
  }
  await initBackend();
  const onInterrupt = () => {
    console.error(`\nminicifar-lab ${cmd}: interrupted; the run in progress stays "running" in the store with its last epoch's checkpoint: run the same command again to resume it`);
    process.exit(130);
  };
  process.once("SIGINT", onInterrupt);
  const result = await runSweep(spec, db ? { resultsDb: db } : {});
  process.removeListener("SIGINT", onInterrupt);
  // A sweep's diverged runs are results; a single training that diverged did not train.
  return result.rows.some((r) => r.status === "failed" || (cmd === "train" && r.status === "diverged")) ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  // --name=value is the same as --name value.
  const args = argv.flatMap((a) => (/^--[^=]+=/.test(a) ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a]));
  const cmd = args.shift();
  try {
    switch (cmd) {
      case "build":
        return await build(args);
      case "run":
        return await run(args);
      case "report": {
        const profile = checkProfile(takeOption(args, "--profile") ?? process.env.LAB_PROFILE ?? "quick");
        const pdf = !takeFlag(args, "--no-pdf");
        noRest(args, "report");
        return await report(profile, pdf);
      }
      case "data":
        return await data(args);
      case "logits":
        return await logitsCommand(args);
      case "model":
        return await model(args);
      case "train":
      case "sweep":
        return await sweepCommand(cmd, args);
      case "backend": {
        noRest(args, "backend");
        await initBackend();
        return 0;
      }
      case "compile":
        noRest(args, "compile");
        compile();
        return 0;
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(USAGE);
        return cmd === undefined ? 1 : 0;
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`minicifar-lab: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}
