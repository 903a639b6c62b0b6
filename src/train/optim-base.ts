/**
 * What every optimizer of the lab shares (SGD in `sgd.ts`; Adam, AdamW, RMSprop in `optimizers.ts`):
 *
 *  - the `Optimizer` interface: `step(vars, grads)` applies one update with PyTorch's arithmetic; `lr` (and
 *    `momentumOrBeta1`, which one-cycle cycles) may change before any step;
 *  - `OptimizerState`: the optimizer's whole state as plain data, for checkpoints. `getState()` copies it out
 *    (slot values as Float32Arrays keyed by torch's state names and the variables' names); `setState()` copies it
 *    back in, so that a restored optimizer continues exactly as the original would. Hyperparameters are not part of
 *    the state: they come from the TrainSpec (and the schedule, from the epoch and step);
 *  - `SlotStore`, the per-variable tensors (momentum buffers, moment estimates) and update counts behind both.
 */
import * as tf from "@tensorflow/tfjs";
import type { OptimizerName } from "../results/types";

export interface OptimizerState {
  /** The optimizer that wrote it ("sgd" | "adam" | "adamw" | "rmsprop"); setState refuses another. */
  name: OptimizerName;
  /** Number of step() calls. */
  step: number;
  /** Updates applied to each variable: torch's state[p]["step"] (a variable with no gradient in a step is skipped). */
  varSteps: Record<string, number>;
  /**
   * Slot → variable name → values (row-major, the variable's shape). Slot names are torch's state keys:
   * sgd momentum_buffer; adam/adamw exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad); rmsprop square_avg,
   * momentum_buffer (momentum > 0), grad_avg (centered). A variable appears once it has been updated.
   */
  slots: Record<string, Record<string, Float32Array>>;
  /** Variable name → shape, for every variable in `slots`. */
  shapes: Record<string, number[]>;
}

export interface Optimizer {
  readonly name: OptimizerName;
  /** Learning rate of the next step (schedules set it before every step). */
  lr: number;
  /** The term one-cycle cycles (torch's cycle_momentum): momentum for SGD and RMSprop, beta1 for Adam and AdamW. */
  momentumOrBeta1: number;
  /** One update of `vars` from `grads` (variable name → gradient; a variable without one is left alone). Grads are not disposed. */
  step(vars: tf.Variable[], grads: tf.NamedTensorMap): void;
  /** A copy of the whole state as plain data. */
  getState(): OptimizerState;
  /** Replace the state by a copy of `state` (from getState of the same kind of optimizer). */
  setState(state: OptimizerState): void;
  /** Free the state's tensors. */
  dispose(): void;
}

/** What every optimizer shares: its per-variable slots in a SlotStore, exported, imported and freed. */
export abstract class SlotOptimizer implements Optimizer {
  abstract readonly name: OptimizerName;
  abstract lr: number;
  abstract momentumOrBeta1: number;
  protected abstract readonly state: SlotStore;
  abstract step(vars: tf.Variable[], grads: tf.NamedTensorMap): void;

  getState(): OptimizerState {
    return this.state.export();
  }

  setState(state: OptimizerState): void {
    this.state.import(state);
  }

  dispose(): void {
    this.state.dispose();
  }
}

/** Throws unless `v` is a finite number within [min, max] (bounds inclusive unless `open`). */
export function checkNumber(owner: string, key: string, v: unknown, min: number, max = Infinity, open: { min?: boolean; max?: boolean } = {}): void {
  const ok = typeof v === "number" && Number.isFinite(v) && (open.min ? v > min : v >= min) && (open.max ? v < max : v <= max);
  if (!ok) {
    const range = `${open.min ? "(" : "["}${min}, ${max === Infinity ? "∞)" : `${max}${open.max ? ")" : "]"}`}`;
    throw new Error(`${owner}: ${key} must be a finite number in ${range}, got ${JSON.stringify(v)}`);
  }
}

