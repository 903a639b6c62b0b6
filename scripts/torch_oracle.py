#!/usr/bin/python3
"""PyTorch oracle for the .pth import (src/models/torch).

Defines kuangliu/pytorch-cifar-style models independently in PyTorch (module names = state_dict keys),
gives them non-trivial BatchNorm parameters and running statistics, and writes under
test/fixtures/torch/:

  <model>.net.pth        torch.save({'net': state_dict})
  <model>.bare.pth       torch.save(state_dict)
  <model>.module.pth     torch.save({'net': DataParallel-style 'module.'-prefixed state_dict})
  <model>.logits.json    PyTorch eval-mode logits for input.bin (and the preset/class count)
  resnet8-w8.strided.pth same weights stored as non-contiguous views with storage offsets
  resnet8-w8.double.pth  same weights as float64
  resnet8-w8.legacy.pth  same weights in the legacy (non-zip) format
  input.bin / input100.bin   random images in CIFAR-10 / CIFAR-100 binary format
  bad-*.pth              malicious and broken checkpoints (nothing in them is ever run here)

Run with Debian's torch: /usr/bin/python3 scripts/torch_oracle.py  (CPU only, seeded).
`/usr/bin/python3 scripts/torch_oracle.py --full DIR` writes full-size kuangliu nets (ResNet18, ResNet50,
PreActResNet18, densenet_cifar, VGG11; 100 classes, DataParallel keys) with their logits to DIR instead; the
tests use it when torch is installed.
"""
import io
import json
import os
import pickle
import sys
import zipfile
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "torch")
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2023, 0.1994, 0.2010)
N_IMAGES = 6
PWNED = "/tmp/minicifar-torch-oracle-pwned"


# ---------------------------------------------------------------- models (kuangliu module names)
def pool(out):
    """kuangliu's head: avg_pool2d(out, 4) and view(n, -1) on the 4×4 map of the full-size nets; global
    average pooling for the narrow 3-stage variants (the same thing whenever the map is 4×4)."""
    if out.shape[-1] == 4:
        return F.avg_pool2d(out, 4).view(out.size(0), -1)
    return F.adaptive_avg_pool2d(out, 1).flatten(1)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, 4 * planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != 4 * planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, 4 * planes, 1, stride, bias=False), nn.BatchNorm2d(4 * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """kuangliu ResNet with a configurable number of stages; global average pooling before `linear`
    (identical to kuangliu's avg_pool2d(out, 4) when the last map is 4×4, as in ResNet18)."""

    def __init__(self, block, blocks, widths, num_classes):
        super().__init__()
        self.in_planes = widths[0]
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        for s, (n, w) in enumerate(zip(blocks, widths)):
            setattr(self, f"layer{s + 1}", self._make_layer(block, w, n, 1 if s == 0 else 2))
        self.n_stages = len(blocks)
        self.linear = nn.Linear(widths[-1] * block.expansion, num_classes)

    def _make_layer(self, block, planes, n, stride):
        layers = []
        for st in [stride] + [1] * (n - 1):
            layers.append(block(self.in_planes, planes, st))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        for s in range(self.n_stages):
            out = getattr(self, f"layer{s + 1}")(out)
        return self.linear(pool(out))


class PreActBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False))

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if hasattr(self, "shortcut") else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActResNet(nn.Module):
    def __init__(self, blocks, widths, num_classes):
        super().__init__()
        self.in_planes = widths[0]
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        for s, (n, w) in enumerate(zip(blocks, widths)):
            layers = []
            for st in [1 if s == 0 else 2] + [1] * (n - 1):
                layers.append(PreActBlock(self.in_planes, w, st))
                self.in_planes = w
            setattr(self, f"layer{s + 1}", nn.Sequential(*layers))
        self.n_stages = len(blocks)
        self.linear = nn.Linear(widths[-1], num_classes)

    def forward(self, x):
        out = self.conv1(x)
        for s in range(self.n_stages):
            out = getattr(self, f"layer{s + 1}")(out)
        return self.linear(pool(out))


class DenseBottleneck(nn.Module):
    def __init__(self, in_planes, growth):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, 4 * growth, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(4 * growth)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return torch.cat([out, x], 1)  # kuangliu: new features first


class Transition(nn.Module):
    def __init__(self, in_planes, out_planes):
        super().__init__()
        self.bn = nn.BatchNorm2d(in_planes)
        self.conv = nn.Conv2d(in_planes, out_planes, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)


