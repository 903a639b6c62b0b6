#!/usr/bin/python3
"""PyTorch oracle for the training engine (src/train: optimizers, LR schedules, loss, clipping).

Writes small JSON fixtures under test/fixtures/torch/ that test/train/torch-train.test.ts compares against:

  train-optimizers.json  a few steps of torch.optim.SGD / Adam / AdamW / RMSprop (weight decay, nesterov,
                         dampening, amsgrad, centered, momentum variants) on two small parameters with given
                         gradients and a learning rate that changes every step: the parameters after each step and
                         the optimizer's final state (torch's slot names: momentum_buffer, exp_avg, ...)
  train-schedules.json   the learning rate (and one-cycle's momentum / beta1) of every optimizer step of a run of
                         E epochs × S steps, for every schedule as it is used in PyTorch: StepLR, MultiStepLR and
                         CosineAnnealingLR stepped once per epoch, OneCycleLR once per batch, LinearLR warm-up in
                         front through SequentialLR (epochs) or chained per batch (steps)
  train-loss.json        nn.CrossEntropyLoss(label_smoothing=eps): mean loss and its gradient w.r.t. the logits
  train-clip.json        nn.utils.clip_grad_norm_(max_norm): the total 2-norm and the clipped gradients

Each case carries its settings in the TrainSpec / optimizer-option names of this project, so the tests feed
them to our code as they are. Run with Debian's torch (CPU, deterministic):
  /usr/bin/python3 scripts/torch_train_fixtures.py
"""
import json
import os
import warnings

import torch
import torch.nn as nn
from torch.optim import lr_scheduler as L

warnings.filterwarnings("ignore")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "torch")


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def write(name, obj):
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.relpath(path))


# ------------------------------------------------------------------------------------------------ optimizers
def optimizers():
    g = torch.Generator().manual_seed(7)
    shapes = {"a": [2, 3], "b": [4]}
    init = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
    steps = 6
    grads = [{k: torch.randn(s, generator=g) * 0.5 for k, s in shapes.items()} for _ in range(steps)]
    # step 3 gives "b" no gradient: torch skips parameters whose .grad is None (no state update, no step count)
    lr_mult = [1.0, 0.5, 0.8, 0.2, 1.0, 0.3]

    # (name, torch constructor, our optimizer name, our options)
    cases = [
        ("sgd", lambda p: torch.optim.SGD(p, lr=0.1), "sgd", {"lr": 0.1}),
        ("sgd-momentum-wd", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=5e-4), "sgd",
         {"lr": 0.1, "momentum": 0.9, "weightDecay": 5e-4}),
        ("sgd-nesterov-wd", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-2, nesterov=True), "sgd",
         {"lr": 0.05, "momentum": 0.9, "weightDecay": 1e-2, "nesterov": True}),
        ("sgd-dampening", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.8, dampening=0.3), "sgd",
         {"lr": 0.1, "momentum": 0.8, "dampening": 0.3}),
        ("adam", lambda p: torch.optim.Adam(p, lr=1e-2), "adam", {"lr": 1e-2}),
        ("adam-wd-betas-eps", lambda p: torch.optim.Adam(p, lr=3e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), "adam",
         {"lr": 3e-2, "betas": [0.8, 0.99], "eps": 1e-6, "weightDecay": 0.1}),
        ("adam-amsgrad", lambda p: torch.optim.Adam(p, lr=1e-2, amsgrad=True, weight_decay=1e-3), "adam",
         {"lr": 1e-2, "amsgrad": True, "weightDecay": 1e-3}),
        ("adamw-default-wd", lambda p: torch.optim.AdamW(p, lr=5e-2), "adamw", {"lr": 5e-2}),
        ("adamw-wd-amsgrad", lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.5, amsgrad=True, betas=(0.85, 0.995)), "adamw",
         {"lr": 1e-2, "weightDecay": 0.5, "amsgrad": True, "betas": [0.85, 0.995]}),
        ("rmsprop", lambda p: torch.optim.RMSprop(p, lr=1e-2), "rmsprop", {"lr": 1e-2}),
        ("rmsprop-momentum-wd", lambda p: torch.optim.RMSprop(p, lr=1e-2, alpha=0.9, momentum=0.9, weight_decay=1e-2), "rmsprop",
         {"lr": 1e-2, "alpha": 0.9, "momentum": 0.9, "weightDecay": 1e-2}),
        ("rmsprop-centered", lambda p: torch.optim.RMSprop(p, lr=1e-2, centered=True, eps=1e-6), "rmsprop",
         {"lr": 1e-2, "centered": True, "eps": 1e-6}),
        ("rmsprop-centered-momentum", lambda p: torch.optim.RMSprop(p, lr=5e-3, centered=True, momentum=0.5, alpha=0.95), "rmsprop",
         {"lr": 5e-3, "centered": True, "momentum": 0.5, "alpha": 0.95}),
    ]
    out = {
        "shapes": shapes,
        "init": {k: flat(v) for k, v in init.items()},
        "grads": [{k: flat(v) for k, v in gs.items() if not (i == 3 and k == "b")} for i, gs in enumerate(grads)],
        "lrMultipliers": lr_mult,
        "cases": [],
    }
    for name, make, ours, options in cases:
        params = {k: nn.Parameter(v.clone()) for k, v in init.items()}
        opt = make(list(params.values()))
        base = opt.param_groups[0]["lr"]
        trace = []
        for i in range(steps):
            for k, p in params.items():
                p.grad = None if (i == 3 and k == "b") else grads[i][k].clone()
            opt.param_groups[0]["lr"] = base * lr_mult[i]
            opt.step()
            trace.append({k: flat(p) for k, p in params.items()})
        state = {}
        counts = {}
        for k, p in params.items():
            st = opt.state[p]
            for slot, v in st.items():
                if slot == "step":
                    counts[k] = int(v.item()) if torch.is_tensor(v) else int(v)
                elif torch.is_tensor(v) and v.shape == p.shape:
                    state.setdefault(slot, {})[k] = flat(v)
        out["cases"].append({"name": name, "optimizer": ours, "options": options, "params": trace, "state": state, "stepCounts": counts})
    write("train-optimizers.json", out)


