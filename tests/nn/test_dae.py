"""ppsolve.nn.dae: Table 1's DAE. Layer sizes are checked with forward hooks against the table."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ppsolve.nn.dae import DAE, DAE_LAYER_SHAPES
from tests.nn._shared import check_config_rebuilds, record_outputs


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_dae_parameter_count_and_layers():
    torch.manual_seed(0)
    dae = DAE()
    assert n_params(dae) == 620_609
    convs = [m for m in dae.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert [type(m).__name__ for m in convs] == ["Conv2d"] * 4 + ["ConvTranspose2d"] * 4
    assert [m.kernel_size for m in convs] == [(5, 5), (5, 5), (5, 5), (2, 2), (3, 3), (5, 5), (5, 5), (5, 5)]
    assert [m.stride for m in convs] == [(2, 2)] * 3 + [(1, 1)] * 3 + [(2, 2)] * 2
    assert all(m.bias is not None for m in convs)
    acts = [type(block[1]).__name__ for block in dae.layers]
    assert acts == ["ReLU", "ReLU", "ReLU", "Identity", "ReLU", "ReLU", "ReLU", "Sigmoid"]
    shapes, handles = record_outputs(dae.layers)
    out = dae(torch.rand(2, 1, 28, 28))
    for h in handles:
        h.remove()
    assert tuple(shapes) == DAE_LAYER_SHAPES
    assert DAE_LAYER_SHAPES == (
        (32, 14, 14), (64, 7, 7), (128, 2, 2), (64, 1, 1), (128, 3, 3), (64, 7, 7), (32, 14, 14), (1, 28, 28)
    )
    assert out.shape == (2, 1, 28, 28) and 0 < out.min() and out.max() < 1


@pytest.mark.parametrize("shape", [(28, 28), (1, 28, 28), (5, 28, 28), (2, 3, 28, 28), (2, 3, 1, 28, 28)])
def test_dae_batch_shapes(shape):
    dae = DAE()
    x = torch.rand(shape)
    out = dae(x)
    assert out.shape == x.shape
    # the same as the plain (N, 1, 28, 28) call
    torch.testing.assert_close(out.reshape(-1, 28, 28), dae(x.reshape(-1, 1, 28, 28)).reshape(-1, 28, 28))


def test_dae_trains_and_rejects_other_sizes():
    torch.manual_seed(0)
    dae = DAE()
    x = torch.rand(4, 28, 28)
    loss = F.mse_loss(dae(x + 0.1 * torch.randn_like(x)), x)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in dae.parameters())
    with pytest.raises(ValueError, match="28, 28"):
        dae(torch.rand(2, 32, 32))

@pytest.mark.parametrize("build", [
    DAE,
])
def test_config_rebuilds_the_architecture(build):
    """``config`` is JSON-able and ``type(m)(**config)`` accepts ``m``'s weights (strictly) and computes the same."""
    check_config_rebuilds(build)
