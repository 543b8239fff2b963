#!/usr/bin/env python3
"""Writes the golden files that tests/golden/test_golden_ops.cpp replays, and
autograd.txt, which tests/golden/test_golden_autograd.cpp replays.

PyTorch is a development-time reference only; the files are committed.
Regenerate with Debian's PyTorch (/usr/bin/python3 has it):

    /usr/bin/python3 tests/golden/make_golden.py

A case is named "<op>/<n>": the C++ test picks its runner by <op>. Its
inputs are in0, in1, ..., PyTorch's results out0, out1, ..., and the op's
arguments are stored as tensors too (ints as int64, floats as float64,
bools as bool, int lists as 1-D int64). autograd.txt names its cases
"<expression>/<n>" and its tensors by role (see gradient_case). Format:
tests/golden/README.md.
"""
import math
import os

import torch
import torch.nn.functional as F

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
DTYPE_NAMES = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64",
               torch.bool: "bool"}
INF, NAN = float("inf"), float("nan")


def format_tensor(label, t):
    t = t.detach().contiguous()
    if t.dtype == torch.float32:
        values = [f"{v:.9g}" for v in t.flatten().tolist()]
    elif t.dtype == torch.float64:
        values = [f"{v:.17g}" for v in t.flatten().tolist()]
    else:
        values = [str(int(v)) for v in t.flatten().tolist()]
    words = ["tensor", label, DTYPE_NAMES[t.dtype], str(t.dim())] + [str(d) for d in t.shape]
    return " ".join(words + values)


def as_tensor(value):
    """An op argument as a tensor: its dtype tells the C++ side the Scalar kind."""
    if isinstance(value, bool):
        return torch.tensor(value)
    if isinstance(value, int):
        return torch.tensor(value, dtype=torch.int64)
    if isinstance(value, float):
        return torch.tensor(value, dtype=torch.float64)
    if all(isinstance(v, int) for v in value):
        return torch.tensor(list(value), dtype=torch.int64)
    return torch.tensor(list(value), dtype=torch.float64)


class Group:
    def __init__(self, file_name):
        self.file_name = file_name
        self.records = []
        self.counts = {}

    def add(self, op, inputs, outputs, **args):
        n = self.counts.get(op, 0)
        self.counts[op] = n + 1
        if isinstance(outputs, torch.Tensor):
            outputs = [outputs]
        lines = [f"case {op}/{n}"]
        lines += [format_tensor(f"in{i}", t) for i, t in enumerate(inputs)]
        lines += [format_tensor(k, as_tensor(v)) for k, v in args.items() if v is not None]
        lines += [format_tensor(f"out{i}", t) for i, t in enumerate(outputs)]
        self.records.append("\n".join(lines) + "\n")

    def add_named(self, name, tensors):
        """A case of labelled tensors (label -> tensor, in order), named "<name>/<n>"."""
        n = self.counts.get(name, 0)
        self.counts[name] = n + 1
        lines = [f"case {name}/{n}"] + [format_tensor(k, t) for k, t in tensors.items()]
        self.records.append("\n".join(lines) + "\n")

    def write(self):
        with open(os.path.join(DATA, self.file_name), "w") as f:
            f.write("\n".join(self.records))
        print(f"{self.file_name}: {len(self.records)} cases")


def randn(*shape, dtype=torch.float32):
    return torch.randn(*shape, dtype=dtype)


def randint(low, high, *shape):
    return torch.randint(low, high, shape)


def reduce(op, t, dims, keepdim):
    """torch.<op> over a list of dims (empty = all); torch.prod takes one dim at a time."""
    dims = [d % t.dim() for d in dims] if dims else list(range(t.dim()))
    if op != "prod":
        return getattr(torch, op)(t, dims, keepdim=keepdim)
    out = t
    for d in dims:
        out = out.prod(d, keepdim=True)
    return out if keepdim else out.reshape([n for d, n in enumerate(t.shape) if d not in dims])