# ------------------------------------------------------------------------------------------------ schedules
def schedules():
    E, S = 8, 5  # epochs, optimizer steps per epoch

    def run(spec, make_opt, make_sched):
        """make_sched(opt) -> [(scheduler, 'epoch' | 'batch')]; returns lr (and momentum) before every step."""
        p = [nn.Parameter(torch.zeros(3))]
        opt = make_opt(p)
        scheds = make_sched(opt)
        lrs, moms = [], []
        for e in range(E):
            for b in range(S):
                grp = opt.param_groups[0]
                lrs.append(grp["lr"])
                moms.append(grp["betas"][0] if "betas" in grp else grp.get("momentum", 0.0))
                p[0].grad = torch.ones(3)
                opt.step()
                for s, unit in scheds:
                    if unit == "batch":
                        s.step()
            for s, unit in scheds:
                if unit == "epoch":
                    s.step()
        return {"spec": spec, "lr": lrs, "momentum": moms}

    sgd = lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)
    adam = lambda p: torch.optim.Adam(p, lr=0.01)
    base = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "epochs": E}
    T = E * S
    cases = [
        ("constant", {**base, "schedule": "constant"}, sgd, lambda o: []),
        ("step", {**base, "schedule": "step", "scheduleOptions": {"stepSize": 3, "gamma": 0.5}}, sgd,
         lambda o: [(L.StepLR(o, step_size=3, gamma=0.5), "epoch")]),
        ("step-default-gamma", {**base, "schedule": "step", "scheduleOptions": {"stepSize": 2}}, sgd,
         lambda o: [(L.StepLR(o, step_size=2), "epoch")]),
        ("multistep", {**base, "schedule": "multistep", "scheduleOptions": {"milestones": [2, 5, 6], "gamma": 0.2}}, sgd,
         lambda o: [(L.MultiStepLR(o, milestones=[2, 5, 6], gamma=0.2), "epoch")]),
        ("cosine", {**base, "schedule": "cosine"}, sgd, lambda o: [(L.CosineAnnealingLR(o, T_max=E), "epoch")]),
        ("cosine-etamin", {**base, "schedule": "cosine", "scheduleOptions": {"etaMin": 0.01}}, sgd,
         lambda o: [(L.CosineAnnealingLR(o, T_max=E, eta_min=0.01), "epoch")]),
        ("cosine-tmax-short", {**base, "schedule": "cosine", "scheduleOptions": {"tMax": 3, "etaMin": 0.005}}, sgd,
         lambda o: [(L.CosineAnnealingLR(o, T_max=3, eta_min=0.005), "epoch")]),
        ("onecycle", {**base, "schedule": "onecycle"}, sgd, lambda o: [(L.OneCycleLR(o, max_lr=0.1, total_steps=T), "batch")]),
        ("onecycle-linear-three-phase", {**base, "schedule": "onecycle", "scheduleOptions": {
            "pctStart": 0.25, "divFactor": 10, "finalDivFactor": 100, "annealStrategy": "linear", "threePhase": True,
            "baseMomentum": 0.8, "maxMomentum": 0.9}}, sgd,
         lambda o: [(L.OneCycleLR(o, max_lr=0.1, total_steps=T, pct_start=0.25, div_factor=10, final_div_factor=100,
                                  anneal_strategy="linear", three_phase=True, base_momentum=0.8, max_momentum=0.9), "batch")]),
        ("onecycle-no-momentum-cycle", {**base, "schedule": "onecycle", "scheduleOptions": {"cycleMomentum": False}}, sgd,
         lambda o: [(L.OneCycleLR(o, max_lr=0.1, total_steps=T, cycle_momentum=False), "batch")]),
        ("onecycle-adam", {"optimizer": "adam", "lr": 0.01, "epochs": E, "schedule": "onecycle"}, adam,
         lambda o: [(L.OneCycleLR(o, max_lr=0.01, total_steps=T), "batch")]),
        ("warmup-epochs-cosine", {**base, "schedule": "cosine", "warmup": {"epochs": 2, "startFactor": 0.1}}, sgd,
         lambda o: [(L.SequentialLR(o, [L.LinearLR(o, start_factor=0.1, total_iters=2), L.CosineAnnealingLR(o, T_max=E - 2)],
                                    milestones=[2]), "epoch")]),
        ("warmup-epochs-default-factor-multistep", {**base, "schedule": "multistep", "scheduleOptions": {"milestones": [2, 4]},
                                                   "warmup": {"epochs": 3}}, sgd,
         lambda o: [(L.SequentialLR(o, [L.LinearLR(o, total_iters=3), L.MultiStepLR(o, milestones=[2, 4])], milestones=[3]), "epoch")]),
        ("warmup-epochs-constant", {**base, "schedule": "constant", "warmup": {"epochs": 3, "startFactor": 0.25}}, sgd,
         lambda o: [(L.LinearLR(o, start_factor=0.25, total_iters=3), "epoch")]),
        ("warmup-steps-onecycle", {**base, "schedule": "onecycle", "warmup": {"steps": 7, "startFactor": 0.1}}, sgd,
         lambda o: [(L.SequentialLR(o, [L.LinearLR(o, start_factor=0.1, total_iters=7), L.OneCycleLR(o, max_lr=0.1, total_steps=T - 7)],
                                    milestones=[7]), "batch")]),
        ("warmup-epochs-onecycle", {**base, "schedule": "onecycle", "warmup": {"epochs": 1, "startFactor": 0.5}}, sgd,
         lambda o: [(L.SequentialLR(o, [L.LinearLR(o, start_factor=0.5, total_iters=S), L.OneCycleLR(o, max_lr=0.1, total_steps=T - S)],
                                    milestones=[S]), "batch")]),
        # per-batch warm-up chained with a per-epoch schedule: two schedulers on one optimizer (LinearLR stepped per
        # batch, the epoch schedule per epoch); their factors multiply
        ("warmup-steps-cosine", {**base, "schedule": "cosine", "warmup": {"steps": 8, "startFactor": 0.01}}, sgd,
         lambda o: [(L.LinearLR(o, start_factor=0.01, total_iters=8), "batch"), (L.CosineAnnealingLR(o, T_max=E), "epoch")]),
        ("warmup-steps-step", {**base, "schedule": "step", "scheduleOptions": {"stepSize": 1, "gamma": 0.7}, "warmup": {"steps": 12}}, sgd,
         lambda o: [(L.LinearLR(o, total_iters=12), "batch"), (L.StepLR(o, step_size=1, gamma=0.7), "epoch")]),
        ("warmup-steps-cosine-etamin-within-epoch", {**base, "schedule": "cosine", "scheduleOptions": {"etaMin": 0.02},
                                                    "warmup": {"steps": 4, "startFactor": 0.2}}, sgd,
         lambda o: [(L.LinearLR(o, start_factor=0.2, total_iters=4), "batch"), (L.CosineAnnealingLR(o, T_max=E, eta_min=0.02), "epoch")]),
    ]
    out = {"epochs": E, "stepsPerEpoch": S, "cases": []}
    for name, spec, mk_opt, mk in cases:
        out["cases"].append({"name": name, **run(spec, mk_opt, mk)})
    write("train-schedules.json", out)


