#!/usr/bin/env python3
"""Writes the golden files that tests/unit/test_golden.cpp compares against.

PyTorch is a development-time reference only. Regenerate with Debian's
PyTorch (or any interpreter that has torch):

    /usr/bin/python3 tests/golden/make_golden.py

Each case stores its inputs (drawn here with a fixed seed), its arguments
and PyTorch's outputs; the C++ test runs the same op on the same inputs.
File format (text): see tests/golden/README.md.
"""
import math
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64",
          torch.bool: "bool"}


def fmt_value(v, dtype):
    if dtype == torch.bool:
        return "1" if v else "0"
    if dtype == torch.int64:
        return str(int(v))
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.9g}" if dtype == torch.float32 else f"{v:.17g}"


def fmt_tensor(label, t):
    t = t.detach().contiguous()
    values = " ".join(fmt_value(v, t.dtype) for v in t.flatten().tolist())
    dims = " ".join(str(d) for d in t.shape)
    return f"tensor {label} {DTYPES[t.dtype]} {t.dim()} {dims} : {values}".replace("  ", " ")


def fmt_arg(value):
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) if value else "-"
    return str(value)


class Cases:
    def __init__(self):
        self.records = []

    def add(self, op, inputs, outputs, **args):
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        lines = [f"case {op}#{len(self.records)}", f"op {op}"]
        lines += [f"arg {k} {fmt_arg(v)}" for k, v in args.items()]
        lines += [fmt_tensor(f"in{i}", t) for i, t in enumerate(inputs)]
        lines += [fmt_tensor(f"out{i}", t) for i, t in enumerate(outputs)]
        self.records.append("\n".join(lines) + "\nend\n")

    def write(self, name):
        with open(os.path.join(HERE, "data", name), "w") as f:
            f.write(f"# PyTorch {torch.__version__}; made by tests/golden/make_golden.py\n")
            f.write("\n".join(self.records))


def randn(*shape, dtype=torch.float32):
    return torch.randn(*shape, dtype=dtype)


def elementwise():
    c = Cases()
    a, b = randn(3, 1, 4), randn(2, 4)
    pos = torch.rand(2, 5) * 3 + 0.1
    ints = torch.randint(-5, 6, (2, 3))
    ints_b = torch.randint(1, 4, (3,))
    for op, fn in [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul), ("div", torch.div),
                   ("maximum", torch.maximum), ("minimum", torch.minimum), ("eq", torch.eq),
                   ("lt", torch.lt), ("ge", torch.ge), ("logical_and", torch.logical_and),
                   ("logical_or", torch.logical_or), ("logical_xor", torch.logical_xor)]:
        c.add(op, [a, b], fn(a, b))
    c.add("add", [a, b], torch.add(a, b, alpha=-2.5), alpha=-2.5)
    halves = torch.full((2, 3), 0.5)
    c.add("add", [ints, halves], ints + halves)
    c.add("add", [ints, ints_b], ints + ints_b)
    c.add("mul", [ints, torch.tensor([True, False, True])], ints * torch.tensor([True, False, True]))
    c.add("div", [ints, ints_b], torch.div(ints, ints_b))
    x32, x64 = randn(2, 3), randn(2, 3, dtype=torch.float64)
    c.add("add", [x32, x64], x32 + x64)
    c.add("pow", [pos, pos - 1], torch.pow(pos, pos - 1))
    nan_a = torch.tensor([1.0, float("nan"), 3.0, -float("inf")])
    nan_b = torch.tensor([float("nan"), 2.0, 1.0, 0.0])
    c.add("maximum", [nan_a, nan_b], torch.maximum(nan_a, nan_b))
    c.add("minimum", [nan_a, nan_b], torch.minimum(nan_a, nan_b))
    cond = torch.rand(3, 1, 4) > 0.5
    c.add("where", [cond, a, b], torch.where(cond, a, b))
    mask = torch.rand(1, 4) > 0.5
    c.add("masked_fill", [a, mask], a.masked_fill(mask, -7.5), value=-7.5)
    c.add("clamp", [a], a.clamp(-0.5, 0.75), min=-0.5, max=0.75)
    c.add("clamp", [ints], ints.clamp(min=-2), min=-2)
    c.add("mul_scalar", [a], a * 2.5, value=2.5)
    c.add("add_scalar", [ints], ints + 3, value=3)
    c.add("rsub_scalar", [a], 1.5 - a, value=1.5)
    c.add("div_scalar", [ints], ints / 4, value=4)
    c.add("pow_scalar", [pos], pos ** 1.5, value=1.5)
    wide = torch.linspace(-12, 12, 49)
    for op, fn in [("neg", torch.neg), ("abs", torch.abs), ("exp", torch.exp),
                   ("tanh", torch.tanh), ("sigmoid", torch.sigmoid), ("relu", torch.relu),
                   ("sin", torch.sin), ("cos", torch.cos)]:
        c.add(op, [wide], fn(wide))
        c.add(op, [wide.double()], fn(wide.double()))
    for op, fn in [("log", torch.log), ("log1p", torch.log1p), ("sqrt", torch.sqrt),
                   ("rsqrt", torch.rsqrt)]:
        c.add(op, [pos], fn(pos))
    c.add("exp", [torch.tensor([-100.0, -88.0, 0.0, 88.0, 100.0])],
          torch.exp(torch.tensor([-100.0, -88.0, 0.0, 88.0, 100.0])))
    c.add("gelu", [wide], torch.nn.functional.gelu(wide), approximate="none")
    c.add("gelu", [wide], torch.nn.functional.gelu(wide, approximate="tanh"), approximate="tanh")
    c.add("gelu", [wide.double()], torch.nn.functional.gelu(wide.double()), approximate="none")
    grad = randn(49)
    for approx in ("none", "tanh"):
        c.add("gelu_backward", [grad, wide],
              torch.ops.aten.gelu_backward(grad, wide, approximate=approx), approximate=approx)
    c.add("exp", [ints], torch.exp(ints))
    return c


