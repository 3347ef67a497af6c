#!/usr/bin/python3
# Training-step benchmark (PyTorch side): the workloads of train_workloads.h built with
# torch.nn, timed exactly as bench_train.cpp times Netloom (median of 30 steps after 5
# warm-up steps, 1 and 2 threads). Run with Debian's python3-torch (/usr/bin/python3).
import json
import sys
import time

import torch
import torch.nn as nn

import train_workloads  # beside this file


# The three workloads of train_workloads.h, by name → the architecture train_workloads.py builds.
ARCH = {"mlp_mnist_b128_adam": "mlp", "cnn_mnist_b64_sgd": "cnn", "resnet_cifar_b64_sgd": "resnet_cifar"}


WORKLOADS = [("mlp_mnist_b128_adam", 128, (1, 28, 28), True), ("cnn_mnist_b64_sgd", 64, (1, 28, 28), False),
             ("resnet_cifar_b64_sgd", 64, (3, 32, 32), False)]

only = sys.argv[1] if len(sys.argv) > 1 else None
for name, batch, sample, adam in WORKLOADS:
    if only and name != only:
        continue
    for threads in (1, 2):
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        m = train_workloads.model(ARCH[name])
        opt = torch.optim.Adam(m.parameters(), lr=1e-3) if adam else torch.optim.SGD(m.parameters(), lr=0.01,
                                                                                     momentum=0.9)
        x = torch.randn(batch, *sample)
        y = torch.randint(0, 10, (batch,))
        times = []
        for s in range(35):
            t0 = time.perf_counter()
            opt.zero_grad()
            loss = nn.functional.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            t1 = time.perf_counter()
            if s >= 5:
                times.append((t1 - t0) * 1e3)
        times.sort()
        med = (times[14] + times[15]) / 2
        print(json.dumps({"bench": "train_step", "framework": "pytorch", "workload": name, "threads": threads,
                          "ms_per_step": round(med, 3)}), flush=True)