# ------------------------------------------------------------------------------------------------ loss, clipping
def loss_and_clip():
    g = torch.Generator().manual_seed(11)
    n, k = 6, 5
    logits = torch.randn(n, k, generator=g) * 2
    labels = torch.tensor([0, 3, 4, 1, 1, 2])
    cases = []
    for eps in [0.0, 0.1, 0.25]:
        x = logits.clone().requires_grad_(True)
        loss = nn.CrossEntropyLoss(label_smoothing=eps)(x, labels)
        loss.backward()
        cases.append({"labelSmoothing": eps, "loss": float(loss), "grad": flat(x.grad)})
    write("train-loss.json", {"shape": [n, k], "logits": flat(logits), "labels": labels.tolist(), "cases": cases})

    shapes = {"w": [3, 4], "b": [4], "s": [1]}
    grads = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
    total = float(torch.norm(torch.stack([torch.norm(v) for v in grads.values()])))
    ccases = []
    for max_norm in [0.5, 2.0, total, 100.0]:
        ps = {k: nn.Parameter(torch.zeros(s)) for k, s in shapes.items()}
        for k, p in ps.items():
            p.grad = grads[k].clone()
        tn = nn.utils.clip_grad_norm_(list(ps.values()), max_norm)
        ccases.append({"maxNorm": max_norm, "totalNorm": float(tn), "grads": {k: flat(p.grad) for k, p in ps.items()}})
    write("train-clip.json", {"shapes": shapes, "grads": {k: flat(v) for k, v in grads.items()}, "cases": ccases})


if __name__ == "__main__":
    torch.set_num_threads(1)
    optimizers()
    schedules()
    loss_and_clip()