def elementwise():
    g = Group("elementwise.txt")
    a, b = randn(3, 1, 4), randn(2, 4)
    ints, small_ints = randint(-6, 7, 2, 3), randint(1, 4, 3)
    bools = torch.tensor([True, False, True])
    x32, x64 = randn(2, 3), randn(2, 3, dtype=torch.float64)
    pos = torch.rand(2, 5) * 3 + 0.1
    # Binary ops: broadcasting [3,1,4] with [2,4], dtype promotion, size-0 and size-1 dims.
    pairs = [(a, b), (ints, x32), (x32, x64), (bools, ints), (ints, small_ints),
             (randn(0, 3), randn(1, 3)), (randn(1), x64), (torch.tensor(2.5), ints)]
    for op, fn in [("add", torch.add), ("sub", torch.sub), ("mul", torch.mul),
                   ("maximum", torch.maximum), ("minimum", torch.minimum)]:
        for x, y in pairs:
            if not (op == "sub" and x.dtype == torch.bool):  # PyTorch refuses bool - tensor
                g.add(op, [x, y], fn(x, y))
    for x, y in [(a, b), (ints, small_ints), (ints, x32), (x32, x64), (bools, small_ints)]:
        g.add("div", [x, y], torch.div(x, y))
    zero_div = torch.tensor([1.0, -1.0, 0.0, 2.0])
    g.add("div", [zero_div, torch.zeros(4)], zero_div / 0)
    g.add("div", [ints, torch.zeros(1, dtype=torch.int64)], ints / 0)
    g.add("add", [a, b], torch.add(a, b, alpha=-2.5), alpha=-2.5)
    g.add("add", [ints, small_ints], torch.add(ints, small_ints, alpha=3), alpha=3)
    g.add("sub", [a, b], torch.sub(a, b, alpha=0.5), alpha=0.5)
    g.add("pow", [pos, pos - 1], torch.pow(pos, pos - 1))
    int_base, int_exponent = randint(-4, 5, 2, 3), randint(0, 4, 3)
    g.add("pow", [int_base, int_exponent], torch.pow(int_base, int_exponent))
    g.add("pow", [torch.tensor([-2.0, 0.0, 2.0]), torch.tensor([0.5, -1.0, 0.0])],
          torch.pow(torch.tensor([-2.0, 0.0, 2.0]), torch.tensor([0.5, -1.0, 0.0])))
    nan_a = torch.tensor([1.0, NAN, 3.0, -INF, NAN, 0.0])
    nan_b = torch.tensor([NAN, 2.0, 1.0, 0.0, NAN, -0.0])
    for op, fn in [("maximum", torch.maximum), ("minimum", torch.minimum), ("eq", torch.eq),
                   ("ne", torch.ne), ("lt", torch.lt), ("le", torch.le), ("gt", torch.gt),
                   ("ge", torch.ge), ("logical_and", torch.logical_and),
                   ("logical_or", torch.logical_or), ("logical_xor", torch.logical_xor)]:
        g.add(op, [nan_a, nan_b], fn(nan_a, nan_b))
        if op not in ("maximum", "minimum"):
            g.add(op, [a, b.round()], fn(a, b.round()))
            g.add(op, [ints, small_ints.double()], fn(ints, small_ints.double()))
    g.add("logical_and", [bools, ints], torch.logical_and(bools, ints))
    for t in (nan_a, ints, bools):
        g.add("logical_not", [t], torch.logical_not(t))

    # Scalar forms: the scalar changes the dtype only when of a higher category.
    for x in (x32, ints, bools, x64):
        for s in (2, 2.5, True):
            if x.dtype == torch.bool and s is True:
                continue  # bool + bool has no PyTorch arithmetic result worth pinning
            g.add("add", [x], x + s, other=s)
            g.add("mul", [x], x * s, other=s)
            g.add("div", [x], x / s, other=s)
            if x.dtype != torch.bool and s is not True:
                g.add("sub", [x], x - s, other=s)
                g.add("rsub", [x], s - x, other=s)
                g.add("rdiv", [x], s / x, other=s)
            for op in ("eq", "ne", "lt", "le", "gt", "ge"):
                g.add(op, [x], getattr(torch, op)(x, s), other=s)
    g.add("div", [ints], ints / 0, other=0)
    for base, exponent in [(pos, 1.5), (x32, 2), (ints, 2), (ints, 0.5), (x64, 3), (pos, -0.5)]:
        g.add("pow", [base], torch.pow(base, exponent), exponent=exponent)
    for base, exponent in [(2.0, x32), (2, small_ints), (2, x32), (0.5, x64)]:
        g.add("pow", [exponent], torch.pow(base, exponent), base=base)

    cond = torch.rand(3, 1, 4) > 0.5
    g.add("where", [cond, a, b], torch.where(cond, a, b))
    g.add("where", [cond[:, :, :3], ints, x64], torch.where(cond[:, :, :3], ints, x64))
    g.add("where", [cond, a], torch.where(cond, a, 2.5), other=2.5)
    g.add("where", [cond[0, :, :3], ints], torch.where(cond[0, :, :3], ints, -1), other=-1)
    mask = torch.rand(1, 4) > 0.5
    g.add("masked_fill", [a, mask], a.masked_fill(mask, -7.5), value=-7.5)
    g.add("masked_fill", [ints, mask[:, :3]], ints.masked_fill(mask[:, :3], 9), value=9)
    g.add("masked_fill", [x32, mask[:, :3]], x32.masked_fill(mask[:, :3], -INF), value=-INF)
    with_nan = torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0, NAN, INF, -INF])
    for low, high in [(-0.5, 0.75), (None, 1.0), (0.0, None), (1.0, -1.0)]:
        g.add("clamp", [with_nan], with_nan.clamp(low, high), min=low, max=high)
    g.add("clamp", [ints], ints.clamp(min=-2), min=-2)
    g.add("clamp", [ints], ints.clamp(-2, 3), min=-2, max=3)
    g.add("clamp", [x64], x64.clamp(-0.25, 0.25), min=-0.25, max=0.25)

    # Unary ops over wide ranges, special values, integer inputs and empty tensors.
    wide = torch.cat([torch.linspace(-100, 100, 11), torch.linspace(-10, 10, 21),
                      torch.tensor([-1e4, -88.0, -1e-6, 0.0, 1e-6, 88.0, 1e4])])
    special = torch.tensor([INF, -INF, NAN, 0.0, -0.0])
    positive = torch.cat([torch.logspace(-30, 30, 13), torch.tensor([0.5, 1.0, 2.0])])
    unary = {"neg": torch.neg, "abs": torch.abs, "exp": torch.exp, "log": torch.log,
             "log1p": torch.log1p, "sqrt": torch.sqrt, "rsqrt": torch.rsqrt, "tanh": torch.tanh,
             "sigmoid": torch.sigmoid, "relu": torch.relu, "sin": torch.sin, "cos": torch.cos,
             "gelu": F.gelu, "gelu_tanh": lambda t: F.gelu(t, approximate="tanh")}
    for op, fn in unary.items():
        domain = positive if op in ("log", "sqrt", "rsqrt") else wide
        g.add(op, [domain], fn(domain))
        g.add(op, [domain.double()], fn(domain.double()))
        g.add(op, [special], fn(special))
        g.add(op, [randn(2, 0, 3)], fn(randn(2, 0, 3)))
        if not op.startswith("gelu"):  # PyTorch's gelu takes floats only
            g.add(op, [ints], fn(ints))
    g.add("log1p", [torch.tensor([-1.0, -0.5, 1e-8, 1e-3])],
          torch.log1p(torch.tensor([-1.0, -0.5, 1e-8, 1e-3])))
    grad = randn(wide.numel())
    for op, approximate in [("gelu_backward", "none"), ("gelu_tanh_backward", "tanh")]:
        for dtype in (torch.float32, torch.float64):
            x, dy = wide.to(dtype), grad.to(dtype)
            g.add(op, [dy, x], torch.ops.aten.gelu_backward(dy, x, approximate=approximate))
        tail, ones = torch.linspace(-8, -3, 11), torch.ones(11)  # tiny derivatives
        g.add(op, [ones, tail], torch.ops.aten.gelu_backward(ones, tail, approximate=approximate))

    # softplus (beta, threshold) and atan2: the worked example of "Adding an op".
    for beta, threshold in [(1.0, 20.0), (2.0, 1.0), (0.5, 5.0)]:
        for domain in (wide, wide.double(), special):
            g.add("softplus", [domain], F.softplus(domain, beta, threshold),
                  beta=beta, threshold=threshold)
    g.add("softplus", [ints], F.softplus(ints.float()), beta=1.0, threshold=20.0)
    grid = torch.linspace(-3, 3, 7)
    ys, xs = grid.repeat_interleave(7), grid.repeat(7)  # every (y, x) of the grid, 0 included
    g.add("atan2", [ys, xs], torch.atan2(ys, xs))
    g.add("atan2", [ys.double(), xs.double()], torch.atan2(ys.double(), xs.double()))
    g.add("atan2", [special.repeat_interleave(5), special.repeat(5)],
          torch.atan2(special.repeat_interleave(5), special.repeat(5)))
    g.add("atan2", [grid.view(7, 1), grid], torch.atan2(grid.view(7, 1), grid))  # broadcast
    g.add("atan2", [ints, ints.flip(-1)], torch.atan2(ints, ints.flip(-1)))

    # In place: results written into the first input (whatever its strides).
    g.add("add_", [x32, b[:1, :3]], x32.clone().add_(b[:1, :3], alpha=2), alpha=2)
    g.add("add_", [ints], ints.clone().add_(5), other=5)
    g.add("sub_", [x64, x32], x64.clone().sub_(x32))
    g.add("sub_", [x32], x32.clone().sub_(0.5), other=0.5)
    g.add("mul_", [x32, ints], x32.clone().mul_(ints))
    g.add("mul_", [ints], ints.clone().mul_(-3), other=-3)
    g.add("div_", [x64, small_ints], x64.clone().div_(small_ints))
    g.add("div_", [x32], x32.clone().div_(4), other=4)
    g.add("clamp_", [x32], x32.clone().clamp_(-0.3, 0.3), min=-0.3, max=0.3)
    g.add("masked_fill_", [x32, mask[:, :3]], x32.clone().masked_fill_(mask[:, :3], 1.25),
          value=1.25)
    g.add("fill_", [ints], ints.clone().fill_(-4), value=-4)
    g.add("fill_", [x64], x64.clone().fill_(0.1), value=0.1)
    g.add("zero_", [x32], x32.clone().zero_())
    g.add("copy_", [x32, x64[:1]], x32.clone().copy_(x64[:1]))
    g.add("copy_", [ints, pos[:, :3] - 1.5], ints.clone().copy_(pos[:, :3] - 1.5))
    g.add("copy_", [bools, torch.tensor([0.0, 0.5, -2.0])],
          bools.clone().copy_(torch.tensor([0.0, 0.5, -2.0])))
    return g


