/**
 * SGD with PyTorch's `torch.optim.SGD` semantics: weight decay is L2 added to
 * the gradient, momentum buffers start as the first gradient, optional
 * dampening and Nesterov momentum. The learning rate (and the momentum, which
 * one-cycle cycles) can change between steps. On backends with the fused
 * LabSgdStep kernel (onednn) each parameter is updated in one native pass with
 * the same arithmetic. State: slot "momentum_buffer" (see `optim-base.ts`).
 */
import * as tf from "@tensorflow/tfjs";
import { SGD_STEP_KERNEL, activeBackendHas } from "../backend/onednn";
import { SlotOptimizer, SlotStore } from "./optim-base";

export interface SGDOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  dampening?: number;
  nesterov?: boolean;
}

export class SGD extends SlotOptimizer {
  readonly name = "sgd" as const;
  lr: number;
  momentum: number;
  readonly weightDecay: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  protected readonly state = new SlotStore("sgd", ["momentum_buffer"]);

  constructor(o: SGDOptions) {
    super();
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === "number" && (!Number.isFinite(v) || v < 0)) throw new Error(`SGD: ${k} must be a finite number ≥ 0, got ${v}`);
    }
    if (typeof o.lr !== "number") throw new Error(`SGD: lr must be a finite number ≥ 0, got ${JSON.stringify(o.lr)}`);
    if (o.nesterov && (!o.momentum || o.dampening)) throw new Error("SGD: Nesterov momentum requires momentum > 0 and zero dampening");
    this.lr = o.lr;
    this.momentum = o.momentum ?? 0;
    this.weightDecay = o.weightDecay ?? 0;
    this.dampening = o.dampening ?? 0;
    this.nesterov = o.nesterov ?? false;
  }

  get momentumOrBeta1(): number {
    return this.momentum;
  }

  set momentumOrBeta1(m: number) {
    this.momentum = m;
  }

  /** Apply one update. `grads` maps variable names to gradients; they are not disposed here. */
  step(vars: tf.Variable[], grads: tf.NamedTensorMap): void {
    const fused = activeBackendHas(SGD_STEP_KERNEL);
    this.state.steps++;
    for (const v of vars) {
      const g0 = grads[v.name];
      if (!g0) continue;
      this.state.checkShape("momentum_buffer", v);
      this.state.bump(v.name);
      const old = this.momentum ? this.state.get("momentum_buffer", v.name) : undefined;
      if (fused && v.dtype === "float32" && g0.dtype === "float32") {
        // One pass per parameter on backends with the fused kernel (onednn); same arithmetic as below.
        const inputs: tf.NamedTensorMap = { w: v, g: g0 };
        if (old) inputs.buf = old;
        const attrs = { lr: this.lr, momentum: this.momentum, weightDecay: this.weightDecay, dampening: this.dampening, nesterov: this.nesterov };
        const res = tf.engine().runKernel(SGD_STEP_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor | tf.Tensor[];
        const [next, buf] = Array.isArray(res) ? res : [res];
        v.assign(next);
        next.dispose();
        if (buf) this.state.set("momentum_buffer", v.name, buf);
        continue;
      }
      let buf: tf.Tensor | undefined;
      const next = tf.tidy(() => {
        let g: tf.Tensor = this.weightDecay ? tf.add(g0, tf.mul(v, this.weightDecay)) : g0;
        if (this.momentum) {
          const b = old ? tf.add(tf.mul(old, this.momentum), this.dampening ? tf.mul(g, 1 - this.dampening) : g) : tf.clone(g);
          buf = tf.keep(b);
          g = this.nesterov ? tf.add(g, tf.mul(b, this.momentum)) : b;
        }
        return tf.sub(v, tf.mul(g, this.lr));
      });
      v.assign(next);
      next.dispose();
      if (buf) this.state.set("momentum_buffer", v.name, buf);
    }
  }
}

/** Cosine annealing over `total` epochs (PyTorch's CosineAnnealingLR with eta_min 0, stepped per epoch). */
export function cosineLr(base: number, epoch: number, total: number): number {
  return (base * (1 + Math.cos((Math.PI * epoch) / total))) / 2;
}
