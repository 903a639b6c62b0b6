/**
 * Optimizers with PyTorch 1.13 semantics (single-tensor code path, float32), one class each, all implementing
 * `Optimizer` (`optim-base.ts`): `step(vars, grads)`, a settable `lr`, `getState()` / `setState()`.
 *
 *  - `SGD`      torch.optim.SGD (re-exported from `sgd.ts`): momentum, dampening, nesterov, L2 weight decay.
 *  - `Adam`     torch.optim.Adam: betas, eps, weight decay as L2 added to the gradient, amsgrad.
 *  - `AdamW`    torch.optim.AdamW: as Adam but the weight decay is decoupled (p ← p·(1 − lr·wd) before the
 *               update); its default weight decay is torch's 0.01.
 *  - `RMSprop`  torch.optim.RMSprop: alpha, eps, momentum, centered, L2 weight decay.
 *  - `makeOptimizer(spec)`  the optimizer a TrainSpec names, with torch's defaults for what it leaves out
 *               (`OPTIMIZER_DEFAULTS`); `OPTIMIZER_PARAMS` lists the TrainSpec keys each optimizer reads.
 *
 * State slots (torch's names): adam/adamw exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad only); rmsprop square_avg,
 * momentum_buffer (momentum > 0), grad_avg (centered); per-variable step counts drive Adam's bias correction.
 */
import * as tf from "@tensorflow/tfjs";
import type { OptimizerName, TrainSpec } from "../results/types";
import { SGD } from "./sgd";
import { SlotOptimizer, SlotStore, checkNumber, type Optimizer } from "./optim-base";

export { SGD, type SGDOptions } from "./sgd";
export type { Optimizer, OptimizerState } from "./optim-base";

export interface AdamOptions {
  lr: number;
  /** Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Default 0 for Adam (L2 added to the gradient), 0.01 for AdamW (decoupled). */
  weightDecay?: number;
  /** Default false. */
  amsgrad?: boolean;
}

export interface RMSpropOptions {
  lr: number;
  /** Default 0.99. */
  alpha?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Default 0. */
  weightDecay?: number;
  /** Default 0. */
  momentum?: number;
  /** Default false. */
  centered?: boolean;
}

/** torch's defaults for everything a TrainSpec may leave out (lr is always given). */
export const OPTIMIZER_DEFAULTS = {
  sgd: { momentum: 0, weightDecay: 0, dampening: 0, nesterov: false },
  adam: { betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0, amsgrad: false },
  adamw: { betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0.01, amsgrad: false },
  rmsprop: { alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false },
} as const;

/** The optimizer-specific TrainSpec keys each optimizer reads (besides lr). */
export const OPTIMIZER_PARAMS: Record<OptimizerName, readonly (keyof TrainSpec)[]> = {
  sgd: ["momentum", "weightDecay", "dampening", "nesterov"],
  adam: ["betas", "eps", "weightDecay", "amsgrad"],
  adamw: ["betas", "eps", "weightDecay", "amsgrad"],
  rmsprop: ["alpha", "eps", "weightDecay", "momentum", "centered"],
};

/** Adam (decoupled = false) and AdamW (decoupled = true). */
class AdamBase extends SlotOptimizer {
  lr: number;
  beta1: number;
  beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;
  protected readonly state: SlotStore;

