"""ppsolve.nn.discriminator: the DCGAN discriminator and the frozen FeatureComparator."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ppsolve.nn.discriminator import Discriminator, FeatureComparator
from tests.nn._shared import check_config_rebuilds


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


@pytest.mark.parametrize("build", [
    lambda: Discriminator(channels=1, factor=2, width=8, depth=2, batch_norm=False),
    Discriminator,
])
def test_config_rebuilds_the_architecture(build):
    """``config`` is JSON-able and ``type(m)(**config)`` accepts ``m``'s weights (strictly) and computes the same."""
    check_config_rebuilds(build)


def test_config_of_non_default_discriminator():
    d = Discriminator(channels=1, factor=1, width=8, depth=2, batch_norm=False)
    assert d.config == {"channels": 1, "factor": 1, "width": 8, "depth": 2, "batch_norm": False}
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