def reductions():
    g = Group("reductions.txt")
    x, x64 = randn(2, 3, 4), randn(2, 3, 4, dtype=torch.float64)
    for dims in ([0], [1], [-1], [-1, 0], [0, 1, 2], []):
        for keepdim in (False, True):
            d = dims if dims else None  # var/std: None = all dims
            kw = dict(dims=dims, keepdim=keepdim)
            source = x if keepdim else x64  # both dtypes, without doubling the file
            for op in ("sum", "mean", "prod", "amax", "amin"):
                g.add(op, [source], reduce(op, source, dims, keepdim), **kw)
            for correction in (0, 1):
                for op in ("var", "std"):
                    out = getattr(torch, op)(source, d, correction=correction, keepdim=keepdim)
                    g.add(op, [source], out, correction=correction, **kw)
            g.add("logsumexp", [source], reduce("logsumexp", source, dims, keepdim), **kw)

    # Integer and bool inputs: sum and prod give int64 (mean refuses them in PyTorch).
    ints = randint(-3, 4, 3, 4)
    for op in ("sum", "prod", "amax", "amin"):
        for dims in ([1], [0, 1]):
            g.add(op, [ints], reduce(op, ints, dims, False), dims=dims, keepdim=False)
    for dims in ([0], []):
        g.add("sum", [ints > 0], reduce("sum", ints > 0, dims, False), dims=dims, keepdim=False)

    # -inf and NaN where PyTorch defines the result; empty and size-1 dims.
    special = torch.tensor([[1.0, NAN, 2.0], [-INF, -1.0, 0.0], [-INF, -INF, -INF],
                            [INF, 1.0, INF]])
    for op in ("sum", "mean", "prod", "amax", "amin", "logsumexp"):
        for t, dims in [(special, [1]), (special[1:], [0])]:
            g.add(op, [t], reduce(op, t, dims, False), dims=dims, keepdim=False)
    g.add("var", [special], torch.var(special, 1), dims=[1], correction=1, keepdim=False)
    empty = randn(0, 3)
    for op in ("sum", "mean", "prod"):
        for dims, keepdim in [([0], False), ([1], True), ([], False)]:
            g.add(op, [empty], reduce(op, empty, dims, keepdim), dims=dims, keepdim=keepdim)
    g.add("amax", [empty], reduce("amax", empty, [1], False), dims=[1], keepdim=False)
    one = randn(3, 1)
    for op in ("var", "std"):
        for correction in (0, 1):
            g.add(op, [one], getattr(torch, op)(one, 1, correction=correction), dims=[1],
                  correction=correction, keepdim=False)
    g.add("sum", [one], one.sum([1]), dims=[1], keepdim=False)
    g.add("sum", [torch.tensor(3.5)], torch.tensor(3.5).sum(), dims=[], keepdim=False)

    # Values and indices: ties give the first index, NaN wins.
    ties = torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, -1.0], [0.0, NAN, 5.0, NAN],
                         [-INF, -INF, -INF, -INF]])
    for t in (ties, x, ints):
        for dim in (0, 1, -1):
            for keepdim in (False, True):
                if dim == 1 and t is not ties:
                    continue
                kw = dict(dim=dim, keepdim=keepdim)
                g.add("max", [t], list(torch.max(t, dim, keepdim=keepdim)), **kw)
                g.add("min", [t], list(torch.min(t, dim, keepdim=keepdim)), **kw)
                g.add("argmax", [t], t.argmax(dim, keepdim=keepdim), **kw)
                g.add("argmin", [t], t.argmin(dim, keepdim=keepdim), **kw)
        g.add("max", [t], t.max())
        g.add("min", [t], t.min())
        g.add("argmax", [t], t.argmax())
        g.add("argmin", [t], t.argmin())
    g.add("argmax", [x], x.argmax(keepdim=True), keepdim=True)
    g.add("argmin", [x], x.argmin(keepdim=True), keepdim=True)
    g.add("max", [one[:, :1]], list(one.max(1)), dim=1, keepdim=False)
    no_nan = ties[:2]
    for op in ("max", "min", "argmax", "argmin"):
        g.add(op, [no_nan], getattr(torch, op)(no_nan))

    for t in (torch.tensor([[1.0, 0.0], [NAN, 2.0]]), torch.tensor([0.0, -0.0]), ints,
              torch.tensor([True, True]), randn(0, 2)):
        g.add("all", [t], torch.all(t))
        g.add("any", [t], torch.any(t))
    return g