class DenseNet(nn.Module):
    def __init__(self, blocks, growth, reduction, num_classes):
        super().__init__()
        planes = 2 * growth
        self.conv1 = nn.Conv2d(3, planes, 3, padding=1, bias=False)
        self.n_blocks = len(blocks)
        for k, n in enumerate(blocks):
            layers = []
            for _ in range(n):
                layers.append(DenseBottleneck(planes, growth))
                planes += growth
            setattr(self, f"dense{k + 1}", nn.Sequential(*layers))
            if k < len(blocks) - 1:
                out_planes = int(planes * reduction)
                setattr(self, f"trans{k + 1}", Transition(planes, out_planes))
                planes = out_planes
        self.bn = nn.BatchNorm2d(planes)
        self.linear = nn.Linear(planes, num_classes)

    def forward(self, x):
        out = self.conv1(x)
        for k in range(self.n_blocks):
            out = getattr(self, f"dense{k + 1}")(out)
            if k < self.n_blocks - 1:
                out = getattr(self, f"trans{k + 1}")(out)
        out = F.relu(self.bn(out))
        return self.linear(pool(out))


class VGG(nn.Module):
    def __init__(self, cfg, num_classes):
        super().__init__()
        layers, in_ch = [], 3
        for c in cfg:
            if c == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_ch, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
                in_ch = c
        layers.append(nn.AvgPool2d(1, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(in_ch, num_classes)

    def forward(self, x):
        out = self.features(x)
        return self.classifier(out.view(out.size(0), -1))  # 1×1 map after five pools


# name → (preset name in src/models/index.ts, ModelSpec overrides (narrower, to keep fixtures small), constructor)
MODELS = {
    "resnet8-w8": ("ResNet8-w8", {}, lambda nc: ResNet(BasicBlock, [1, 1, 1], [8, 16, 32], nc)),
    "resnet-bottleneck": (
        "ResNet8-w8",
        {"block": "bottleneck", "blocks": [2, 1], "widths": [4, 8]},
        lambda nc: ResNet(Bottleneck, [2, 1], [4, 8], nc),
    ),
    "preact8": ("PreActResNet8-w16", {"blocks": [2, 1, 1], "widths": [8, 16, 32]}, lambda nc: PreActResNet([2, 1, 1], [8, 16, 32], nc)),
    "densenet-g12-small": ("DenseNet-g12-small", {}, lambda nc: DenseNet([2, 2, 2], 12, 0.5, nc)),
    "vgg11-w4": (
        "VGG11-w16",
        {"widths": [4, 8, 16, 32, 32]},
        lambda nc: VGG([4, "M", 8, "M", 16, 16, "M", 32, 32, "M", 32, 32, "M"], nc),
    ),
}
NUM_CLASSES = 10

# Full-size kuangliu constructors (written only with --full DIR: too large to commit).
FULL_MODELS = {
    "resnet18": ("ResNet18", {}, lambda nc: ResNet(BasicBlock, [2, 2, 2, 2], [64, 128, 256, 512], nc)),
    "resnet50": ("ResNet50", {}, lambda nc: ResNet(Bottleneck, [3, 4, 6, 3], [64, 128, 256, 512], nc)),
    "preactresnet18": ("PreActResNet18", {}, lambda nc: PreActResNet([2, 2, 2, 2], [64, 128, 256, 512], nc)),
    "densenet_cifar": ("densenet_cifar", {}, lambda nc: DenseNet([6, 12, 24, 16], 12, 0.5, nc)),
    "vgg11": ("VGG11", {}, lambda nc: VGG([64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"], nc)),
}


# ---------------------------------------------------------------- helpers
def randomize(model, gen_inputs):
    """Non-trivial BN affine parameters and running statistics, then eval mode."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
            # Trained-like magnitudes, so that logits depend strongly on the image.
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if isinstance(m, nn.Linear):
                m.weight.normal_(0, 0.5)
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                m.bias.normal_(0, 0.1)
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(gen_inputs())
    model.eval()


def write_cifar(path, images, labels, coarse=None):
    with open(path, "wb") as f:
        for i in range(images.shape[0]):
            if coarse is not None:
                f.write(bytes([int(coarse[i])]))
            f.write(bytes([int(labels[i])]))
            f.write(images[i].numpy().tobytes())  # planar CHW uint8


def normalise(images):
    x = images.float() / 255.0
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


def zip_with_pickle(path, pkl_bytes, archive="archive"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        # Fixed timestamps keep regenerated fixtures byte-identical.
        z.writestr(zipfile.ZipInfo(f"{archive}/data.pkl", (2020, 1, 1, 0, 0, 0)), pkl_bytes)
        z.writestr(zipfile.ZipInfo(f"{archive}/version", (2020, 1, 1, 0, 0, 0)), "3\n")


class Evil:
    """Pickles as a call of os.system; only pickle.dumps is used on it, it is never unpickled here."""

    def __reduce__(self):
        return (os.system, (f"touch {PWNED}",))


def strided_copy(sd):
    """Same values, stored as non-contiguous views (channels-last convs, transposed linear) with offsets."""
    out = OrderedDict()
    for k, v in sd.items():
        if v.dtype != torch.float32:
            out[k] = v
        elif v.dim() == 4:
            out[k] = v.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
        elif v.dim() == 2:
            out[k] = v.t().contiguous().t()
        else:
            big = torch.cat([torch.full((3,), 99.0), v, torch.full((2,), -99.0)])
            out[k] = big[3 : 3 + v.numel()]
        assert torch.equal(out[k], v)
    return out


def main_full(out_dir, num_classes=100, n_images=2):
    """Full-size kuangliu nets with CIFAR-100 heads (like the course's models_cifar100), to a scratch folder."""
    torch.manual_seed(1)
    os.makedirs(out_dir, exist_ok=True)
    images = torch.randint(0, 256, (n_images, 3, 32, 32), dtype=torch.uint8)
    write_cifar(os.path.join(out_dir, "input100.bin"), images, torch.randint(0, 100, (n_images,)), coarse=torch.randint(0, 20, (n_images,)))
    x = normalise(images)
    for name, (preset, overrides, ctor) in FULL_MODELS.items():
        model = ctor(num_classes)
        randomize(model, lambda: torch.randn(4, 3, 32, 32) * 1.5 + 0.3)
        with torch.no_grad():
            logits = model(x)
        torch.save({"net": nn.DataParallel(model).state_dict()}, os.path.join(out_dir, f"{name}.pth"))
        with open(os.path.join(out_dir, f"{name}.logits.json"), "w") as f:
            json.dump({"preset": preset, "overrides": overrides, "numClasses": num_classes, "logits": logits.tolist()}, f)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--full":
        main_full(sys.argv[2])
        return
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    images = torch.randint(0, 256, (N_IMAGES, 3, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 10, (N_IMAGES,))
    write_cifar(os.path.join(OUT, "input.bin"), images, labels)
    write_cifar(os.path.join(OUT, "input100.bin"), images, labels, coarse=torch.randint(0, 20, (N_IMAGES,)))
    x = normalise(images)

    for name, (preset, overrides, ctor) in MODELS.items():
        model = ctor(NUM_CLASSES)
        randomize(model, lambda: torch.randn(16, 3, 32, 32) * 1.5 + 0.3)
        with torch.no_grad():
            logits = model(x)
        sd = model.state_dict()
        torch.save({"net": sd}, os.path.join(OUT, f"{name}.net.pth"))
        with open(os.path.join(OUT, f"{name}.logits.json"), "w") as f:
            meta = {"preset": preset, "overrides": overrides, "numClasses": NUM_CLASSES, "torch": torch.__version__}
            json.dump({**meta, "logits": logits.tolist()}, f)
        if name == "resnet8-w8":
            torch.save(sd, os.path.join(OUT, f"{name}.bare.pth"))
            torch.save({"net": nn.DataParallel(model).state_dict()}, os.path.join(OUT, f"{name}.module.pth"))
            torch.save({"net": strided_copy(sd)}, os.path.join(OUT, f"{name}.strided.pth"))
            torch.save(OrderedDict((k, v.double() if v.is_floating_point() else v) for k, v in sd.items()), os.path.join(OUT, f"{name}.double.pth"))
            torch.save({"net": sd}, os.path.join(OUT, f"{name}.legacy.pth"), _use_new_zipfile_serialization=False)
            # Another width: every conv/bn/linear shape differs.
            other = ResNet(BasicBlock, [1, 1, 1], [4, 8, 16], NUM_CLASSES)
            torch.save({"net": other.state_dict()}, os.path.join(OUT, "bad-other-width.pth"))
            # Truncated: the first half of a good checkpoint.
            good = open(os.path.join(OUT, f"{name}.net.pth"), "rb").read()
            open(os.path.join(OUT, "bad-truncated.pth"), "wb").write(good[: len(good) // 2])

    # Malicious pickles inside otherwise well-formed .pth zips. pickle.dumps only serialises the
    # reference to os.system (as posix.system on Linux); nothing is executed.
    zip_with_pickle(os.path.join(OUT, "bad-os-system.pth"), pickle.dumps({"net": Evil()}, protocol=2))
    # Raw opcodes: builtins.eval("__import__('os').system(...)"), protocol 2.
    cmd = f"__import__('os').system('touch {PWNED}')".encode()
    raw = b"\x80\x02cbuiltins\neval\nX" + len(cmd).to_bytes(4, "little") + cmd + b"\x85R."
    zip_with_pickle(os.path.join(OUT, "bad-eval.pth"), raw)
    open(os.path.join(OUT, "bad-eval.pkl"), "wb").write(raw)
    # Protocol 5 (FRAME etc.) — harmless content, unsupported protocol.
    zip_with_pickle(os.path.join(OUT, "bad-protocol5.pth"), pickle.dumps({"net": {"a": 1}}, protocol=5))
    print(f"wrote fixtures to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
