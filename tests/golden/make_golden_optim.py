#!/usr/bin/env python3
"""Writes tests/golden/data/optim.txt and lr_schedules.txt, replayed by
tests/golden/test_optim_golden.cpp.

optim.txt: for each optimizer configuration, fixed initial parameters and
fixed per-step gradients, the hyper-parameters, and PyTorch's parameters after
every step (torch 1.13, foreach=False: `_single_tensor_*`).

lr_schedules.txt: for each schedule configuration, its arguments and the lr
of every group after construction and after each of the following steps.

PyTorch is a development-time reference only; the files are committed.
Regenerate with Debian's PyTorch (/usr/bin/python3 has it):

    /usr/bin/python3 tests/golden/make_golden_optim.py

Format: tests/golden/README.md. Cases are named "<runner>/<n>".
"""
import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import Group, as_tensor  # noqa: E402  (same format, same writer)

STEPS = 5
SCHEDULE_STEPS = 30


# ---------------------------------------------------------------------------
# Optimizers
# ---------------------------------------------------------------------------

def optimizer_case(group, runner, make, dtype, args, lr1=None, skip1=()):
    """Two parameters p0 [3, 4] and p1 [5]; p1 goes in a second group with lr
    `lr1` when given. `skip1`: steps (from 0) where p1 has no gradient."""
    torch.manual_seed(len(group.records))
    p0 = torch.randn(3, 4, dtype=dtype)
    p1 = torch.randn(5, dtype=dtype)
    grads = [(torch.randn(3, 4, dtype=dtype), torch.randn(5, dtype=dtype)) for _ in range(STEPS)]
    tensors = {"p0": p0.clone(), "p1": p1.clone()}
    for name, value in args.items():
        tensors[name] = torch.tensor(value, dtype=torch.bool if isinstance(value, bool)
                                     else torch.float64)
    if lr1 is not None:
        tensors["lr1"] = torch.tensor(lr1, dtype=torch.float64)
    if skip1:
        tensors["skip1"] = torch.tensor(list(skip1), dtype=torch.int64)
    for k, (g0, g1) in enumerate(grads):
        tensors[f"g0_{k}"] = g0
        tensors[f"g1_{k}"] = g1

    w0 = p0.clone().requires_grad_()
    w1 = p1.clone().requires_grad_()
    kwargs = dict(args)
    if "beta1" in kwargs:
        kwargs["betas"] = (kwargs.pop("beta1"), kwargs.pop("beta2"))
    if lr1 is None:
        opt = make([w0, w1], foreach=False, **kwargs)
    else:
        opt = make([{"params": [w0]}, {"params": [w1], "lr": lr1}], foreach=False, **kwargs)
    for k, (g0, g1) in enumerate(grads):
        w0.grad = g0.clone()
        w1.grad = None if k in skip1 else g1.clone()
        opt.step()
        tensors[f"out0_{k}"] = w0.detach().clone()
        tensors[f"out1_{k}"] = w1.detach().clone()
    group.add_named(runner, tensors)


def optimizers():
    group = Group("optim.txt")
    f32, f64 = torch.float32, torch.float64
    sgd, adam, adamw = torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW
    # SGD: plain, momentum, nesterov, weight decay, dampening, maximize, two groups.
    for dtype in (f32, f64):
        optimizer_case(group, "sgd", sgd, dtype, {"lr": 0.1})
        optimizer_case(group, "sgd", sgd, dtype, {"lr": 0.05, "momentum": 0.9})
        optimizer_case(group, "sgd", sgd, dtype, {"lr": 0.05, "momentum": 0.9, "nesterov": True})
    optimizer_case(group, "sgd", sgd, f32, {"lr": 0.1, "weight_decay": 0.01})
    optimizer_case(group, "sgd", sgd, f32,
                   {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 1e-3})
    optimizer_case(group, "sgd", sgd, f32,
                   {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.02,
                    "maximize": True})
    optimizer_case(group, "sgd", sgd, f32, {"lr": 0.1, "momentum": 0.9}, lr1=0.01, skip1=(1, 2))
    # Adam: plain, amsgrad + weight decay, maximize, two groups, a skipped gradient.
    for dtype in (f32, f64):
        optimizer_case(group, "adam", adam, dtype, {"lr": 1e-2})
        optimizer_case(group, "adam", adam, dtype,
                       {"lr": 1e-2, "amsgrad": True, "weight_decay": 0.1})
    optimizer_case(group, "adam", adam, f32,
                   {"lr": 3e-3, "beta1": 0.8, "beta2": 0.95, "eps": 1e-6, "maximize": True})
    optimizer_case(group, "adam", adam, f32, {"lr": 1e-2}, lr1=1e-3, skip1=(2,))
    # AdamW: default decay, amsgrad, two groups.
    for dtype in (f32, f64):
        optimizer_case(group, "adamw", adamw, dtype, {"lr": 1e-2, "weight_decay": 0.1})
        optimizer_case(group, "adamw", adamw, dtype,
                       {"lr": 1e-2, "weight_decay": 0.05, "amsgrad": True})
    optimizer_case(group, "adamw", adamw, f32, {"lr": 1e-2, "beta1": 0.85, "beta2": 0.99},
                   lr1=2e-2, skip1=(0, 3))
    group.write()


# ---------------------------------------------------------------------------
# LR schedules
# ---------------------------------------------------------------------------

S = torch.optim.lr_scheduler