def linalg():
    g = Group("linalg.txt")
    shapes = [((5,), (5,)), ((3, 4), (4, 2)), ((4,), (4, 3)), ((3, 4), (4,)),
              ((2, 1, 3, 4), (5, 4, 2)), ((2, 3, 4), (4, 5)), ((6,), (2, 6, 3)),
              ((2, 3, 4), (2, 4, 1)), ((1, 7), (7, 1)), ((3, 0), (0, 2)), ((0, 4), (4, 3)),
              ((2, 3, 4), (4,)), ((9, 17), (17, 5))]
    for dtype in (torch.float32, torch.float64):
        for sa, sb in shapes:
            a, b = randn(*sa, dtype=dtype), randn(*sb, dtype=dtype)
            g.add("matmul", [a, b], torch.matmul(a, b))
    # Transposed operands: the test transposes both stored matrices first.
    for dtype in (torch.float32, torch.float64):
        a, b = randn(4, 3, dtype=dtype), randn(5, 4, dtype=dtype)
        g.add("matmul_tt", [a, b], torch.matmul(a.t(), b.t()))
    return g


def nn():
    g = Group("nn.txt")
    x = randn(2, 3, 4)
    x[0, 1, 2] = -INF
    x[1, :, 3] = -INF  # a whole softmax row of -inf along dim 1: PyTorch gives NaN
    for dtype in (torch.float32, torch.float64):
        t = x.to(dtype)
        for dim in (0, 1, 2, -1):
            g.add("softmax", [t], torch.softmax(t, dim), dim=dim)
            g.add("log_softmax", [t], torch.log_softmax(t, dim), dim=dim)
    big = randn(3, 40) * 30
    for fn in ("softmax", "log_softmax"):
        g.add(fn, [big], getattr(torch, fn)(big, 1), dim=1)
        g.add(fn, [randn(0, 3)], getattr(torch, fn)(randn(0, 3), 1), dim=1)
        g.add(fn, [randn(4, 1)], getattr(torch, fn)(randn(4, 1), 1), dim=1)
        g.add(fn, [torch.tensor(0.7)], getattr(torch, fn)(torch.tensor(0.7), 0), dim=0)

    y = randn(4, 3, 5) * 2 + 3
    w, b = randn(5), randn(5)
    w2, b2 = randn(3, 5), randn(3, 5)
    g.add("layer_norm", [y], F.layer_norm(y, (5,)), normalized_shape=[5])
    g.add("layer_norm", [y, w, b], F.layer_norm(y, (5,), w, b), normalized_shape=[5])
    g.add("layer_norm", [y, w], F.layer_norm(y, (5,), w), normalized_shape=[5])
    g.add("layer_norm", [y], F.layer_norm(y, (3, 5)), normalized_shape=[3, 5])
    g.add("layer_norm", [y, w2, b2], F.layer_norm(y, (3, 5), w2, b2, eps=1e-3),
          normalized_shape=[3, 5], eps=1e-3)
    y64, w64, b64 = y.double(), w.double(), b.double()
    g.add("layer_norm", [y64, w64, b64], F.layer_norm(y64, (5,), w64, b64), normalized_shape=[5])
    # Where PyTorch's float32 kernel rounds visibly (a large mean: off by 1e-4; a
    # single element: 1e-5 instead of 0), its float64 result, rounded, is the reference.
    for t, shape in [(randn(2, 8) + 1000, [8]), (randn(3, 1), [1])]:
        g.add("layer_norm", [t], F.layer_norm(t.double(), shape).float(), normalized_shape=shape)

    weight = randn(6, 3)
    for ids in (torch.tensor([[0, 5, 2], [2, 2, 1]]), torch.tensor([4, 0]), torch.tensor(3),
                torch.zeros(0, dtype=torch.int64)):
        g.add("embedding", [weight, ids], F.embedding(ids, weight))
    g.add("embedding", [weight.double(), torch.tensor([1, 1])],
          F.embedding(torch.tensor([1, 1]), weight.double()))
    return g