  constructor(
    readonly name: "adam" | "adamw",
    o: AdamOptions,
    private readonly decoupled: boolean,
  ) {
    super();
    const who = name === "adam" ? "Adam" : "AdamW";
    const d = OPTIMIZER_DEFAULTS[name];
    checkNumber(who, "lr", o.lr, 0);
    const betas = o.betas ?? d.betas;
    if (!Array.isArray(betas) || betas.length !== 2) throw new Error(`${who}: betas must be [beta1, beta2], got ${JSON.stringify(betas)}`);
    checkNumber(who, "betas[0]", betas[0], 0, 1, { max: true });
    checkNumber(who, "betas[1]", betas[1], 0, 1, { max: true });
    checkNumber(who, "eps", o.eps ?? d.eps, 0);
    checkNumber(who, "weightDecay", o.weightDecay ?? d.weightDecay, 0);
    this.lr = o.lr;
    [this.beta1, this.beta2] = betas;
    this.eps = o.eps ?? d.eps;
    this.weightDecay = o.weightDecay ?? d.weightDecay;
    this.amsgrad = o.amsgrad ?? false;
    this.state = new SlotStore(name, ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]);
  }

  get momentumOrBeta1(): number {
    return this.beta1;
  }

  set momentumOrBeta1(b: number) {
    this.beta1 = b;
  }

  step(vars: tf.Variable[], grads: tf.NamedTensorMap): void {
    const s = this.state;
    s.steps++;
    const { lr, beta1, beta2, eps, weightDecay: wd } = this;
    for (const v of vars) {
      const g0 = grads[v.name];
      if (!g0) continue;
      for (const slot of ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]) s.checkShape(slot, v);
      const t = s.bump(v.name);
      const m0 = s.get("exp_avg", v.name);
      const v0 = s.get("exp_avg_sq", v.name);
      const x0 = s.get("max_exp_avg_sq", v.name);
      const out = tf.tidy(() => {
        const g = wd && !this.decoupled ? tf.add(g0, tf.mul(v, wd)) : g0;
        const p = wd && this.decoupled ? tf.mul(v, 1 - lr * wd) : v;
        // exp_avg.mul_(beta1).add_(g, alpha=1-beta1); exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1-beta2); both start at 0.
        const gm = tf.mul(g, 1 - beta1);
        const m = m0 ? tf.add(tf.mul(m0, beta1), gm) : gm;
        const gs = tf.mul(tf.mul(g, g), 1 - beta2);
        const sq = v0 ? tf.add(tf.mul(v0, beta2), gs) : gs;
        const mx = this.amsgrad ? (x0 ? tf.maximum(x0, sq) : sq) : undefined;
        const bc1 = 1 - beta1 ** t;
        const bc2 = 1 - beta2 ** t;
        const stepSize = lr / bc1;
        const denom = tf.add(tf.div(tf.sqrt(mx ?? sq), Math.sqrt(bc2)), eps);
        const next = tf.sub(p, tf.mul(tf.div(m, denom), stepSize));
        return { next, m, sq, ...(mx ? { mx } : {}) } as Record<string, tf.Tensor>;
      });
      v.assign(out.next);
      out.next.dispose();
      s.set("exp_avg", v.name, out.m);
      s.set("exp_avg_sq", v.name, out.sq);
      if (out.mx) s.set("max_exp_avg_sq", v.name, out.mx === out.sq ? out.sq.clone() : out.mx);
    }
  }
}

/** torch.optim.Adam: weight decay as L2 added to the gradient. */
export class Adam extends AdamBase {
  constructor(o: AdamOptions) {
    super("adam", o, false);
  }
}

/** torch.optim.AdamW: decoupled weight decay (default 0.01). */
export class AdamW extends AdamBase {
  constructor(o: AdamOptions) {
    super("adamw", o, true);
  }
}

/** torch.optim.RMSprop. */
export class RMSprop extends SlotOptimizer {
  readonly name = "rmsprop" as const;
  lr: number;
  momentum: number;
  readonly alpha: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly centered: boolean;
  protected readonly state = new SlotStore("rmsprop", ["square_avg", "momentum_buffer", "grad_avg"]);

  constructor(o: RMSpropOptions) {
    super();
    const d = OPTIMIZER_DEFAULTS.rmsprop;
    checkNumber("RMSprop", "lr", o.lr, 0);
    checkNumber("RMSprop", "alpha", o.alpha ?? d.alpha, 0);
    checkNumber("RMSprop", "eps", o.eps ?? d.eps, 0);
    checkNumber("RMSprop", "weightDecay", o.weightDecay ?? d.weightDecay, 0);
    checkNumber("RMSprop", "momentum", o.momentum ?? d.momentum, 0);
    this.lr = o.lr;
    this.alpha = o.alpha ?? d.alpha;
    this.eps = o.eps ?? d.eps;
    this.weightDecay = o.weightDecay ?? d.weightDecay;
    this.momentum = o.momentum ?? d.momentum;
    this.centered = o.centered ?? d.centered;
  }