def reductions():
    c = Cases()
    x = randn(3, 4, 5)
    x64 = randn(3, 4, 5, dtype=torch.float64)
    for dims in ([0], [1], [2], [0, 2], [-1, 0], []):
        for keepdim in (False, True):
            d = dims if dims else list(range(3))
            c.add("sum", [x], x.sum(d, keepdim=keepdim), dims=dims, keepdim=int(keepdim))
            c.add("mean", [x64], x64.mean(d, keepdim=keepdim), dims=dims, keepdim=int(keepdim))
            c.add("amax", [x], x.amax(d, keepdim=keepdim), dims=dims, keepdim=int(keepdim))
            c.add("amin", [x], x.amin(d, keepdim=keepdim), dims=dims, keepdim=int(keepdim))
            for corr in (0, 1):
                c.add("var", [x], torch.var(x, d, correction=corr, keepdim=keepdim), dims=dims,
                      keepdim=int(keepdim), correction=corr)
                c.add("std", [x64], torch.std(x64, d, correction=corr, keepdim=keepdim),
                      dims=dims, keepdim=int(keepdim), correction=corr)
            c.add("logsumexp", [x], torch.logsumexp(x, d, keepdim=keepdim), dims=dims,
                  keepdim=int(keepdim))
    small = torch.rand(2, 3) + 0.5
    c.add("prod", [small], small.prod(1), dims=[1], keepdim=0)
    ints = torch.randint(-3, 4, (3, 4))
    c.add("sum", [ints], ints.sum(0), dims=[0], keepdim=0)
    c.add("sum", [ints > 0], (ints > 0).sum(1), dims=[1], keepdim=0)
    ties = torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, -1.0], [0.0, 5.0, 5.0, 5.0]])
    for dim in (0, 1):
        for keepdim in (False, True):
            v, i = ties.max(dim, keepdim=keepdim)
            c.add("max_dim", [ties], [v, i], dim=dim, keepdim=int(keepdim))
            v, i = ties.min(dim, keepdim=keepdim)
            c.add("min_dim", [ties], [v, i], dim=dim, keepdim=int(keepdim))
            c.add("argmax", [x], x.argmax(dim, keepdim=keepdim), dim=dim, keepdim=int(keepdim))
            c.add("argmin", [x], x.argmin(dim, keepdim=keepdim), dim=dim, keepdim=int(keepdim))
    c.add("argmax_all", [x], x.argmax())
    c.add("argmin_all", [ties], ties.argmin())
    with_nan = torch.tensor([[1.0, float("nan"), 2.0], [float("-inf"), -1.0, 0.0]])
    c.add("amax", [with_nan], with_nan.amax(1), dims=[1], keepdim=0)
    c.add("argmax", [with_nan], with_nan.argmax(1), dim=1, keepdim=0)
    c.add("sum", [with_nan], with_nan.sum(0), dims=[0], keepdim=0)
    inf_rows = torch.tensor([[float("-inf"), float("-inf")], [float("inf"), 1.0], [1.0, 2.0]])
    c.add("logsumexp", [inf_rows], torch.logsumexp(inf_rows, 1), dims=[1], keepdim=0)
    return c


