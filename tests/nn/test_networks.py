"""The learned-prior networks: Table 1's DAE, Tables 2-3's cPSDAE, the DCGAN discriminator, the comparator.

Layer sizes are checked with forward hooks against the tables. CPU-cheap: small images, except one
256 x 256 forward pass of the Table 2 network under ``torch.no_grad``.
"""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ppsolve.nn.cpsdae import CPSDAE, SameConv2d
from ppsolve.nn.dae import DAE, DAE_LAYER_SHAPES
from ppsolve.nn.discriminator import Discriminator, FeatureComparator
from ppsolve.nn.dncnn import DnCNN
from ppsolve.nn.unet import SigmaUNet


def record_outputs(modules):
    """Attach forward hooks; returns (shapes list, handles)."""
    shapes: list[tuple] = []
    handles = [m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:]))) for m in modules]
    return shapes, handles


def n_params(module):
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------------------------------------ DAE


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


# ---------------------------------------------------------------------------------------------- cPSDAE


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


# ----------------------------------------------------------------------------------------- discriminator


def test_discriminator_shapes():
    torch.manual_seed(0)
    d = Discriminator()  # channels 3, factor 4, width 64, depth 3
    seen = []
    handle = d.features[0].register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape[1:])))
    out = d(torch.rand(2, 3, 64, 64))
    handle.remove()
    assert seen == [(48, 16, 16)]  # it sees pixel-unshuffled images
    assert out.shape == (2,)
    assert d(torch.rand(2, 2, 3, 32, 48)).shape == (2, 2)
    assert d.eval()(torch.rand(3, 32, 32)).shape == ()
    convs = [m for m in d.features if isinstance(m, nn.Conv2d)]
    assert [(m.out_channels, m.kernel_size, m.stride) for m in convs] == [(c, (4, 4), (2, 2)) for c in (64, 128, 256)]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d.modules()) == 2
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, nn.LeakyReLU))
    mnist = Discriminator(channels=1, factor=1, width=8, depth=2)
    assert mnist(torch.rand(5, 28, 28)).shape == (5,)
    assert mnist(torch.rand(5, 1, 28, 28)).shape == (5,)
    with pytest.raises(ValueError, match="at least 32"):
        d(torch.rand(2, 3, 16, 16))
    with pytest.raises(ValueError, match="divisible"):
        d(torch.rand(2, 3, 66, 64))
    with pytest.raises(ValueError):
        d(torch.rand(2, 1, 64, 64))


def test_discriminator_gan_step():
    torch.manual_seed(0)
    d = Discriminator(channels=3, factor=2, width=8, depth=2)
    real, fake = torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)
    loss = F.binary_cross_entropy_with_logits(d(real), torch.ones(4)) + F.binary_cross_entropy_with_logits(
        d(fake), torch.zeros(4)
    )
    loss.backward()
    assert all(p.grad is not None for p in d.parameters())


# ------------------------------------------------------------------------------------------- comparator


def tiny_net():
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
    )


def test_comparator_frozen_and_features():
    torch.manual_seed(0)
    net = tiny_net()
    c = FeatureComparator(net, layers=[1, "4"])
    assert not net.training and all(not p.requires_grad for p in c.parameters())
    parent = nn.Sequential(nn.Conv2d(3, 3, 1), c)
    parent.train()
    assert c.training and not net.training and not net[3].training  # BatchNorm stays in eval mode
    x = torch.rand(2, 3, 16, 16)
    feats = c(x)
    assert [f.shape for f in feats] == [(2, 4, 16, 16), (2, 8, 8, 8)]
    calls = []
    net[5].register_forward_hook(lambda *_: calls.append(1))
    c(x)
    assert calls == []  # the layers after the last one requested are not run
    whole = FeatureComparator(tiny_net())
    assert isinstance(whole(x), torch.Tensor) and whole(x).shape == (2, 8, 8, 8)
    assert [f.shape for f in whole.features(x)] == [(2, 8, 8, 8)]


def test_comparator_feature_loss():
    torch.manual_seed(0)
    c = FeatureComparator(tiny_net(), layers=[1, 4])
    x = torch.rand(2, 3, 16, 16)
    assert c.feature_loss(x, x.clone()).item() == 0.0
    x_hat = (x + 0.1 * torch.randn_like(x)).requires_grad_(True)
    loss = c.feature_loss(x, x_hat)
    fx, fh = c(x), c(x_hat)
    expected = (F.mse_loss(fh[0], fx[0]) + F.mse_loss(fh[1], fx[1])) / 2
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert x_hat.grad is not None and x_hat.grad.abs().sum() > 0
    assert all(p.grad is None for p in c.parameters())


