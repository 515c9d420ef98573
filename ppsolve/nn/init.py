"""Data-dependent initialisation of networks: LSUV (layer-sequential unit variance)."""
from __future__ import annotations

import math

import torch

__all__ = ["lsuv_init"]


@torch.no_grad()
def lsuv_init(model: torch.nn.Module, *inputs, iters: int = 3) -> list[str]:
    """Data-dependent initialisation (layer-sequential unit variance, Mishkin and Matas 2016): every
    convolution, transposed convolution and linear layer, in the order the forward pass runs them, gets a zero
    bias and its weight rescaled until its output on ``inputs`` has unit standard deviation. Returns the
    names of the layers rescaled.

    Why: a deep plain ReLU network such as the MNIST DAE (Table 1, eight layers through a 1 x 1 bottleneck)
    shrinks the signal layer by layer under PyTorch's default initialisation, so its output starts as a
    constant; Adam's first steps then push the small decoder activations below zero and the ReLUs die for
    good. With unit-variance layers it trains at once.
    """
    kinds = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d,
             torch.nn.ConvTranspose3d, torch.nn.Linear)
    order: list[tuple[str, torch.nn.Module]] = []
    names = {id(m): n for n, m in model.named_modules()}
    hooks = [m.register_forward_hook(lambda mod, i, o: order.append((names[id(mod)], mod)))
             for m in model.modules() if isinstance(m, kinds)]
    was_training = model.training
    model.eval()
    try:
        model(*inputs)
    finally:
        for h in hooks:
            h.remove()
    seen, done = set(), []
    for name, layer in order:
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if layer.bias is not None:
            layer.bias.zero_()
        for _ in range(iters):
            captured = []
            handle = layer.register_forward_hook(lambda mod, i, o, store=captured: store.append(o))
            try:
                model(*inputs)
            finally:
                handle.remove()
            std = float(captured[0].std())
            if not math.isfinite(std) or std < 1e-12:
                break
            layer.weight.div_(std)
        done.append(name)
    model.train(was_training)
    return done