/** Per-variable slot tensors and update counts, with export to and import from OptimizerState. */
export class SlotStore {
  private slots = new Map<string, Map<string, tf.Tensor>>();
  private counts = new Map<string, number>();
  steps = 0;

  constructor(
    private readonly owner: OptimizerName,
    private readonly slotNames: readonly string[],
  ) {
    for (const s of slotNames) this.slots.set(s, new Map());
  }

  get(slot: string, varName: string): tf.Tensor | undefined {
    return this.slots.get(slot)!.get(varName);
  }

  /** Keep `t` as the slot's new value (disposing the old one). */
  set(slot: string, varName: string, t: tf.Tensor): void {
    const m = this.slots.get(slot)!;
    const old = m.get(varName);
    if (old && old !== t) old.dispose();
    m.set(varName, t);
  }

  /** The number of updates of `varName` once this one is counted (torch's step += 1). */
  bump(varName: string): number {
    const n = (this.counts.get(varName) ?? 0) + 1;
    this.counts.set(varName, n);
    return n;
  }

  /** Throws when a restored slot does not have the variable's shape. */
  checkShape(slot: string, v: tf.Variable): void {
    const t = this.get(slot, v.name);
    if (t && !tf.util.arraysEqual(t.shape, v.shape)) {
      throw new Error(`${this.owner}: state ${slot} of ${v.name} has shape [${t.shape}], the variable has [${v.shape}]`);
    }
  }

  export(): OptimizerState {
    const slots: OptimizerState["slots"] = {};
    const shapes: OptimizerState["shapes"] = {};
    for (const [slot, m] of this.slots) {
      if (m.size === 0) continue;
      slots[slot] = {};
      for (const [name, t] of m) {
        slots[slot][name] = new Float32Array(t.dataSync() as Float32Array); // a copy: backends may reuse the buffer
        shapes[name] = [...t.shape];
      }
    }
    return { name: this.owner, step: this.steps, varSteps: Object.fromEntries(this.counts), slots, shapes };
  }

  import(state: OptimizerState): void {
    if (!state || typeof state !== "object") throw new Error(`${this.owner}.setState: expected an OptimizerState object, got ${JSON.stringify(state)}`);
    if (state.name !== this.owner) throw new Error(`${this.owner}.setState: the state is from optimizer "${state.name}", not "${this.owner}"`);
    const unknown = Object.keys(state.slots ?? {}).filter((s) => !this.slotNames.includes(s));
    if (unknown.length) throw new Error(`${this.owner}.setState: unknown slot(s) ${unknown.join(", ")}; valid: ${this.slotNames.join(", ")}`);
    if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`${this.owner}.setState: step must be an integer ≥ 0, got ${state.step}`);
    const fresh = new Map<string, Map<string, tf.Tensor>>();
    try {
      for (const s of this.slotNames) {
        const m = new Map<string, tf.Tensor>();
        fresh.set(s, m);
        for (const [name, values] of Object.entries(state.slots?.[s] ?? {})) {
          const shape = state.shapes?.[name];
          if (!shape) throw new Error(`${this.owner}.setState: no shape for variable ${name}`);
          const n = shape.reduce((a, b) => a * b, 1);
          if (!(values instanceof Float32Array) && !Array.isArray(values)) throw new Error(`${this.owner}.setState: ${s} of ${name} must be a Float32Array`);
          if (values.length !== n) throw new Error(`${this.owner}.setState: ${s} of ${name} has ${values.length} values, shape [${shape}] needs ${n}`);
          m.set(name, tf.tensor(new Float32Array(values), shape, "float32"));
        }
      }
    } catch (e) {
      for (const m of fresh.values()) for (const t of m.values()) t.dispose();
      throw e;
    }
    this.dispose();
    this.slots = fresh;
    this.counts = new Map(Object.entries(state.varSteps ?? {}).map(([k, v]) => [k, Number(v)]));
    this.steps = state.step;
  }

  dispose(): void {
    for (const m of this.slots.values()) {
      for (const t of m.values()) t.dispose();
      m.clear();
    }
    this.counts.clear();
    this.steps = 0;
  }
}
