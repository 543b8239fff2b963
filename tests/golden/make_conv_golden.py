#!/usr/bin/env python3
"""Writes tests/golden/data/conv.txt, pooling.txt and normalization.txt, replayed by
tests/golden/test_nn_parity.cpp: PyTorch's nn.Conv1d / nn.Conv2d with their
own weights, which the C++ test loads into the matching Toadstool modules
(same parameter names) to compare the output and every gradient; and
PyTorch's pooling functions.

  conv1d/<n>, conv2d/<n>: input x, projection r, out = conv(x), then
    "param.<name>", "grad.<name>" (gradients of sum(out * r)) and grad_x;
    the options as 0-d or 1-D int64 tensors (same: 1 for padding="same").
  <pool>/<n> for max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool1d/2d: x, r,
    out, grad_x and the options (kernel_size, stride, padding, dilation,
    count_include_pad, output_size as int64 tensors).
  normalization.txt, batch_norm1d/<n>, batch_norm2d/<n>, group_norm/<n>:
    x, r, out, grad_x, "param.*", "grad.*" of a training forward; for batch
    norm then a second training forward on x2, "buffer.*" (the running
    statistics after both) and eval_out (x in eval mode).

PyTorch is a development-time reference only; the file is committed:

    /work/venv-torch/bin/python tests/golden/make_conv_golden.py
"""
import torch
from torch import nn

from make_golden import Group


def case(g, name, module, x, same):
    with torch.no_grad():
        if module.bias is not None:
            module.bias.add_(0.1 * torch.randn_like(module.bias))
    x = x.clone().requires_grad_(True)
    out = module(x)
    r = torch.randn_like(out)
    (out * r).sum().backward()
    tensors = {
        "x": x.detach(),
        "r": r,
        "out": out.detach(),
        "grad_x": x.grad,
        "stride": torch.tensor(list(module.stride), dtype=torch.int64),
        "padding": torch.tensor([0] * len(module.stride) if same else list(module.padding),
                                dtype=torch.int64),
        "same": torch.tensor(int(same), dtype=torch.int64),
        "dilation": torch.tensor(list(module.dilation), dtype=torch.int64),
        "groups": torch.tensor(module.groups, dtype=torch.int64),
        "bias": torch.tensor(int(module.bias is not None), dtype=torch.int64),
        "kernel_size": torch.tensor(list(module.kernel_size), dtype=torch.int64),
        "in_channels": torch.tensor(module.in_channels, dtype=torch.int64),
        "out_channels": torch.tensor(module.out_channels, dtype=torch.int64),
    }
    for pname, p in module.named_parameters():
        tensors["param." + pname] = p.detach()
        tensors["grad." + pname] = p.grad
    g.add_named(name, tensors)


def pool_case(g, name, fn, x, **options):
    x = x.clone().requires_grad_(True)
    out = fn(x, **options)
    r = torch.randn_like(out)
    (out * r).sum().backward()
    tensors = {"x": x.detach(), "r": r, "out": out.detach(), "grad_x": x.grad}
    for key, value in options.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        tensors[key] = torch.tensor([int(v) for v in values], dtype=torch.int64)
    g.add_named(name, tensors)


def pooling(g):
    F = torch.nn.functional
    pool_case(g, "max_pool1d", F.max_pool1d, torch.randn(2, 3, 11), kernel_size=[3], stride=[2],
              padding=[1], dilation=[1])
    pool_case(g, "max_pool1d", F.max_pool1d, torch.randn(2, 3, 12) - 3, kernel_size=[2],
              stride=[2], padding=[1], dilation=[2])
    pool_case(g, "max_pool2d", F.max_pool2d, torch.randn(2, 3, 9, 8), kernel_size=[3, 2],
              stride=[2, 1], padding=[1, 1], dilation=[1, 2])
    pool_case(g, "avg_pool1d", F.avg_pool1d, torch.randn(2, 3, 10), kernel_size=[4], stride=[3],
              padding=[2], count_include_pad=True)
    pool_case(g, "avg_pool2d", F.avg_pool2d, torch.randn(2, 2, 7, 9), kernel_size=[3, 3],
              stride=[2, 2], padding=[1, 1], count_include_pad=False)
    pool_case(g, "adaptive_avg_pool1d", F.adaptive_avg_pool1d, torch.randn(2, 3, 10),
              output_size=[4])
    pool_case(g, "adaptive_avg_pool2d", F.adaptive_avg_pool2d, torch.randn(2, 3, 7, 10),
              output_size=[3, 4])
    g.write()


def norm_case(g, name, module, shape, groups=None):
    """Two training steps' forwards (output, gradients of sum(out * r) for
    the first, the running statistics after both) and, for batch norm, an
    eval forward."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = (torch.randn(*shape) * 2 + 0.5).requires_grad_(True)
    out = module(x)
    r = torch.randn_like(out)
    (out * r).sum().backward()
    tensors = {"x": x.detach(), "r": r, "out": out.detach(), "grad_x": x.grad}
    for pname, p in module.named_parameters():
        tensors["param." + pname] = p.detach()
        tensors["grad." + pname] = p.grad
    if groups is not None:
        tensors["num_groups"] = torch.tensor(groups, dtype=torch.int64)
    else:
        x2 = torch.randn(*shape) - 1
        module(x2)
        module.eval()
        tensors["x2"] = x2
        tensors["eval_out"] = module(x).detach()
        for bname, b in module.named_buffers():
            tensors["buffer." + bname] = b.detach().clone()
    g.add_named(name, tensors)


def normalization(g):
    norm_case(g, "batch_norm1d", nn.BatchNorm1d(4), (6, 4))
    norm_case(g, "batch_norm1d", nn.BatchNorm1d(3, momentum=0.3), (5, 3, 7))
    norm_case(g, "batch_norm2d", nn.BatchNorm2d(3), (4, 3, 5, 6))
    norm_case(g, "group_norm", nn.GroupNorm(2, 6), (3, 6, 5), groups=2)
    norm_case(g, "group_norm", nn.GroupNorm(3, 3), (2, 3, 4, 4), groups=3)
    g.write()


def main():
    torch.manual_seed(0)
    g = Group("conv.txt")
    case(g, "conv1d", nn.Conv1d(3, 4, 3), torch.randn(2, 3, 10), False)
    case(g, "conv1d", nn.Conv1d(4, 6, 4, stride=2, padding=2, dilation=2, groups=2, bias=False),
         torch.randn(3, 4, 17), False)
    case(g, "conv1d", nn.Conv1d(2, 3, 4, padding="same", dilation=3), torch.randn(2, 2, 9), True)
    case(g, "conv2d", nn.Conv2d(3, 5, 3, padding=1), torch.randn(2, 3, 8, 7), False)
    case(g, "conv2d", nn.Conv2d(4, 4, (2, 3), stride=(2, 1), padding=(0, 2), dilation=(1, 2),
                                groups=4), torch.randn(2, 4, 9, 6), False)
    case(g, "conv2d", nn.Conv2d(2, 3, (4, 2), padding="same"), torch.randn(1, 2, 6, 5), True)
    g.write()
    pooling(Group("pooling.txt"))
    normalization(Group("normalization.txt"))


if __name__ == "__main__":
    main()
