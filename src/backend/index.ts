/**
 * Choosing the TensorFlow.js backend, and the kernels we add to it.
 *
 * Exports:
 *  - initBackend(opts?)      picks the best backend present (tfjs-node-gpu → tfjs-node → onednn → wasm → cpu), or
 *                            the one named by opts.prefer / the LAB_BACKEND env var (node-gpu | node | onednn |
 *                            wasm | cpu, or the aliases tensorflow | dnnl); installs our wasm training kernels when wasm
 *                            is chosen; logs one line; idempotent (a second call returns the current backend).
 *  - backendInfo()           what was chosen and why: {name, label, detail, reason, fallbacks, kernels}.
 *  - BACKEND_CHOICES         the accepted values of LAB_BACKEND / prefer.
 *  - resetBackendChoice()    forget the choice so that the next initBackend selects again (tests).
 *  - installWasmTrainingKernels(), uninstallWasmTrainingKernels(), WASM_TRAINING_KERNELS
 *                            the wasm training kernels and gradients (see wasm-kernels.ts: Conv2DBackpropFilter,
 *                            Conv2DBackpropInput, Tile, Sum, Mean, BN gradient, Identity, Cast), usable on their
 *                            own, e.g. when a test switches with tf.setBackend("wasm"). Idempotent.
 *  - types BackendInfo, BackendChoice, InitBackendOptions.
 *
 * Everything goes through the single `@tensorflow/tfjs` instance: a native package that registers its backend
 * into another copy of tfjs-core is reported as unusable and skipped.
 */
import * as tf from "@tensorflow/tfjs";
import { installWasmTrainingKernels } from "./wasm-kernels";
import { BACKEND_NAME as ONEDNN, ONEDNN_KERNELS, loadOneDnnAddon, registerOneDnnBackend } from "./onednn";

export { installWasmTrainingKernels, uninstallWasmTrainingKernels, WASM_TRAINING_KERNELS } from "./wasm-kernels";
export { registerOneDnnBackend, loadOneDnnAddon, activeBackendHas, ONEDNN_KERNELS } from "./onednn";

/** User-facing choices, in order of preference for automatic selection. */
export const BACKEND_CHOICES = ["node-gpu", "node", "onednn", "wasm", "cpu"] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
/** Aliases: "tensorflow" (tfjs-node's backend name) means node-gpu, else node; "dnnl" means onednn. */
const TFJS_ALIASES: Record<string, BackendChoice[]> = { tensorflow: ["node-gpu", "node"], dnnl: ["onednn"] };

export interface BackendInfo {
  /** tfjs backend name: "tensorflow" | "onednn" | "wasm" | "cpu". */
  name: string;
  /** Which choice provided it: "node-gpu" | "node" | "onednn" | "wasm" | "cpu". */
  choice: BackendChoice;
  /** Details, e.g. "XNNPACK SIMD, 1 thread". */
  detail: string;
  /** Why this one: "LAB_BACKEND=wasm", "prefer=cpu" or "auto". */
  reason: string;
  /** Candidates tried before it and why each was skipped. */
  fallbacks: { choice: BackendChoice; reason: string }[];
  /** Kernels we registered on it. */
  kernels: string[];
  /** The line that initBackend logged. */
  line: string;
}

export interface InitBackendOptions {
  /** A BACKEND_CHOICES value or tfjs name; LAB_BACKEND (env) wins over it. */
  prefer?: string;
  log?: (s: string) => void;
}

let current: BackendInfo | null = null;
let pending: Promise<string> | null = null;

function parseChoice(value: string, source: string): BackendChoice[] {
  const v = value.trim().toLowerCase();
  if ((BACKEND_CHOICES as readonly string[]).includes(v)) return [v as BackendChoice];
  const alias = TFJS_ALIASES[v];
  if (alias) return alias;
  throw new Error(
    `${source}: unknown backend "${value}"; valid values: ${BACKEND_CHOICES.join(", ")} (or the aliases ${Object.keys(TFJS_ALIASES).join(", ")})`,
  );
}

function errMsg(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split("\n")[0].slice(0, 200);
}

function isNotInstalled(e: unknown, pkg: string): boolean {
  const err = e as { code?: string; message?: string };
  return err?.code === "MODULE_NOT_FOUND" && typeof err.message === "string" && err.message.includes(`'${pkg}'`);
}

