#!/usr/bin/env python3
"""Writes tests/golden/data/glu.txt, replayed by tests/golden/test_golden_glu.cpp:
torch.nn.functional.glu over several dims and dtypes, its output and the
input's gradient.

  glu/<n>: x, dim (0-d int64), r (a random projection), out = glu(x, dim),
    grad_x (the gradient of sum(out * r)).

Inputs are spread (x 3) so that the sigmoid gate runs into its flat tails
as well as its middle. PyTorch is a development-time reference only; the
file is committed:

    /work/venv-torch/bin/python tests/golden/make_glu_golden.py
"""
import torch

from make_golden import Group


def case(g, x, dim):
    x = x.clone().requires_grad_(True)
    out = torch.nn.functional.glu(x, dim)
    r = torch.randn_like(out)
    (out * r).sum().backward()
    g.add_named("glu", {
        "x": x.detach(),
        "dim": torch.tensor(dim, dtype=torch.int64),
        "r": r,
        "out": out.detach(),
        "grad_x": x.grad,
    })


def main():
    torch.manual_seed(0)
    g = Group("glu.txt")
    case(g, torch.randn(4, 6) * 3, -1)                        # the module's default dim
    case(g, torch.randn(2, 8, 3) * 3, 1)                      # channels, as in a gated conv
    case(g, torch.randn(4, 3, 5) * 3, 0)                      # the first dim
    case(g, torch.randn(3, 2, 5) * 3, -2)                     # halves of one element
    case(g, torch.randn(2, 10, dtype=torch.float64) * 3, -1)  # float64
    g.write()


if __name__ == "__main__":
    main()