def views_indexing():
    g = Group("views_indexing.txt")
    x = randn(2, 3, 4)
    g.add("view", [x], x.view(2, 3, -1, 2), shape=[2, 3, -1, 2])  # also a view when strided
    g.add("reshape", [x], x.reshape(4, 6), shape=[4, 6])
    g.add("reshape", [x], x.reshape(-1), shape=[-1])
    g.add("permute", [x], x.permute(2, 0, 1), dims=[2, 0, 1])
    g.add("transpose", [x], x.transpose(0, -1), dim0=0, dim1=-1)
    g.add("narrow", [x], x.narrow(2, 1, 2), dim=2, start=1, length=2)
    for dim, start, end, step in [(2, 1, None, 2), (1, -2, None, 1), (0, None, 10, 1),
                                  (2, 3, 1, 1), (1, 0, 3, 2)]:
        index = [slice(None)] * dim + [slice(start, end, step)]
        g.add("slice", [x], x[tuple(index)], dim=dim, start=start, end=end, step=step)
    g.add("select", [x], x.select(1, -1), dim=1, index=-1)
    ones = randn(1, 3, 1)
    g.add("squeeze", [ones], ones.squeeze())
    g.add("squeeze", [ones], ones.squeeze(2), dim=2)
    g.add("squeeze", [ones], ones.squeeze(1), dim=1)
    g.add("unsqueeze", [x], x.unsqueeze(-1), dim=-1)
    g.add("expand", [ones], ones.expand(2, -1, 4), shape=[2, -1, 4])
    g.add("flatten", [x], x.flatten(1), start_dim=1, end_dim=-1)
    g.add("flatten", [x], x.flatten(), start_dim=0, end_dim=-1)
    g.add("contiguous", [x], x.contiguous())
    g.add("clone", [x], x.clone())
    # Conversions: the target dtype is out0's.
    mixed = torch.tensor([-2.7, -0.5, 0.0, 0.4, 1.5, 2.9, 1e10])
    for t, dtype in [(mixed, torch.int64), (mixed, torch.bool), (mixed, torch.float64),
                     (torch.tensor([0.1, 1e-40, 3.4e38], dtype=torch.float64), torch.float32),
                     (torch.tensor([True, False]), torch.float32),
                     (randint(-5, 5, 4), torch.float64), (randint(-2, 2, 4), torch.bool)]:
        g.add("to", [t], t.to(dtype))

    g.add("index_select", [x, torch.tensor([2, 0, 2])], x.index_select(1, torch.tensor([2, 0, 2])),
          dim=1)
    g.add("index_select", [x, torch.tensor([3, 1])], x.index_select(-1, torch.tensor([3, 1])),
          dim=-1)
    g.add("index_select", [x, torch.tensor([1])], x.index_select(0, torch.tensor([1])), dim=0)
    g.add("index_select", [x, torch.zeros(0, dtype=torch.int64)],
          x.index_select(0, torch.zeros(0, dtype=torch.int64)), dim=0)
    ints = randint(-9, 10, 3, 4)
    g.add("index_select", [ints, torch.tensor(2)], ints.index_select(0, torch.tensor(2)), dim=0)

    m = randn(3, 4)
    g1 = torch.tensor([[0, 3, 3], [1, 1, 0], [2, 0, 1]])
    g.add("gather", [m, g1], torch.gather(m, 1, g1), dim=1)
    g0 = torch.tensor([[2, 0, 1, 1]])
    g.add("gather", [m, g0], torch.gather(m, 0, g0), dim=0)
    g3 = torch.randint(0, 4, (2, 2, 3))
    g.add("gather", [x, g3], torch.gather(x, -1, g3), dim=-1)
    g.add("gather", [ints, g1], torch.gather(ints, 1, g1), dim=1)

    src = randn(3, 3)
    g.add("scatter_add", [m, g1, src], torch.scatter_add(m, 1, g1, src), dim=1)
    dup = torch.tensor([[0, 0, 0, 1], [2, 2, 2, 2]])
    src2 = randn(2, 4)
    g.add("scatter_add", [m, dup, src2], torch.scatter_add(m, 0, dup, src2), dim=0)
    isrc = randint(-5, 5, 2, 4)
    g.add("scatter_add", [ints, dup, isrc], torch.scatter_add(ints, 0, dup, isrc), dim=0)

    idx = torch.tensor([2, 0, 2])
    source = randn(3, 4)
    g.add("index_add", [m, idx, source], m.index_add(0, idx, source, alpha=0.5), dim=0,
          alpha=0.5)
    cols = randn(3, 2)
    g.add("index_add", [m, torch.tensor([1, 1]), cols],
          m.index_add(1, torch.tensor([1, 1]), cols), dim=1)
    g.add("index_add", [ints, idx, ints[:3] * 2], ints.index_add(0, idx, ints[:3] * 2, alpha=-1),
          dim=0, alpha=-1)

    labels = torch.tensor([[0, 3], [2, 1]])
    g.add("one_hot", [labels], F.one_hot(labels, 5), num_classes=5)
    g.add("one_hot", [labels], F.one_hot(labels), num_classes=-1)
    g.add("one_hot", [torch.tensor(2)], F.one_hot(torch.tensor(2), 3), num_classes=3)
    g.add("one_hot", [torch.zeros(0, dtype=torch.int64)],
          F.one_hot(torch.zeros(0, dtype=torch.int64), 4), num_classes=4)

    parts = [randn(2, 3), randn(2, 1), randn(2, 0), randn(2, 2)]
    g.add("cat", parts, torch.cat(parts, 1), dim=1)
    g.add("cat", parts[:2], torch.cat(parts[:2], -1), dim=-1)
    rows = [randn(1, 3), randn(2, 3)]
    g.add("cat", rows, torch.cat(rows, 0), dim=0)
    mixed_parts = [randint(0, 5, 2, 2), randn(1, 2, dtype=torch.float64)]
    g.add("cat", mixed_parts, torch.cat(mixed_parts), dim=0)
    same = [randn(2, 3), randn(2, 3), randn(2, 3)]
    for dim in (0, 1, 2, -1):
        g.add("stack", same, torch.stack(same, dim), dim=dim)
    g.add("stack", [torch.tensor(1.0), torch.tensor(2.0)],
          torch.stack([torch.tensor(1.0), torch.tensor(2.0)]), dim=0)

    y = randn(7, 2)
    g.add("split", [y], list(torch.split(y, 3)), split_size=3, dim=0)
    g.add("split", [y], list(torch.split(y, 7)), split_size=7, dim=0)
    g.add("split", [y], list(torch.split(y, [2, 0, 5])), sizes=[2, 0, 5], dim=0)
    g.add("split", [y], list(torch.split(y, 1, 1)), split_size=1, dim=1)
    for n, chunks, dim in [(7, 3, 0), (5, 4, 0), (6, 4, 0), (2, 3, 1)]:
        t = y[:n]
        g.add("chunk", [t], list(torch.chunk(t, chunks, dim)), chunks=chunks, dim=dim)

    for t in (randn(2, 4, 5), randn(5, 3), randint(-9, 9, 3, 3), randn(0, 3)):
        for diagonal in (-1, 0, 2):
            g.add("tril", [t], torch.tril(t, diagonal), diagonal=diagonal)
            g.add("triu", [t], torch.triu(t, diagonal), diagonal=diagonal)
    return g


