#!/usr/bin/env python3
"""Writes tests/golden/data/rnn.txt, replayed by tests/golden/test_rnn_parity.cpp:
PyTorch's nn.LSTM and nn.GRU (2 layers, bidirectional, batch-first or not,
with and without bias, with and without lengths) with their own weights,
which the C++ test loads into nn::LSTM / nn::GRU by parameter name.

  lstm/<n>, gru/<n>: x, the options (input_size, hidden_size, num_layers,
    bidirectional, batch_first, bias as 0-d int64), "param.<name>", h0 (and
    c0), lengths (int64 [B], or absent), out, h_n (and c_n), projections
    r_out, r_h (and r_c), then the gradients of
    sum(out * r_out) + sum(h_n * r_h) (+ sum(c_n * r_c)): grad_x, grad_h0
    (grad_c0) and "grad.<name>".

With lengths, the input runs through pack_padded_sequence(enforce_sorted=False)
and the output comes back through pad_packed_sequence(total_length=T): zero
past each sequence's length, h_n / c_n at its last step.

PyTorch is a development-time reference only; the file is committed:

    /work/venv-torch/bin/python tests/golden/make_rnn_golden.py
"""
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from make_golden import Group


def case(g, name, module, batch, steps, lengths=None, with_state=True):
    is_lstm = isinstance(module, nn.LSTM)
    layers = module.num_layers * (2 if module.bidirectional else 1)
    shape = (batch, steps, module.input_size) if module.batch_first else (
        steps, batch, module.input_size)
    x = torch.randn(*shape).requires_grad_(True)
    h0 = (0.5 * torch.randn(layers, batch, module.hidden_size)).requires_grad_(True)
    c0 = (0.5 * torch.randn(layers, batch, module.hidden_size)).requires_grad_(True)
    state = ((h0, c0) if is_lstm else h0) if with_state else None
    if lengths is None:
        out, final = module(x, state)
    else:
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=module.batch_first,
                                      enforce_sorted=False)
        out, final = module(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=module.batch_first, total_length=steps)
    h_n, c_n = final if is_lstm else (final, None)
    r_out, r_h = torch.randn_like(out), torch.randn_like(h_n)
    loss = (out * r_out).sum() + (h_n * r_h).sum()
    if is_lstm:
        r_c = torch.randn_like(c_n)
        loss = loss + (c_n * r_c).sum()
    loss.backward()

    def int64(v):
        return torch.tensor(int(v), dtype=torch.int64)

    tensors = {
        "x": x.detach(),
        "input_size": int64(module.input_size),
        "hidden_size": int64(module.hidden_size),
        "num_layers": int64(module.num_layers),
        "bidirectional": int64(module.bidirectional),
        "batch_first": int64(module.batch_first),
        "bias": int64(module.bias),
    }
    for pname, p in module.named_parameters():
        tensors["param." + pname] = p.detach()
    if with_state:
        tensors["h0"] = h0.detach()
        if is_lstm:
            tensors["c0"] = c0.detach()
    if lengths is not None:
        tensors["lengths"] = torch.tensor(lengths, dtype=torch.int64)
    tensors.update({"out": out.detach(), "h_n": h_n.detach(), "r_out": r_out, "r_h": r_h})
    if is_lstm:
        tensors.update({"c_n": c_n.detach(), "r_c": r_c})
    tensors["grad_x"] = x.grad
    if with_state:
        tensors["grad_h0"] = h0.grad
        if is_lstm:
            tensors["grad_c0"] = c0.grad
    for pname, p in module.named_parameters():
        tensors["grad." + pname] = p.grad
    g.add_named(name, tensors)


def main():
    torch.manual_seed(0)
    g = Group("rnn.txt")
    two_bi_bf = dict(num_layers=2, bidirectional=True, batch_first=True)
    case(g, "lstm", nn.LSTM(3, 4, **two_bi_bf), batch=3, steps=5)
    case(g, "lstm", nn.LSTM(3, 4, **two_bi_bf), batch=3, steps=5, lengths=[5, 2, 4])
    case(g, "lstm", nn.LSTM(2, 3, num_layers=2, bidirectional=True, bias=False), batch=2,
         steps=4, lengths=[1, 4], with_state=False)
    case(g, "gru", nn.GRU(3, 4, **two_bi_bf), batch=3, steps=5)
    case(g, "gru", nn.GRU(3, 4, **two_bi_bf), batch=3, steps=5, lengths=[3, 5, 1])
    case(g, "gru", nn.GRU(2, 3, num_layers=1), batch=2, steps=4, lengths=[4, 2],
         with_state=False)
    g.write()


if __name__ == "__main__":
    main()