  get momentumOrBeta1(): number {
    return this.momentum;
  }

  set momentumOrBeta1(m: number) {
    this.momentum = m;
  }

  step(vars: tf.Variable[], grads: tf.NamedTensorMap): void {
    const s = this.state;
    s.steps++;
    const { lr, alpha, eps, weightDecay: wd, momentum } = this;
    for (const v of vars) {
      const g0 = grads[v.name];
      if (!g0) continue;
      for (const slot of ["square_avg", "momentum_buffer", "grad_avg"]) s.checkShape(slot, v);
      s.bump(v.name);
      const sq0 = s.get("square_avg", v.name);
      const ga0 = s.get("grad_avg", v.name);
      const b0 = s.get("momentum_buffer", v.name);
      const out = tf.tidy(() => {
        const g = wd ? tf.add(g0, tf.mul(v, wd)) : g0;
        // square_avg.mul_(alpha).addcmul_(g, g, value=1-alpha), from 0
        const gs = tf.mul(tf.mul(g, g), 1 - alpha);
        const sq = sq0 ? tf.add(tf.mul(sq0, alpha), gs) : gs;
        let ga: tf.Tensor | undefined;
        let avg: tf.Tensor;
        if (this.centered) {
          const gg = tf.mul(g, 1 - alpha);
          ga = ga0 ? tf.add(tf.mul(ga0, alpha), gg) : gg;
          avg = tf.sqrt(tf.sub(sq, tf.mul(ga, ga)));
        } else {
          avg = tf.sqrt(sq);
        }
        avg = tf.add(avg, eps);
        let next: tf.Tensor;
        let buf: tf.Tensor | undefined;
        if (momentum > 0) {
          // buf.mul_(momentum).addcdiv_(g, avg), from 0; p -= lr * buf
          const q = tf.div(g, avg);
          buf = b0 ? tf.add(tf.mul(b0, momentum), q) : q;
          next = tf.sub(v, tf.mul(buf, lr));
        } else {
          next = tf.sub(v, tf.mul(tf.div(g, avg), lr));
        }
        return { next, sq, ...(ga ? { ga } : {}), ...(buf ? { buf } : {}) } as Record<string, tf.Tensor>;
      });
      v.assign(out.next);
      out.next.dispose();
      s.set("square_avg", v.name, out.sq);
      if (out.ga) s.set("grad_avg", v.name, out.ga);
      if (out.buf) s.set("momentum_buffer", v.name, out.buf);
    }
  }
}

/** The optimizer of a (validated) TrainSpec, with torch's defaults for the parameters it leaves out. */
export function makeOptimizer(spec: Pick<TrainSpec, "optimizer" | "lr"> & Partial<TrainSpec>): Optimizer {
  switch (spec.optimizer) {
    case "sgd":
      return new SGD({ lr: spec.lr, momentum: spec.momentum, weightDecay: spec.weightDecay, dampening: spec.dampening, nesterov: spec.nesterov });
    case "adam":
      return new Adam({ lr: spec.lr, betas: spec.betas, eps: spec.eps, weightDecay: spec.weightDecay, amsgrad: spec.amsgrad });
    case "adamw":
      return new AdamW({ lr: spec.lr, betas: spec.betas, eps: spec.eps, weightDecay: spec.weightDecay, amsgrad: spec.amsgrad });
    case "rmsprop":
      return new RMSprop({ lr: spec.lr, alpha: spec.alpha, eps: spec.eps, weightDecay: spec.weightDecay, momentum: spec.momentum, centered: spec.centered });
    default:
      throw new Error(`unknown optimizer ${JSON.stringify((spec as { optimizer: unknown }).optimizer)}; valid: ${Object.keys(OPTIMIZER_PARAMS).join(", ")}`);
  }
}
