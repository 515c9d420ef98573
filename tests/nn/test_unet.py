"""ppsolve.nn.unet: the noise-level-conditional SigmaUNet."""
from __future__ import annotations

import pytest
import torch

from ppsolve.nn.unet import SigmaUNet
from tests.nn._shared import check_config_rebuilds


def _random_unet(**kwargs):
    torch.manual_seed(0)
    net = SigmaUNet(**kwargs).double().eval()
    for p in net.parameters():  # far from the near-identity initialisation
        torch.nn.init.normal_(p, std=0.3)
    return net


@pytest.mark.parametrize("widths,blocks", [((4,), 1), ((4, 6), 1), ((4, 6, 8), 2), ((2, 3, 4, 5), 1)])
def test_unet_receptive_radius_is_the_support_of_the_gradient(widths, blocks):
    """``receptive_radius`` is exactly the farthest input any output pixel depends on, over every phase of
    the pixel grid of the levels."""
    net = _random_unet(widths=widths, blocks=blocks)
    n, measured = 4 * net.receptive_radius + 8, 0
    for phase in range(net.multiple):
        x = torch.rand(1, n, n, dtype=torch.float64, requires_grad=True)
        c = n // 2 - n // 2 % net.multiple + phase
        net(x, 0.1)[0, c, c].backward()
        measured = max(measured, int((x.grad[0].abs() > 0).nonzero().sub(c).abs().max()))
    assert measured == net.receptive_radius
    assert net.multiple == 2 ** (len(widths) - 1)


def test_unet_shapes_sigma_per_image_and_translation_by_its_multiple():
    net = _random_unet(widths=(4, 6, 8))
    for shape in [(37, 50), (2, 37, 50), (2, 1, 37, 50)]:  # sides not multiples of 4: padded and cropped
        assert net(torch.rand(shape, dtype=torch.float64), 0.1).shape == shape
    x = torch.rand(3, 32, 32, dtype=torch.float64)
    sigmas = torch.tensor([0.0, 0.05, 0.1], dtype=torch.float64)
    together = net(x, sigmas)
    one = torch.stack([net(x[i], float(sigmas[i])) for i in range(3)])
    torch.testing.assert_close(together, one)
    # equivariance: a periodic image shifted by 4 gives the shifted output away from the borders
    big = torch.rand(96, 96, dtype=torch.float64)
    r = net.receptive_radius
    out, shifted = net(big, 0.1), net(torch.roll(big, (4, 8), (0, 1)), 0.1)
    inner = slice(r + 8, 96 - r - 8)
    torch.testing.assert_close(torch.roll(out, (4, 8), (0, 1))[inner, inner], shifted[inner, inner])
    odd = net(torch.roll(big, (1, 0), (0, 1)), 0.1)
    assert (torch.roll(out, (1, 0), (0, 1))[inner, inner] - odd[inner, inner]).abs().max() > 1e-6


def test_unet_colour_and_errors():
    net = SigmaUNet(channels=3, widths=(4, 8))
    assert net(torch.rand(2, 3, 16, 16), 0.1).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match=r"expected \(..., 3, H, W\)"):
        net(torch.rand(2, 16, 16), 0.1)
    with pytest.raises(ValueError, match=r"one per image \(2\), got 3"):
        net(torch.rand(2, 3, 16, 16), torch.tensor([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="widths"):
        SigmaUNet(widths=())
    with pytest.raises(ValueError, match="blocks"):
        SigmaUNet(blocks=0)
    # starts as (nearly) the identity: the residual head is near zero
    x = torch.rand(1, 32, 32)
    assert (SigmaUNet()(x, 0.1) - x).abs().max() < 0.05


@pytest.mark.parametrize("build", [
    lambda: SigmaUNet(channels=3, widths=(4, 8), blocks=2),
])
def test_config_rebuilds_the_architecture(build):
    """``config`` is JSON-able and ``type(m)(**config)`` accepts ``m``'s weights (strictly) and computes the same."""
    check_config_rebuilds(build)