def test_comparator_from_state_dict_file(tmp_path):
    torch.manual_seed(0)
    source = tiny_net()
    path = tmp_path / "comparator.pt"
    torch.save(source.state_dict(), path)
    c = FeatureComparator(state_dict=path, builder=tiny_net)
    source.eval()
    x = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(c(x), source(x))
    c2 = FeatureComparator(tiny_net(), state_dict=str(path))  # load into a given module
    torch.testing.assert_close(c2(x), c(x))
    c3 = FeatureComparator(builder=tiny_net, state_dict=source.state_dict())  # an in-memory mapping
    torch.testing.assert_close(c3(x), c(x))
    normed = FeatureComparator(state_dict=path, builder=tiny_net, mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25])
    torch.testing.assert_close(normed(x), c((x - 0.5) / 0.25))


def test_comparator_errors(tmp_path):
    with pytest.raises(ValueError, match="exactly one"):
        FeatureComparator()
    with pytest.raises(ValueError, match="exactly one"):
        FeatureComparator(tiny_net(), builder=tiny_net)
    with pytest.raises(ValueError, match="state_dict"):
        FeatureComparator(builder=tiny_net)
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        FeatureComparator(builder=tiny_net, state_dict=tmp_path / "absent.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        FeatureComparator(builder=tiny_net, state_dict=bad)
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "other.pt")
    with pytest.raises(RuntimeError):  # strict loading: keys must match
        FeatureComparator(builder=tiny_net, state_dict=tmp_path / "other.pt")
    with pytest.raises(ValueError, match="no submodule"):
        FeatureComparator(tiny_net(), layers=["99"])
    with pytest.raises(TypeError):
        FeatureComparator(lambda x: x)


# ------------------------------------------------------------------------------------------------ config


@pytest.mark.parametrize("build", [
    DAE,
    lambda: CPSDAE(2, channels=1, y_channels=1, encoder=(8, 4), decoder=(4,), kernel_size=3, batch_norm=False,
                   output="linear"),
    lambda: CPSDAE.table3(),
    lambda: Discriminator(channels=1, factor=2, width=8, depth=2, batch_norm=False),
    Discriminator,
    lambda: DnCNN(channels=1, features=8, dilations=(1, 2, 1)),
    lambda: SigmaUNet(channels=3, widths=(4, 8), blocks=2),
])
def test_config_rebuilds_the_architecture(build):
    """``config`` is JSON-able and ``type(m)(**config)`` accepts ``m``'s weights (strictly) and computes the same."""
    torch.manual_seed(0)
    model = build().eval()
    config = json.loads(json.dumps(model.config))
    assert config == model.config
    clone = type(model)(**config).eval()
    assert clone.config == model.config
    clone.load_state_dict(model.state_dict())
    assert clone.state_dict().keys() == model.state_dict().keys()
    if isinstance(model, DAE):
        assert config == {}
        inputs = (torch.rand(2, 28, 28),)
    elif isinstance(model, CPSDAE):
        r, c, yc = model.factor, model.channels, model.y_channels
        inputs = (torch.rand(2, c, 8 * r, 8 * r), torch.rand(2, yc, 8, 8))
    else:
        inputs = (torch.rand(2, model.channels, 32, 32),)
    if isinstance(model, SigmaUNet):
        inputs = inputs + (0.1,)
    with torch.no_grad():
        torch.testing.assert_close(clone(*inputs), model(*inputs))


def test_config_of_non_default_cpsdae_and_discriminator():
    net = CPSDAE(4, channels=1, y_channels=1, encoder=(16, 8), decoder=(8,), kernel_size=3, batch_norm=False,
                 output="table")
    assert net.config == {"factor": 4, "channels": 1, "y_channels": 1, "encoder": [16, 8], "decoder": [8],
                          "kernel_size": 3, "batch_norm": False, "output": "table"}
    d = Discriminator(channels=1, factor=1, width=8, depth=2, batch_norm=False)
    assert d.config == {"channels": 1, "factor": 1, "width": 8, "depth": 2, "batch_norm": False}
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())


def test_trainer_records_config_and_load_denoiser_rebuilds_without_factory(tmp_path):
    """The trainer records ``model.config``; ``load_denoiser`` rebuilds the recorded class from it."""
    from ppsolve.operators import box_kernel, strided_convolution
    from ppsolve.nn.registry import load_denoiser
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


# ------------------------------------------------------------------------------------------------ U-Net


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
