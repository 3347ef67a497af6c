#!/usr/bin/python3
"""Writes tests/data/pytorch_optim.safetensors: PyTorch 1.13 reference results that
tests/training/test_optim.cpp compares Netloom's optimisers and LR schedules against.

Run with Debian's python3 (python3-torch 1.13):  /usr/bin/python3 tests/training/make_optim_fixtures.py

Contents (float32 tensors unless noted):
  param.<k>                     starting values of three parameters of different shapes
  grad.<t>.<k>                  the gradient fed to parameter k at step t (t = 0..9)
  <config>.step<t>.param<k>     parameter k after step t of optimiser config <config>
  lr.<schedule>                 float64 [31]: group 0's lr after construction and after each of 30 steps
  momentum.<schedule>           float64 [31]: the cycled momentum (OneCycleLR only)
  metric.<schedule>             float64 [30]: the metric fed to each ReduceLROnPlateau step
The optimiser and schedule configurations are repeated in test_optim.cpp; keep both in step.
"""
import json
import math
import os
import struct

import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import fixture_writer  # tests/fixture_writer.py
import torch

STEPS = 10
SCHEDULE_STEPS = 30
SHAPES = [(3, 4), (5,), (2, 3, 2)]

# Two configs use a large eps so that its place in the denominator shows in the results.
OPTIMISERS = {
    "sgd_plain": lambda p: torch.optim.SGD(p, lr=0.05, foreach=False),
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, dampening=0.1, foreach=False),
    "sgd_nesterov_wd": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01,
                                                 foreach=False),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01, foreach=False),
    "adam_amsgrad_wd": lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True,
                                                  foreach=False),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, foreach=False),
    "adamw_amsgrad_maximize": lambda p: torch.optim.AdamW(p, lr=0.01, eps=0.1, amsgrad=True, maximize=True,
                                                          foreach=False),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01, foreach=False),
    "rmsprop_centered_momentum_wd": lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=0.01, momentum=0.8,
                                                                  centered=True, weight_decay=0.05, foreach=False),
}

# A metric that improves, stalls, wobbles inside the threshold and improves again.
PLATEAU_METRIC = [1.0, 0.9, 0.85, 0.85, 0.849, 0.86, 0.8, 0.8, 0.8, 0.8, 0.79, 0.795, 0.7, 0.71, 0.72,
                  0.73, 0.74, 0.75, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.5, 0.5, 0.5, 0.5]


def make_params(gen):
    # Magnitudes in [0.5, 1.5] with random signs, so that (with the lrs above) no element
    # comes near zero in 10 steps; main() checks it.
    out = []
    for shape in SHAPES:
        mag = torch.rand(shape, generator=gen) + 0.5
        sign = torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0)
        out.append((mag * sign).float())
    return out


def run_optimiser(make, params0, grads):
    params = [p.clone().requires_grad_(True) for p in params0]
    opt = make(params)
    history = []
    for t in range(STEPS):
        for p, g in zip(params, grads[t]):
            p.grad = g.clone()
        opt.step()
        history.append([p.detach().clone() for p in params])
    return history


def sgd_for_schedule(lr=0.1):
    return torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=lr, momentum=0.9, foreach=False)


def record(opt, sched, steps, metric=None, momentum_key=None):
    lrs, moms = [opt.param_groups[0]["lr"]], []
    if momentum_key:
        moms.append(momentum_key(opt.param_groups[0]))
    for i in range(steps):
        opt.step()
        if metric is None:
            sched.step()
        else:
            sched.step(metric[i])
        lrs.append(opt.param_groups[0]["lr"])
        if momentum_key:
            moms.append(momentum_key(opt.param_groups[0]))
    return lrs, moms


