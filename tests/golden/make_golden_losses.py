#!/usr/bin/env python3
"""Writes tests/golden/data/losses.txt: values and gradients of the loss ops
in PyTorch, replayed by tests/golden/test_golden_losses.cpp.

    /usr/bin/python3 tests/golden/make_golden_losses.py

Same file format as make_golden.py (tests/golden/README.md). A case is
"<loss>/<n>" with the tensors:
  input, target                 the op's inputs (target int64 for the class losses)
  weight, pos_weight            present when the case uses them
  ignore_index, label_smoothing 0-d int64 / float64, when the case sets them
  reduction                     0-d int64: 0 none, 1 mean, 2 sum
  out                           PyTorch's result
  grad_out                      the gradient fed to backward (ones for a reduced loss)
  grad_input, grad_target       PyTorch's gradients (grad_target for bce and mse only)
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import DATA, Group  # noqa: E402

REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}
F64, F32 = torch.float64, torch.float32


def case(g, name, fn, input, target, target_grad=False, **options):
    """Runs fn(input, target, **options), backpropagates grad_out and stores it all."""
    x = input.detach().clone().requires_grad_()
    t = target.detach().clone().requires_grad_() if target_grad else target
    out = fn(x, t, **options)
    grad_out = torch.randn(out.shape, dtype=out.dtype) if out.dim() > 0 else torch.ones_like(out)
    out.backward(grad_out)
    tensors = {"input": input, "target": target}
    for key in ("weight", "pos_weight"):
        if options.get(key) is not None:
            tensors[key] = options[key]
    if "ignore_index" in options:
        tensors["ignore_index"] = torch.tensor(options["ignore_index"], dtype=torch.int64)
    if "label_smoothing" in options:
        tensors["label_smoothing"] = torch.tensor(options["label_smoothing"], dtype=F64)
    tensors["reduction"] = torch.tensor(REDUCTIONS[options.get("reduction", "mean")])
    tensors.update({"out": out, "grad_out": grad_out, "grad_input": x.grad})
    if target_grad:
        tensors["grad_target"] = t.grad
    g.add_named(name, tensors)


def cross_entropy_cases(g):
    ce = F.cross_entropy
    x = torch.randn(6, 5, dtype=F64)
    y = torch.tensor([0, 4, -100, 2, 2, 1])
    w = torch.rand(5, dtype=F64) + 0.5
    case(g, "cross_entropy", ce, x, torch.tensor([0, 4, 3, 2, 2, 1]))
    for reduction in ("mean", "sum", "none"):
        case(g, "cross_entropy", ce, x, y, weight=w, reduction=reduction)
        case(g, "cross_entropy", ce, x, y, weight=w, label_smoothing=0.2, reduction=reduction)
        # No weight: the mean of both terms is over the lines not ignored.
        case(g, "cross_entropy", ce, x, y, label_smoothing=0.3, reduction=reduction)
    # An ignore_index that is a valid class.
    case(g, "cross_entropy", ce, x, y.clamp(min=0), weight=w, ignore_index=2, label_smoothing=0.1)
    # [N, C, d1, d2]
    xn = torch.randn(2, 4, 3, 2, dtype=F64)
    yn = torch.randint(0, 4, (2, 3, 2))
    yn[0, 1, 1] = -100
    wn = torch.rand(4, dtype=F64) + 0.5
    case(g, "cross_entropy", ce, xn, yn, weight=wn, label_smoothing=0.25)
    case(g, "cross_entropy", ce, xn, yn, label_smoothing=0.25, reduction="none")
    case(g, "cross_entropy", ce, xn, yn, reduction="sum")
    # [C] with a 0-d target
    case(g, "cross_entropy", ce, torch.randn(7, dtype=F64), torch.tensor(3), label_smoothing=0.1)
    # float32, wide rows and large logits (the max subtraction matters)
    x32 = torch.randn(3, 200) * 30
    y32 = torch.randint(0, 200, (3,))
    case(g, "cross_entropy", ce, x32, y32)
    case(g, "cross_entropy", ce, x32, y32, weight=torch.rand(200) + 0.5, label_smoothing=0.1)
    # Every target ignored: the mean is 0 / 0 = nan, the gradient 0.
    case(g, "cross_entropy", ce, x, torch.full((6,), -100), weight=w)


def nll_loss_cases(g):
    nll = F.nll_loss
    lp = torch.log_softmax(torch.randn(6, 5, dtype=F64), 1)
    y = torch.tensor([0, 4, -100, 2, 2, 1])
    w = torch.rand(5, dtype=F64) + 0.5
    for reduction in ("mean", "sum", "none"):
        case(g, "nll_loss", nll, lp, y, weight=w, reduction=reduction)
    case(g, "nll_loss", nll, lp, y.clamp(min=0), ignore_index=2)
    lpn = torch.log_softmax(torch.randn(2, 4, 3, dtype=F64), 1)
    yn = torch.tensor([[0, 3, -100], [1, 1, 2]])
    case(g, "nll_loss", nll, lpn, yn, weight=torch.rand(4, dtype=F64) + 0.5)
    case(g, "nll_loss", nll, lpn, yn, reduction="none")
    case(g, "nll_loss", nll, torch.log_softmax(torch.randn(5, dtype=F64), 0), torch.tensor(4))
    case(g, "nll_loss", nll, torch.log_softmax(torch.randn(4, 6), 1), torch.tensor([5, 0, 1, 1]))


def bce_cases(g):
    bce = F.binary_cross_entropy_with_logits
    x = torch.randn(4, 3, dtype=F64) * 3
    x[0, 0], x[1, 1], x[2, 2], x[3, 0] = 0.0, 60.0, -60.0, 800.0  # 0, large, overflow in exp
    y = torch.rand(4, 3, dtype=F64)
    y[0] = torch.tensor([0.0, 1.0, 1.0], dtype=F64)
    w = torch.rand(3, dtype=F64) + 0.5
    pw = torch.rand(3, dtype=F64) * 3
    for reduction in ("mean", "sum", "none"):
        case(g, "bce_with_logits", bce, x, y, True, reduction=reduction)
        case(g, "bce_with_logits", bce, x, y, True, weight=w, pos_weight=pw, reduction=reduction)
    case(g, "bce_with_logits", bce, x, y, True, pos_weight=pw)
    case(g, "bce_with_logits", bce, x, y, True, weight=torch.rand(4, 1, dtype=F64))
    case(g, "bce_with_logits", bce, x.float(), y.float(), True, pos_weight=pw.float())


def mse_cases(g):
    a, b = torch.randn(3, 4, dtype=F64), torch.randn(3, 4, dtype=F64)
    for reduction in ("mean", "sum", "none"):
        case(g, "mse_loss", F.mse_loss, a, b, True, reduction=reduction)
    case(g, "mse_loss", F.mse_loss, a.float(), b.float(), True)


def main():
    torch.manual_seed(3)
    g = Group("losses.txt")
    cross_entropy_cases(g)
    nll_loss_cases(g)
    bce_cases(g)
    mse_cases(g)
    os.makedirs(DATA, exist_ok=True)
    g.write()
    print(f"PyTorch {torch.__version__}")


if __name__ == "__main__":
    main()