def linalg():
    c = Cases()
    shapes = [((5,), (5,)), ((3, 4), (4, 2)), ((4,), (4, 3)), ((3, 4), (4,)),
              ((2, 1, 3, 4), (5, 4, 2)), ((2, 3, 4), (4, 5)), ((6,), (2, 6, 3)),
              ((2, 3, 4), (2, 4, 1))]
    for sa, sb in shapes:
        a, b = randn(*sa), randn(*sb)
        c.add("matmul", [a, b], torch.matmul(a, b))
    a, b = randn(4, 3, dtype=torch.float64), randn(5, 4, dtype=torch.float64)
    c.add("matmul_tt", [a, b], torch.matmul(a.t(), b.t()))
    return c


def nn_ops():
    c = Cases()
    x = randn(2, 3, 4)
    x[0, 1, 2] = float("-inf")
    for dim in (0, 1, 2, -1):
        c.add("softmax", [x], torch.softmax(x, dim), dim=dim)
        c.add("log_softmax", [x], torch.log_softmax(x, dim), dim=dim)
    big = randn(3, 40) * 30
    c.add("softmax", [big], torch.softmax(big, 1), dim=1)
    c.add("log_softmax", [big.double()], torch.log_softmax(big.double(), 1), dim=1)
    y = randn(4, 3, 5) * 2 + 3
    w, b = randn(5), randn(5)
    c.add("layer_norm", [y], torch.nn.functional.layer_norm(y, (5,)), normalized_shape=[5])
    c.add("layer_norm", [y, w, b], torch.nn.functional.layer_norm(y, (5,), w, b),
          normalized_shape=[5])
    w2, b2 = randn(3, 5), randn(3, 5)
    c.add("layer_norm", [y, w2, b2], torch.nn.functional.layer_norm(y, (3, 5), w2, b2, eps=1e-3),
          normalized_shape=[3, 5], eps=1e-3)
    weight = randn(6, 3)
    ids = torch.tensor([[0, 5, 2], [2, 2, 1]])
    c.add("embedding", [weight, ids], torch.nn.functional.embedding(ids, weight))
    return c


def indexing():
    c = Cases()
    x = randn(3, 4)
    idx = torch.tensor([2, 0, 2])
    c.add("index_select", [x, idx], x.index_select(0, idx), dim=0)
    c.add("index_select", [x, torch.tensor([3, 1])], x.index_select(1, torch.tensor([3, 1])),
          dim=1)
    g = torch.tensor([[0, 3, 3], [1, 1, 0], [2, 0, 1]])
    c.add("gather", [x, g], torch.gather(x, 1, g), dim=1)
    g0 = torch.tensor([[2, 0, 1, 1]])
    c.add("gather", [x, g0], torch.gather(x, 0, g0), dim=0)
    src = randn(3, 3)
    c.add("scatter_add", [x, g, src], torch.scatter_add(x, 1, g, src), dim=1)
    source = randn(3, 4)
    c.add("index_add", [x, idx, source], x.index_add(0, idx, source, alpha=0.5), dim=0,
          alpha=0.5)
    labels = torch.tensor([[0, 3], [2, 1]])
    c.add("one_hot", [labels], torch.nn.functional.one_hot(labels, 5), num_classes=5)
    parts = [randn(2, 3), randn(2, 1), randn(2, 2)]
    c.add("cat", parts, torch.cat(parts, 1), dim=1)
    same = [randn(2, 3), randn(2, 3)]
    for dim in (0, 1, 2):
        c.add("stack", same, torch.stack(same, dim), dim=dim)
    y = randn(7, 2)
    c.add("split", [y], list(torch.split(y, 3)), split_size=3, dim=0)
    c.add("chunk", [y], list(torch.chunk(y, 3, 1)), chunks=3, dim=1)
    sq = randn(2, 4, 5)
    for diagonal in (-1, 0, 2):
        c.add("tril", [sq], torch.tril(sq, diagonal), diagonal=diagonal)
        c.add("triu", [sq], torch.triu(sq, diagonal), diagonal=diagonal)
    return c


def main():
    os.makedirs(os.path.join(HERE, "data"), exist_ok=True)
    torch.manual_seed(0)
    for name, make in [("elementwise.txt", elementwise), ("reductions.txt", reductions),
                       ("linalg.txt", linalg), ("nn.txt", nn_ops), ("indexing.txt", indexing)]:
        make().write(name)


if __name__ == "__main__":
    main()