def gradient_case(g, name, leaves, others, forward):
    """Runs forward(**leaves, **others) -> (results, loss), backpropagates the
    loss and stores the leaves, the other inputs, the results and the leaves'
    gradients as grad_<leaf>."""
    leaves = {k: t.detach().clone().requires_grad_() for k, t in leaves.items()}
    results, loss = forward(**leaves, **others)
    loss.backward()
    tensors = dict(leaves)
    tensors.update(others)
    tensors.update(results)
    tensors.update({f"grad_{k}": t.grad for k, t in leaves.items()})
    g.add_named(name, tensors)


def mlp_cross_entropy(x, w1, b1, w2, b2, y):
    h = torch.relu(x @ w1 + b1)
    logits = h @ w2 + b2
    loss = -(torch.log_softmax(logits, 1).gather(1, y[:, None])).mean()
    return {"loss": loss}, loss


def attention(q, k, v, mask, r):
    """Scaled dot-product attention of primitive ops; mask [batch, keys] is
    true for padded keys (-inf scores)."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(mask[:, None, None, :], -INF)
    out = torch.softmax(scores, -1) @ v
    loss = (out * r).sum()
    return {"out": out, "loss": loss}, loss


def attention_causal(q, k, v, weight, bias, mask, r):
    """attention() with a causal mask too (tril of the scores plus -1e9 above
    the diagonal: gradients flow through tril), then layer_norm and gelu."""
    seq = q.shape[-2]
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    above = torch.triu(torch.full((seq, seq), -1e9, dtype=q.dtype), 1)
    scores = torch.tril(scores) + above
    scores = scores.masked_fill(mask[:, None, None, :], -INF)
    attended = torch.softmax(scores, -1) @ v
    out = F.gelu(F.layer_norm(attended, (q.shape[-1],), weight, bias))
    loss = (out * r).sum()
    return {"out": out, "loss": loss}, loss


def autograd():
    """Gradients of composite expressions: the leaves, PyTorch's results and
    the gradients of the leaves (tests/golden/test_golden_autograd.cpp)."""
    torch.manual_seed(1)
    g = Group("autograd.txt")
    f64 = torch.float64
    mlp = dict(x=randn(8, 6, dtype=f64), w1=randn(6, 16, dtype=f64) / math.sqrt(6),
               b1=randn(16, dtype=f64) * 0.1, w2=randn(16, 5, dtype=f64) / 4,
               b2=randn(5, dtype=f64) * 0.1)
    labels = {"y": randint(0, 5, 8)}
    gradient_case(g, "mlp_cross_entropy", mlp, labels, mlp_cross_entropy)
    mlp32 = {k: t.float() for k, t in mlp.items()}
    gradient_case(g, "mlp_cross_entropy", mlp32, labels, mlp_cross_entropy)

    batch, heads, seq, head_dim = 2, 3, 5, 4
    qkv = {k: randn(batch, heads, seq, head_dim, dtype=f64) for k in ("q", "k", "v")}
    # Padded keys at the end of each sequence (never all of them, never key 0,
    # which the causal mask leaves as the only key of query 0).
    mask = torch.tensor([[False, False, False, True, True], [False, False, False, False, True]])
    r = randn(batch, heads, seq, head_dim, dtype=f64)
    gradient_case(g, "attention", qkv, {"mask": mask, "r": r}, attention)
    norm = {"weight": 1 + 0.2 * randn(head_dim, dtype=f64),
            "bias": 0.1 * randn(head_dim, dtype=f64)}
    gradient_case(g, "attention_causal", {**qkv, **norm}, {"mask": mask, "r": r}, attention_causal)
    return g


def main():
    os.makedirs(DATA, exist_ok=True)
    torch.manual_seed(0)
    for make in (elementwise, reductions, linalg, nn, views_indexing, autograd):
        make().write()
    print(f"PyTorch {torch.__version__}")


if __name__ == "__main__":
    main()