def schedules():
    out = {}
    opt = sgd_for_schedule()
    out["lr.steplr"], _ = record(opt, torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5), SCHEDULE_STEPS)
    opt = sgd_for_schedule()
    out["lr.multisteplr"], _ = record(
        opt, torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[5, 12, 12, 20], gamma=0.3), SCHEDULE_STEPS)
    opt = sgd_for_schedule()
    out["lr.exponentiallr"], _ = record(opt, torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9), SCHEDULE_STEPS)
    opt = sgd_for_schedule()
    out["lr.cosine"], _ = record(opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=30, eta_min=0.001),
                                 SCHEDULE_STEPS)
    # Netloom's CosineAnnealingLR(total_steps 30, warmup_steps 5, warmup_start_factor 0.25).
    opt = sgd_for_schedule()
    warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, end_factor=1.0, total_iters=5)
    cos = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=25, eta_min=0.001)
    out["lr.cosine_warmup"], _ = record(opt, torch.optim.lr_scheduler.SequentialLR(opt, [warm, cos], milestones=[5]),
                                        SCHEDULE_STEPS)
    opt = sgd_for_schedule()
    out["lr.onecycle"], out["momentum.onecycle"] = record(
        opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=30, pct_start=0.3), SCHEDULE_STEPS,
        momentum_key=lambda g: g["momentum"])
    adam = torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=0.01, foreach=False)
    out["lr.onecycle_adam_three_phase_linear"], out["momentum.onecycle_adam_three_phase_linear"] = record(
        adam, torch.optim.lr_scheduler.OneCycleLR(adam, max_lr=0.02, total_steps=30, pct_start=0.25,
                                                  anneal_strategy="linear", three_phase=True, div_factor=10,
                                                  final_div_factor=100, base_momentum=0.8, max_momentum=0.9),
        SCHEDULE_STEPS, momentum_key=lambda g: g["betas"][0])
    opt = sgd_for_schedule()
    out["lr.plateau_min"], _ = record(
        opt, torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, threshold=0.01,
                                                        cooldown=1, min_lr=0.004), SCHEDULE_STEPS,
        metric=PLATEAU_METRIC)
    opt = sgd_for_schedule()
    negated = [-m for m in PLATEAU_METRIC]
    out["lr.plateau_max_abs"], _ = record(
        opt, torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.3, patience=1, threshold=0.005,
                                                        threshold_mode="abs"), SCHEDULE_STEPS, metric=negated)
    out["metric.plateau_min"] = PLATEAU_METRIC
    out["metric.plateau_max_abs"] = negated
    return out


def write_safetensors(path, tensors):
    fixture_writer.write_safetensors(path, tensors, {"generator": "tests/training/make_optim_fixtures.py",
                                                     "torch": torch.__version__}, sort_keys=False)


def main():
    gen = torch.Generator().manual_seed(20240611)
    params0 = make_params(gen)
    grads = [[torch.randn(s, generator=gen).float() for s in SHAPES] for _ in range(STEPS)]
    tensors = {}
    for k, p in enumerate(params0):
        tensors[f"param.{k}"] = p
    for t in range(STEPS):
        for k, g in enumerate(grads[t]):
            tensors[f"grad.{t}.{k}"] = g
    for name, make in OPTIMISERS.items():
        history = run_optimiser(make, params0, grads)
        # The C++ test compares with a relative tolerance only, which needs every element to
        # stay well away from zero (near it, float rounding of earlier, larger values dominates).
        smallest = min(float(p.abs().min()) for step in history for p in step)
        assert smallest > 0.1, f"{name}: a parameter element reaches {smallest}; lower the lr"
        for t, step in enumerate(history):
            for k, p in enumerate(step):
                tensors[f"{name}.step{t}.param{k}"] = p
    for name, values in schedules().items():
        assert all(math.isfinite(v) for v in values), name
        tensors[name] = torch.tensor(values, dtype=torch.float64)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "pytorch_optim.safetensors")
    write_safetensors(os.path.normpath(out), tensors)
    print(f"wrote {len(tensors)} tensors to {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
