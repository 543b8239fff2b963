#!/usr/bin/env python3
"""Writes tests/golden/data/clip_grad.txt, replayed by
tests/nn/test_clip_grad.cpp (Golden.ClipGrad).

Each case: gradients g0 [3, 4] (float32), g1 [5] (float32 or float64) and
g2 [2, 2] (float32), the arguments, and PyTorch's results (torch 1.13):
  clip_norm/<n>: max_norm, norm_type (inf as inf) -> total (the returned
                 norm, float64) and out0..out2 (the clipped gradients)
  clip_value/<n>: clip_value -> out0..out2

PyTorch is a development-time reference only; the file is committed.
Regenerate with Debian's PyTorch (/usr/bin/python3 has it):

    /usr/bin/python3 tests/golden/make_golden_clip_grad.py
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import Group  # noqa: E402  (same format, same writer)


def gradients(seed, dtype1, scale):
    torch.manual_seed(seed)
    return [torch.randn(3, 4) * scale, (torch.randn(5) * scale).to(dtype1),
            torch.randn(2, 2) * scale]


def params_with(grads):
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    return params


def clip_norm_case(group, max_norm, norm_type, dtype1=torch.float32, scale=1.0):
    grads = gradients(len(group.records), dtype1, scale)
    params = params_with(grads)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
    tensors = {f"g{i}": g for i, g in enumerate(grads)}
    tensors["max_norm"] = torch.tensor(float(max_norm), dtype=torch.float64)
    tensors["norm_type"] = torch.tensor(float(norm_type), dtype=torch.float64)
    tensors["total"] = total.to(torch.float64)
    tensors.update({f"out{i}": p.grad for i, p in enumerate(params)})
    group.add_named("clip_norm", tensors)


def clip_value_case(group, clip_value):
    grads = gradients(len(group.records), torch.float32, 1.0)
    params = params_with(grads)
    torch.nn.utils.clip_grad_value_(params, clip_value)
    tensors = {f"g{i}": g for i, g in enumerate(grads)}
    tensors["clip_value"] = torch.tensor(float(clip_value), dtype=torch.float64)
    tensors.update({f"out{i}": p.grad for i, p in enumerate(params)})
    group.add_named("clip_value", tensors)


def main():
    group = Group("clip_grad.txt")
    clip_norm_case(group, 1.0, 2)           # clipped
    clip_norm_case(group, 100.0, 2)         # below max_norm: unchanged
    clip_norm_case(group, 0.5, 1)
    clip_norm_case(group, 0.5, math.inf)
    clip_norm_case(group, 2.0, 3.5, scale=3.0)
    clip_norm_case(group, 1.0, 2, dtype1=torch.float64)  # mixed dtypes
    clip_norm_case(group, 0.0, 2)           # everything to zero
    clip_value_case(group, 0.5)
    clip_value_case(group, 0.0)
    group.write()


if __name__ == "__main__":
    main()