/** Tries one candidate; returns its detail string, or throws an Error whose message says why not. */
async function tryChoice(choice: BackendChoice): Promise<{ name: string; detail: string; kernels: string[] }> {
  switch (choice) {
    case "node-gpu":
    case "node": {
      const pkg = choice === "node-gpu" ? "@tensorflow/tfjs-node-gpu" : "@tensorflow/tfjs-node";
      try {
        require(pkg);
      } catch (e) {
        throw new Error(isNotInstalled(e, pkg) ? `${pkg.replace("@tensorflow/", "")} not installed` : `${pkg} failed to load: ${errMsg(e)}`);
      }
      if (!tf.findBackendFactory("tensorflow")) {
        throw new Error(`${pkg} loaded but registered no "tensorflow" backend in this @tensorflow/tfjs (duplicate tfjs-core copy?)`);
      }
      if (!(await tf.setBackend("tensorflow"))) throw new Error(`${pkg}: the "tensorflow" backend failed to initialise`);
      const ver = (tf.version as Record<string, string>)["tfjs-node"] ?? "";
      return { name: "tensorflow", detail: `${pkg.replace("@tensorflow/", "")}${ver ? " " + ver : ""}`, kernels: [] };
    }
    case "onednn": {
      registerOneDnnBackend();
      if (!(await tf.setBackend(ONEDNN))) throw new Error("onednn failed to initialise");
      const loaded = loadOneDnnAddon();
      const info = "addon" in loaded ? loaded.addon.info() : null;
      const detail = info ? `oneDNN ${info.version}, ${info.cpuRuntime}, ${info.threads} thread${info.threads === 1 ? "" : "s"}` : "oneDNN";
      return { name: ONEDNN, detail, kernels: [...ONEDNN_KERNELS] };
    }
    case "wasm": {
      try {
        require("@tensorflow/tfjs-backend-wasm");
      } catch (e) {
        throw new Error(isNotInstalled(e, "@tensorflow/tfjs-backend-wasm") ? "tfjs-backend-wasm not installed" : `tfjs-backend-wasm failed to load: ${errMsg(e)}`);
      }
      if (!tf.findBackendFactory("wasm")) throw new Error("tfjs-backend-wasm registered no backend in this @tensorflow/tfjs");
      const kernels = installWasmTrainingKernels();
      let ok = false;
      try {
        ok = await tf.setBackend("wasm");
      } catch (e) {
        throw new Error(`wasm failed to initialise: ${errMsg(e)}`);
      }
      if (!ok) throw new Error("wasm failed to initialise");
      const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT").catch(() => false);
      let threads = 1;
      try {
        const wasmPkg = require("@tensorflow/tfjs-backend-wasm") as { getThreadsCount?: () => number };
        threads = wasmPkg.getThreadsCount?.() ?? 1;
      } catch {
        /* keep 1 */
      }
      return { name: "wasm", detail: `XNNPACK${simd ? " SIMD" : ""}, ${threads} thread${threads === 1 ? "" : "s"}`, kernels };
    }
    case "cpu": {
      if (!(await tf.setBackend("cpu"))) throw new Error("cpu failed to initialise");
      return { name: "cpu", detail: "plain JS", kernels: [] };
    }
  }
}

async function select(opts: InitBackendOptions): Promise<string> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const env = process.env.LAB_BACKEND;
  let candidates: BackendChoice[];
  let reason: string;
  let explicit = false;
  if (env != null && env.trim() !== "") {
    candidates = parseChoice(env, "LAB_BACKEND");
    reason = `LAB_BACKEND=${env.trim()}`;
    explicit = true;
  } else if (opts.prefer != null && opts.prefer.trim() !== "") {
    candidates = parseChoice(opts.prefer, "initBackend prefer");
    reason = `prefer=${opts.prefer.trim()}`;
    explicit = true;
  } else {
    candidates = [...BACKEND_CHOICES];
    reason = "auto";
  }
  const fallbacks: { choice: BackendChoice; reason: string }[] = [];
  for (const choice of candidates) {
    try {
      const got = await tryChoice(choice);
      const skipped = fallbacks.map((f) => f.reason);
      const line = `minicifar-lab: backend ${got.name} (${[got.detail, ...skipped].join("; ")})`;
      current = { name: got.name, choice, detail: got.detail, reason, fallbacks, kernels: got.kernels, line };
      log(line);
      return got.name;
    } catch (e) {
      fallbacks.push({ choice, reason: errMsg(e) });
    }
  }
  const why = fallbacks.map((f) => `${f.choice}: ${f.reason}`).join("; ");
  const hint = candidates.some((c) => c === "node" || c === "node-gpu")
    ? " (tfjs-node needs to download libtensorflow at install time: on a machine with internet access run `npm i @tensorflow/tfjs-node`, or `@tensorflow/tfjs-node-gpu` with CUDA; unset LAB_BACKEND to let the lab pick onednn, then wasm)"
    : "";
  throw new Error(explicit ? `${reason} requested but unavailable: ${why}${hint}` : `no TensorFlow.js backend could be initialised: ${why}`);
}

/**
 * Picks and activates the backend; returns its tfjs name. Order: LAB_BACKEND env, then opts.prefer, then
 * automatic (node-gpu, node, wasm, cpu). A second call returns the current backend without re-selecting.
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<string> {
  if (current) return current.name;
  if (!pending) {
    pending = select(opts).finally(() => {
      pending = null;
    });
  }
  return pending;
}

/** What initBackend chose, or null before it ran. */
export function backendInfo(): BackendInfo | null {
  return current ? { ...current, fallbacks: [...current.fallbacks], kernels: [...current.kernels] } : null;
}

/** Forgets the choice so that initBackend selects again (tests). Does not unregister kernels. */
export function resetBackendChoice(): void {
  current = null;
}
