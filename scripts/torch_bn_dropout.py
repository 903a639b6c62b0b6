"""PyTorch oracle for train-mode BatchNorm and Dropout (run with /usr/bin/python3).

Writes test/fixtures/torch/train-mode.json: a random NCHW input, BatchNorm2d's train-mode output and its
running statistics after one step (momentum 0.1, eps 1e-5), and Dropout(p) statistics on a large input.
"""
import json
import os

import torch

torch.manual_seed(0)
x = torch.randn(8, 3, 5, 5) * 2 + 1
bn = torch.nn.BatchNorm2d(3)
with torch.no_grad():
    bn.weight.copy_(torch.tensor([1.5, 0.5, -1.0]))
    bn.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
bn.train()
y = bn(x)
p = 0.3
drop = torch.nn.Dropout(p)
drop.train()
ones = torch.ones(200000)
d = drop(ones)
out = {
    "input_nchw": x.tolist(),
    "gamma": bn.weight.tolist(),
    "beta": bn.bias.tolist(),
    "output_nchw": y.detach().tolist(),
    "running_mean": bn.running_mean.tolist(),
    "running_var": bn.running_var.tolist(),
    "dropout_p": p,
    "dropout_zero_fraction": float((d == 0).float().mean()),
    "dropout_kept_value": float(d[d != 0][0]),
    "dropout_mean": float(d.mean()),
}
path = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "torch", "train-mode.json")
with open(path + ".tmp", "w") as f:
    json.dump(out, f)
os.replace(path + ".tmp", path)
print("wrote", os.path.normpath(path))
