#!/usr/bin/env python3
# GPU training-step benchmark (PyTorch side): the models of bench_gpu_train.cpp (those of
# tests/benchmarks/train_workloads.h plus a ResNet-18) on cuda:0, eager mode, timed as the
# C++ side times Netloom: random data on the device, zero_grad + forward + cross-entropy +
# backward + optimiser step, a torch.cuda.synchronize() at each step end, the median of
# --steps steps after --warmup steps. TF32 and cudnn.benchmark on, as Netloom's defaults.
#
#   bench_gpu_train_pytorch.py [--workload NAME] [--steps N] [--warmup N] [--bf16]
#
# Prints one JSON line per workload: {"workload":..., "bf16":..., "torch_ms":...}.
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))
import train_workloads  # noqa: E402  (tests/benchmarks/train_workloads.py: the models of train_workloads.h)

torch.backends.cuda.matmul.allow_tf32 = True
torch.backends.cudnn.allow_tf32 = True
torch.backends.cudnn.benchmark = True


class ResNetBlock(nn.Module):
    """bench_gpu_train.cpp's ResNetBlock (torchvision's BasicBlock)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return torch.relu(h + (self.down(x) if self.down is not None else x))


def resnet18():
    layers = [nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
              nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout in (64, 128, 256, 512):
        layers += [ResNetBlock(cin, cout, 1 if cout == 64 else 2), ResNetBlock(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
    return nn.Sequential(*layers)


def model(name):
    return resnet18() if name == "resnet18" else train_workloads.model(name)


# name, model, batch, sample shape, classes, Adam (else SGD with momentum)
WORKLOADS = [
    ("mlp_mnist_b128", "mlp", 128, (1, 28, 28), 10, True),
    ("mlp_mnist_b512", "mlp", 512, (1, 28, 28), 10, True),
    ("cnn_mnist_b64", "cnn", 64, (1, 28, 28), 10, False),
    ("cnn_mnist_b512", "cnn", 512, (1, 28, 28), 10, False),
    ("resnet_cifar_b64", "resnet_cifar", 64, (3, 32, 32), 10, False),
    ("resnet_cifar_b512", "resnet_cifar", 512, (3, 32, 32), 10, False),
    ("resnet18_imagenet_b128", "resnet18", 128, (3, 224, 224), 1000, False),
]


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def run(arch, batch, sample, classes, adam, warmup, steps, bf16, dev):
    torch.manual_seed(0)
    m = model(arch).to(dev).train()
    # PyTorch's default optimiser implementation (foreach on CUDA), as a user would get it.
    opt = torch.optim.Adam(m.parameters(), lr=1e-3) if adam else torch.optim.SGD(m.parameters(), lr=0.01,
                                                                                 momentum=0.9)
    x = torch.randn(batch, *sample, device=dev)
    y = torch.randint(0, classes, (batch,), device=dev)
    sync(dev)
    times = []
    for s in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            loss = nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        sync(dev)
        t1 = time.perf_counter()
        if s >= warmup:
            times.append((t1 - t0) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--bf16", action="store_true")
    # cpu: a rehearsal of this script where no GPU answers; its times mean nothing.
    ap.add_argument("--device", default="cuda:0")
    args = ap.parse_args()
    names = [w[0] for w in WORKLOADS]
    if args.workload and args.workload not in names:
        ap.error(f"unknown workload {args.workload}; one of {', '.join(names)}")
    for name, arch, batch, sample, classes, adam in WORKLOADS:
        if args.workload and name != args.workload:
            continue
        row = {"workload": name, "bf16": args.bf16}
        try:
            row["torch_ms"] = round(run(arch, batch, sample, classes, adam, args.warmup, args.steps, args.bf16,
                                       torch.device(args.device)), 3)
        except RuntimeError as e:  # e.g. out of memory: report it, go on with the next
            row["torch_error"] = str(e).splitlines()[0]
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
