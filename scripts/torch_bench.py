#!/usr/bin/python3
"""PyTorch side of `npm run bench` (scripts/bench.ts): throughput of one model, in its own process.

    /usr/bin/python3 scripts/torch_bench.py --spec JSON --batch 64 [--warmup 1] [--steps 5] [--budget 90]
                                            [--seed 0] [--threads 2]
    /usr/bin/python3 scripts/torch_bench.py --version

--spec is one of our ModelSpecs (src/models PRESETS + numClasses; VGG with its full "config"). The network is
built from torch_oracle.py's kuangliu transcriptions (the test oracle), so there is a single PyTorch version of
each architecture. Prints one JSON document on stdout: torch version, threads, params
(sum(p.numel() for p in model.parameters())) and, per phase, the same fields as scripts/bench-worker.ts:

  infer: model.eval(), forward under torch.no_grad()
  train: model.train(), CrossEntropyLoss, backward, torch.optim.SGD(momentum 0.9, weight_decay 5e-4) step

Each phase runs --warmup untimed steps, then up to --steps timed ones; a step longer than --budget seconds makes
the phase "too-slow", and timed steps stop once the phase has used the budget. Progress goes to stderr.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_oracle as oracle  # noqa: E402  (the kuangliu transcriptions)


def build(spec):
    """A torch_oracle module for one of our ModelSpecs; refuses knobs the oracle does not transcribe."""
    nc = spec["numClasses"]
    for knob, default in (("activation", "relu"), ("dropout", 0), ("widthMultiplier", 1), ("blockDropout", 0)):
        if spec.get(knob, default) != default:
            raise ValueError(f"torch_bench: {knob}={spec[knob]!r} is not in torch_oracle.py's models")
    family = spec["family"]
    if family == "resnet":
        block = oracle.Bottleneck if spec.get("block") == "bottleneck" else oracle.BasicBlock
        return oracle.ResNet(block, spec["blocks"], spec["widths"], nc)
    if family == "preact_resnet":
        if spec.get("block", "basic") != "basic":
            raise ValueError("torch_bench: torch_oracle.py has no PreAct bottleneck block")
        return oracle.PreActResNet(spec["blocks"], spec["widths"], nc)
    if family == "densenet":
        if spec["widths"] != [2 * spec["growth"]]:
            raise ValueError("torch_bench: torch_oracle.py's DenseNet has a stem of 2 × growth channels")
        return oracle.DenseNet(spec["blocks"], spec["growth"], spec.get("reduction", 0.5), nc)
    if family == "vgg":
        cfg = spec.get("config") or [c for n, w in zip(spec["blocks"], spec["widths"]) for c in [w] * n + ["M"]]
        return oracle.VGG(cfg, nc)
    raise ValueError(f"torch_bench: unknown family {family!r}")


def machine_busy_seconds():
    """Busy CPU seconds of the whole machine (Linux /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / 100.0
    except (OSError, ValueError, IndexError):
        return None


def run_phase(name, step, args):
    t0 = time.perf_counter()
    times = []
    loss = None
    for i in range(args.warmup + args.steps):
        warm = i < args.warmup
        if not warm and not times:
            clock0 = (time.perf_counter(), time.process_time(), machine_busy_seconds())
        if not warm and times:
            spent = time.perf_counter() - t0
            if spent + sorted(times)[len(times) // 2] > args.budget:
                break
        print(f"  pytorch {name} step {i + 1}/{args.warmup + args.steps}{' (warm-up)' if warm else ''}", file=sys.stderr, flush=True)
        s0 = time.perf_counter()
        v = step()
        dt = time.perf_counter() - s0
        if v is not None:
            loss = v
        if dt > args.budget:
            return {"status": "too-slow", "budget": args.budget, "stepSeconds": dt}
        if not warm:
            times.append(dt)
    wall = time.perf_counter() - clock0[0]
    own = time.process_time() - clock0[1]
    busy = machine_busy_seconds()
    cores = {"own": round(own / wall, 2)}
    if busy is not None and clock0[2] is not None:
        cores["others"] = round(max(0.0, busy - clock0[2] - own) / wall, 2)
    s = sorted(times)
    med = s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2
    out = {
        "status": "ok",
        "imagesPerSecond": args.batch / med,
        "medianMs": med * 1000,
        "minMs": s[0] * 1000,
        "maxMs": s[-1] * 1000,
        "steps": len(times),
        "warmup": args.warmup,
        "stepsMs": [round(t * 1000, 2) for t in times],
        "cores": cores,
    }
    if loss is not None:
        out["loss"] = loss
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--version", action="store_true")
    p.add_argument("--spec")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--budget", type=float, default=90.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--phases", default="infer,train")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.version:
        print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "mkldnn": torch.backends.mkldnn.is_available()}))
        return
    if not args.spec:
        p.error("--spec is required")
    spec = json.loads(args.spec)
    torch.manual_seed(args.seed)
    model = build(spec)
    params = sum(q.numel() for q in model.parameters())
    x = torch.randn(args.batch, 3, 32, 32)
    y = torch.randint(0, spec["numClasses"], (args.batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss()

    def infer():
        with torch.no_grad():
            model(x)

    def train():
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    phases = {}
    for name in args.phases.split(","):
        model.train(name == "train")
        phases[name] = run_phase(name, train if name == "train" else infer, args)
        if phases[name]["status"] == "too-slow" and name == "infer" and "train" in args.phases:
            # A training step contains a forward pass: it cannot be faster.
            phases["train"] = {"status": "too-slow", "budget": args.budget, "inferred": True}
            break
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "params": params, "phases": phases}))


if __name__ == "__main__":
    main()
