#!/usr/bin/env python3
"""Writes tests/golden/data/decoder.txt, replayed by tests/golden/test_nn_parity.cpp
(NnParity.TransformerDecoder*, NnParity.Transformer*, NnParity.MultiheadAttention*):
PyTorch's modules with their own weights, which the C++ test loads into the
matching Toadstool modules by parameter name. Dropout 0, batch first.

  decoder_layer/<n>: a torch.nn.TransformerDecoderLayer: tgt, memory, the
    masks (tgt causal + tgt key padding + memory key padding, or a float
    memory mask), projection r, out, "param.<name>" and "grad.<name>" for
    every parameter and grad_tgt, grad_memory (gradients of sum(out * r)).
  transformer/<n>: a torch.nn.Transformer (1 + 2 or 2 + 1 layers): src, tgt, src and
    memory key padding, a causal tgt mask; out and every gradient as above.
  mha_weights/<n>: torch.nn.MultiheadAttention(need_weights=True) over
    query [B, L, E], key = value [B, S, E] with key padding: out, weights
    (averaged or per head), and the parameters' gradients of
    sum(out * r) + sum(weights * rw).

    /work/venv-torch/bin/python tests/golden/make_decoder_golden.py
"""
import torch
from torch import nn

from make_golden import Group


def scalars(**values):
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()}


def perturb_norms_and_biases(module):
    # Non-trivial norms and biases, so every parameter is exercised.
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name or "bias" in name:
                p.add_(0.1 * torch.randn_like(p))


def padding_mask(B, S):
    padding = torch.zeros(B, S, dtype=torch.bool)
    for b in range(B):
        padding[b, S - b:] = True  # sequence b has its last b positions padded
    return padding


def add_params_and_grads(tensors, module):
    for name, p in module.named_parameters():
        tensors["param." + name] = p
    for name, p in module.named_parameters():
        tensors["grad." + name] = p.grad


def decoder_layer_case(g, B, L, S, d, heads, ff, activation, norm_first, float_memory_mask):
    layer = nn.TransformerDecoderLayer(d, heads, ff, dropout=0.0, activation=activation,
                                       batch_first=True, norm_first=norm_first)
    perturb_norms_and_biases(layer)
    tgt = torch.randn(B, L, d, requires_grad=True)
    memory = torch.randn(B, S, d, requires_grad=True)
    r = torch.randn(B, L, d)
    tensors = scalars(d_model=d, nhead=heads, dim_feedforward=ff,
                      gelu=activation == "gelu", norm_first=norm_first)
    tensors.update(tgt=tgt, memory=memory, r=r)
    if float_memory_mask:
        memory_mask = 0.5 * torch.randn(L, S)
        tensors["memory_mask"] = memory_mask
        out = layer(tgt, memory, memory_mask=memory_mask)
    else:
        tgt_padding, memory_padding = padding_mask(B, L), padding_mask(B, S)
        tensors.update(tgt_padding=tgt_padding, memory_padding=memory_padding)
        out = layer(tgt, memory, tgt_mask=nn.Transformer.generate_square_subsequent_mask(L),
                    tgt_is_causal=True, tgt_key_padding_mask=tgt_padding,
                    memory_key_padding_mask=memory_padding)
    (out * r).sum().backward()
    tensors.update(out=out, grad_tgt=tgt.grad, grad_memory=memory.grad)
    add_params_and_grads(tensors, layer)
    g.add_named("decoder_layer", tensors)


def transformer_case(g, B, S, L, d, heads, ff, encoder_layers, decoder_layers, norm_first):
    model = nn.Transformer(d, heads, encoder_layers, decoder_layers, ff, dropout=0.0,
                           batch_first=True, norm_first=norm_first)
    perturb_norms_and_biases(model)
    src = torch.randn(B, S, d, requires_grad=True)
    tgt = torch.randn(B, L, d, requires_grad=True)
    src_padding = padding_mask(B, S)
    r = torch.randn(B, L, d)
    out = model(src, tgt, tgt_mask=model.generate_square_subsequent_mask(L), tgt_is_causal=True,
                src_key_padding_mask=src_padding, memory_key_padding_mask=src_padding)
    (out * r).sum().backward()
    tensors = scalars(d_model=d, nhead=heads, dim_feedforward=ff, norm_first=norm_first,
                      num_encoder_layers=encoder_layers, num_decoder_layers=decoder_layers)
    tensors.update(src=src, tgt=tgt, src_padding=src_padding, r=r, out=out,
                   grad_src=src.grad, grad_tgt=tgt.grad)
    add_params_and_grads(tensors, model)
    g.add_named("transformer", tensors)


def mha_weights_case(g, B, L, S, E, heads, average):
    mha = nn.MultiheadAttention(E, heads, batch_first=True)
    perturb_norms_and_biases(mha)
    query = torch.randn(B, L, E)
    key = torch.randn(B, S, E)
    padding = padding_mask(B, S)
    out, weights = mha(query, key, key, key_padding_mask=padding, need_weights=True,
                       average_attn_weights=average)
    r, rw = torch.randn_like(out), torch.randn_like(weights)
    ((out * r).sum() + (weights * rw).sum()).backward()
    tensors = scalars(num_heads=heads, average=average)
    tensors.update(query=query, key=key, padding=padding, r=r, rw=rw, out=out, weights=weights)
    add_params_and_grads(tensors, mha)
    g.add_named("mha_weights", tensors)


def main():
    torch.manual_seed(0)
    g = Group("decoder.txt")
    decoder_layer_case(g, 3, 6, 7, 8, 2, 16, "relu", False, False)
    decoder_layer_case(g, 2, 5, 4, 6, 3, 10, "gelu", True, True)
    transformer_case(g, 2, 6, 4, 8, 2, 12, 1, 2, False)
    transformer_case(g, 2, 5, 3, 4, 2, 6, 2, 1, True)
    mha_weights_case(g, 2, 5, 6, 8, 2, True)
    mha_weights_case(g, 2, 4, 3, 8, 4, False)
    g.write()


if __name__ == "__main__":
    main()
