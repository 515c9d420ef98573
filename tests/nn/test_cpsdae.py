"""ppsolve.nn.cpsdae: Tables 2-3's cPSDAE. Layer sizes are checked with forward hooks against the tables.

CPU-cheap: small images, except one 256 x 256 forward pass of the Table 2 network under ``torch.no_grad``.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from ppsolve.nn.cpsdae import CPSDAE, SameConv2d
from tests.nn._shared import check_config_rebuilds, record_outputs


def cpsdae_row_shapes(net: CPSDAE, v, y):
    """Output (C, H, W) of every row of Tables 2-3, plus the decoder's (concatenated) input."""
    rows = [net.unshuffle, *net.encoder, *net.decoder, net.head, net.shuffle]
    shapes, handles = record_outputs(rows)
    concat: list[tuple] = []
    handles.append(net.decoder[0].register_forward_pre_hook(lambda _m, args: concat.append(tuple(args[0].shape[1:]))))
    out = net(v, y)
    for h in handles:
        h.remove()
    return shapes, concat[0], out


def table_shapes(side, factor, c=3, yc=3):
    s = side // factor
    w = c * factor**2
    rows = [(w, s, s), (128, s, s), (64, s, s), (32, s, s), (64, s, s), (128, s, s), (w, s, s), (c, side, side)]
    return rows, (32 + yc, s, s)


def test_cpsdae_table3_layer_shapes():
    """Table 3 (CelebA) at its own size: 64x64x3 -> 32x32x12 -> ... -> 32x32x12 -> 64x64x3."""
    torch.manual_seed(0)
    net = CPSDAE.table3(output="table")
    assert net.factor == 2 and net.channels == 3 and net.y_channels == 3
    shapes, concat, out = cpsdae_row_shapes(net, torch.rand(2, 3, 64, 64), torch.rand(2, 3, 32, 32))
    rows, cat = table_shapes(64, 2)
    assert shapes == rows and concat == cat == (35, 32, 32)
    assert out.shape == (2, 3, 64, 64)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert all(isinstance(m, SameConv2d) and m.kernel_size == (4, 4) for m in convs)
    pairs = [(12, 128), (128, 64), (64, 32), (35, 64), (64, 128), (128, 12)]
    assert [(m.in_channels, m.out_channels) for m in convs] == pairs
    # faithful output: every conv, the last included, is followed by BatchNorm + ReLU
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 6
    assert sum(isinstance(m, nn.ReLU) for m in net.modules()) == 6
    assert out.min() >= 0


def test_cpsdae_table2_small_and_full_size():
    torch.manual_seed(0)
    net = CPSDAE.table2(output="table")
    assert net.factor == 4
    shapes, concat, out = cpsdae_row_shapes(net, torch.rand(2, 3, 32, 32), torch.rand(2, 3, 8, 8))
    rows, cat = table_shapes(32, 4)
    assert shapes == rows and concat == cat and out.shape == (2, 3, 32, 32)
    net.eval()
    with torch.no_grad():  # Table 2 at its own size: 256x256x3 -> 64x64x48 (one image)
        shapes, concat, out = cpsdae_row_shapes(net, torch.rand(1, 3, 256, 256), torch.rand(1, 3, 64, 64))
    rows, cat = table_shapes(256, 4)
    assert rows[0] == (48, 64, 64) and cat == (35, 64, 64)
    assert shapes == rows and concat == cat and out.shape == (1, 3, 256, 256)


@pytest.mark.parametrize("output", ["table", "linear", "residual"])
@pytest.mark.parametrize("size", [(32, 32), (48, 64)])
def test_cpsdae_sizes_and_outputs(output, size):
    torch.manual_seed(0)
    net = CPSDAE(2, output=output)
    H, W = size
    v, y = torch.rand(2, 3, H, W), torch.rand(2, 3, H // 2, W // 2)
    out = net(v, y)
    assert out.shape == (2, 3, H, W)
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert n_bn == (6 if output == "table" else 5)
    if output != "table":
        assert type(net.head) is SameConv2d and net.head.bias is not None
    out.square().mean().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_cpsdae_default_is_residual_and_residual_skip():
    torch.manual_seed(0)
    net = CPSDAE(2)
    assert net.output == "residual"
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.zero_()
    v = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(net(v, torch.rand(2, 3, 8, 8)), v)  # zero correction: the identity
    lin = CPSDAE(2, output="linear").eval()
    with torch.no_grad():
        assert lin(v, torch.rand(2, 3, 8, 8)).min() < 0  # a linear head can go negative


def test_same_padding_is_tensorflow_convention():
    """4x4 'SAME': 1 pixel before, 2 after. A kernel tap at (0, 0) reads input (i - 1, j - 1)."""
    conv = SameConv2d(1, 1, 4, bias=False)
    assert conv.same_padding == (1, 2, 1, 2)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0, 0] = 1.0
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 3, 5] = 1.0
    out = conv(x)
    assert out.shape == x.shape
    assert out[0, 0].nonzero().tolist() == [[4, 6]]
    assert SameConv2d(1, 1, 3).same_padding == (1, 1, 1, 1)
    assert SameConv2d(1, 1, 5).same_padding == (2, 2, 2, 2)