def schedule_case(group, runner, make, args, base_lrs=(0.1, 0.05), adam=False, metrics=None):
    """Two parameter groups with `base_lrs`; `make(optimizer)` builds the
    schedule. Records the lrs after construction and after each step, and for
    OneCycleLR the momentum (SGD) or beta1 (Adam) of each group."""
    params = [torch.zeros(2, requires_grad=True) for _ in base_lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, base_lrs)]
    opt = torch.optim.Adam(groups) if adam else torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    sched = make(opt)
    lrs, momenta = [], []

    def record():
        lrs.append(list(sched.get_last_lr()) if metrics is None
                   else [g["lr"] for g in opt.param_groups])
        momenta.append([g["betas"][0] if adam else g["momentum"] for g in opt.param_groups])

    record()
    for k in range(SCHEDULE_STEPS):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[k])
        record()
    tensors = {"base_lrs": torch.tensor(base_lrs, dtype=torch.float64)}
    tensors.update({k: as_tensor(v) for k, v in args.items()})
    if adam:
        tensors["adam"] = torch.tensor(True)
    if metrics is not None:
        tensors["metrics"] = torch.tensor(metrics, dtype=torch.float64)
    tensors["lrs"] = torch.tensor(lrs, dtype=torch.float64)
    if runner == "one_cycle":
        tensors["momenta"] = torch.tensor(momenta, dtype=torch.float64)
    group.add_named(runner, tensors)


def lr_schedules():
    group = Group("lr_schedules.txt")

    def add(runner, make, args, **kw):
        schedule_case(group, runner, lambda opt: make(opt, **args), args, **kw)

    add("step", S.StepLR, {"step_size": 7, "gamma": 0.5})
    add("step", S.StepLR, {"step_size": 1, "gamma": 0.9})
    add("multi_step", S.MultiStepLR, {"milestones": [3, 10, 10, 25], "gamma": 0.3})
    add("exponential", S.ExponentialLR, {"gamma": 0.93})
    add("cosine", S.CosineAnnealingLR, {"T_max": 10, "eta_min": 1e-3})  # past T_max: back up
    add("cosine", S.CosineAnnealingLR, {"T_max": 30})
    add("linear", S.LinearLR, {"start_factor": 0.1, "end_factor": 1.0, "total_iters": 8})
    add("linear", S.LinearLR, {"start_factor": 1.0, "end_factor": 0.25, "total_iters": 20})

    # LambdaLR: the C++ test defines the same two functions.
    schedule_case(group, "lambda",
                  lambda opt: S.LambdaLR(opt, [lambda e: 0.95 ** e, lambda e: 1.0 / (1 + e // 3)]),
                  {})

    # SequentialLR: warm-up then cosine; step then exponential then step.
    def warmup_cosine(opt):
        return S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.1, total_iters=5),
                                    S.CosineAnnealingLR(opt, T_max=25, eta_min=1e-4)],
                              milestones=[5])
    schedule_case(group, "sequential_warmup_cosine", warmup_cosine, {})

    def three(opt):
        return S.SequentialLR(opt, [S.StepLR(opt, step_size=2, gamma=0.5),
                                    S.ExponentialLR(opt, gamma=0.9),
                                    S.MultiStepLR(opt, milestones=[2, 4], gamma=0.1)],
                              milestones=[6, 15])
    schedule_case(group, "sequential_three", three, {})

    # OneCycleLR: cos and linear, three_phase, SGD momentum and Adam beta1.
    base = {"max_lr": [1.0, 0.5], "total_steps": SCHEDULE_STEPS}
    for extra, adam in [({}, False),
                        ({"anneal_linear": True, "pct_start": 0.25}, False),
                        ({"three_phase": True, "div_factor": 10.0, "final_div_factor": 100.0},
                         True),
                        ({"cycle_momentum": False, "pct_start": 0.4}, False),
                        ({"base_momentum": 0.8, "max_momentum": 0.9}, True)]:
        args = dict(base, **extra)
        kwargs = dict(args)
        if kwargs.pop("anneal_linear", False):
            kwargs["anneal_strategy"] = "linear"
        schedule_case(group, "one_cycle", lambda opt, kw=kwargs: S.OneCycleLR(opt, **kw), args,
                      adam=adam)

    # ReduceLROnPlateau: a metric that improves, stalls, then improves.
    metrics = [1.0, 0.9, 0.8, 0.8, 0.8, 0.79999, 0.8, 0.81, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6, 0.6,
               0.6, 0.6, 0.6, 0.6, 0.6, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    plateau = [
        {"mode": "min", "factor": 0.5, "patience": 2},
        {"mode": "min", "factor": 0.5, "patience": 1, "cooldown": 2, "threshold_mode": "abs",
         "threshold": 0.05, "min_lr": [0.02, 0.001]},
        {"mode": "max", "factor": 0.1, "patience": 0, "min_lr": [1e-4]},
    ]
    for args in plateau:
        kwargs = dict(args)
        kwargs["mode"] = args["mode"]
        if "min_lr" in kwargs and len(kwargs["min_lr"]) == 1:
            kwargs["min_lr"] = kwargs["min_lr"][0]
        stored = {k: v for k, v in args.items() if k not in ("mode", "threshold_mode")}
        stored["mode_max"] = args["mode"] == "max"
        stored["threshold_abs"] = args.get("threshold_mode") == "abs"
        seq = metrics if args["mode"] == "min" else [-m for m in metrics]
        schedule_case(group, "plateau", lambda opt, kw=kwargs: S.ReduceLROnPlateau(opt, **kw),
                      stored, metrics=seq)
    group.write()


if __name__ == "__main__":
    # SequentialLR steps a schedule with an epoch at milestones, which warns.
    warnings.simplefilter("ignore", UserWarning)
    optimizers()
    lr_schedules()