def test_cpsdae_uses_y_and_colorization_layouts():
    torch.manual_seed(0)
    net = CPSDAE.table3(y_channels=1).eval()
    v = torch.rand(2, 3, 16, 16)
    y = torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(net(v, y), v)  # the residual head starts at zero: G starts as the identity
        torch.nn.init.normal_(net.head.weight, std=0.1)  # as training would make it
        a = net(v, y)
        torch.testing.assert_close(net(v, y[:, 0]), a)  # grey y without its channel axis
        assert not torch.allclose(net(v, torch.rand(2, 1, 8, 8)), a)  # y matters
        single = net(v[0], y[0, 0])  # one image, grey (h, w) y
        torch.testing.assert_close(single, a[0])
        many = net(torch.rand(2, 3, 3, 16, 16), torch.rand(2, 3, 8, 8))  # batch (2, 3), grey y
        assert many.shape == (2, 3, 3, 16, 16)
    _, concat, _ = cpsdae_row_shapes(net, v, y)
    assert concat == (33, 8, 8)
    grey = CPSDAE(4, channels=1, y_channels=1).eval()
    with torch.no_grad():
        assert grey(torch.rand(5, 32, 32), torch.rand(5, 8, 8)).shape == (5, 32, 32)
        assert grey(torch.rand(5, 1, 32, 32), torch.rand(5, 1, 8, 8)).shape == (5, 1, 32, 32)


def test_cpsdae_shape_errors():
    net = CPSDAE(2)
    with pytest.raises(ValueError, match="divisible"):
        net(torch.rand(1, 3, 15, 16), torch.rand(1, 3, 7, 8))
    with pytest.raises(ValueError, match="y's size"):
        net(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="v should be"):
        net(torch.rand(1, 4, 16, 16), torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="y should be"):
        net(torch.rand(1, 3, 16, 16), torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="batch"):
        net(torch.rand(2, 3, 16, 16), torch.rand(3, 3, 8, 8))
    with pytest.raises(ValueError, match="output"):
        CPSDAE(2, output="sigmoid")
    with pytest.raises(ValueError, match="factor"):
        CPSDAE(0)


@pytest.mark.parametrize("build", [
    lambda: CPSDAE(2, channels=1, y_channels=1, encoder=(8, 4), decoder=(4,), kernel_size=3, batch_norm=False,
                   output="linear"),
    lambda: CPSDAE.table3(),
])
def test_config_rebuilds_the_architecture(build):
    """``config`` is JSON-able and ``type(m)(**config)`` accepts ``m``'s weights (strictly) and computes the same."""
    check_config_rebuilds(build)


def test_config_of_non_default_cpsdae():
    net = CPSDAE(4, channels=1, y_channels=1, encoder=(16, 8), decoder=(8,), kernel_size=3, batch_norm=False,
                 output="table")
    assert net.config == {"factor": 4, "channels": 1, "y_channels": 1, "encoder": [16, 8], "decoder": [8],
                          "kernel_size": 3, "batch_norm": False, "output": "table"}


def test_trainer_records_config_and_load_denoiser_rebuilds_without_factory(tmp_path):
    """The trainer records ``model.config``; ``load_denoiser`` rebuilds the recorded class from it."""
    from ppsolve.nn.registry import load_denoiser
    from ppsolve.operators import box_kernel, strided_convolution
    from ppsolve.train import train_denoiser

    torch.manual_seed(0)
    net = CPSDAE(2, channels=1, y_channels=1, encoder=(4,), decoder=(4,), kernel_size=3, batch_norm=False)
    A = strided_convolution(box_kernel(2), (8, 8), 2)
    images = torch.rand(4, 8, 8).numpy()
    path = tmp_path / "cpsdae.safetensors"
    meta = train_denoiser(net, images, operator=A, conditional=True, epochs=1, batch_size=4, checkpoint=path,
                          progress=False, log=None)
    assert meta["model"]["config"] == net.config
    model, _ = load_denoiser(path)
    assert type(model) is CPSDAE and model.config == net.config
    v, y = torch.rand(3, 8, 8), torch.rand(3, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(model(v, y), net.eval()(v, y))
