"""ppsolve.prox.denoiser: torch denoisers as ADMM proximal operators (stand-in networks and the real ones)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from ppsolve import zoo
from ppsolve.prox import CPSDAEProx, DAEProx, DenoiserProx, sqrt_tau


class Affine(nn.Module):
    """A stand-in denoiser: x = a v + b elementwise (float32 parameters)."""

    def __init__(self, a=0.5, b=0.1):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))
        self.b = nn.Parameter(torch.tensor(b))

    def forward(self, v):
        return self.a * v + self.b


class NoiseConditional(nn.Module):
    """x = v / (1 + sigma): a stand-in for a network with a noise-level input."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, v, sigma):
        return self.w * v / (1.0 + sigma)


class TrainingSensitive(nn.Module):
    """Dropout: random in training mode, the identity in eval mode."""

    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, v):
        return self.w * self.drop(v)


class Conditional(nn.Module):
    """A stand-in cPSDAE: x = v + upsample(y) (nearest, factor r), channels and y_channels as attributes."""

    def __init__(self, factor=2, channels=3, y_channels=1):
        super().__init__()
        self.factor, self.channels, self.y_channels = factor, channels, y_channels
        self.w = nn.Parameter(torch.ones(()))
        self.calls = []

    def forward(self, v, y):
        self.calls.append((tuple(v.shape), tuple(y.shape)))
        assert v.ndim == 4 and y.ndim == 4
        up = y.repeat_interleave(self.factor, -2).repeat_interleave(self.factor, -1)
        return self.w * v + up.mean(dim=1, keepdim=True)


def test_numpy_and_torch_round_trip():
    prox = DenoiserProx(Affine())
    v = np.random.default_rng(0).standard_normal((2, 3, 5, 5))
    out = prox(v, 0.3)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == v.shape
    np.testing.assert_allclose(out, 0.5 * v + 0.1, rtol=1e-6, atol=1e-6)  # computed in float32
    np.testing.assert_allclose(prox(v[..., ::-1], 0.3), out[..., ::-1])  # a non-contiguous view
    out32 = prox(v.astype(np.float32), 0.3)
    assert out32.dtype == np.float32
    vt = torch.tensor(v, requires_grad=True)
    outt = prox(vt, 0.3)
    assert isinstance(outt, torch.Tensor) and outt.dtype == torch.float64 and not outt.requires_grad
    np.testing.assert_allclose(outt.numpy(), out)
    assert prox(torch.tensor(v, dtype=torch.float32), 0.3).dtype == torch.float32
    # tau is ignored by default; value is unknown
    np.testing.assert_array_equal(prox(v, 0.0), prox(v, 100.0))
    assert math.isnan(prox.value(v))
    with pytest.raises(ValueError, match="tau"):
        prox(v, -1.0)
    with pytest.raises(TypeError):
        prox(np.ones((2, 2), dtype=int), 0.1)


def test_eval_mode_for_the_call_and_restored():
    model = TrainingSensitive()
    model.train()
    prox = DenoiserProx(model)
    v = np.ones((64, 64))
    np.testing.assert_array_equal(prox(v, 0.1), v)  # dropout off
    assert model.training


def test_clip_and_sigma_of_tau():
    prox = DenoiserProx(Affine(a=2.0, b=0.0), clip=(0.0, 1.0))
    out = prox(np.array([-1.0, 0.25, 0.8]), 0.1)
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0])
    cond = DenoiserProx(NoiseConditional(), sigma_of_tau=sqrt_tau)
    np.testing.assert_allclose(cond(np.full((4, 4), 3.0), 4.0), 1.0, rtol=1e-6)  # 3 / (1 + sqrt(4))
    with pytest.raises(TypeError, match="noise-level input"):
        DenoiserProx(Affine(), sigma_of_tau=sqrt_tau)
    with pytest.raises(ValueError, match="clip"):
        DenoiserProx(Affine(), clip=(1.0, 0.0))


def test_shape_changing_model_is_refused():
    prox = DenoiserProx(lambda v: v[..., :-1])
    with pytest.raises(ValueError, match="keep the shape"):
        prox(np.zeros((4, 4)), 0.1)


def test_dae_prox_shapes():
    prox = DAEProx(Affine())
    v = np.random.default_rng(1).random((3, 2, 28, 28))
    out = prox(v, 0.1)
    assert out.shape == v.shape and out.dtype == np.float64
    np.testing.assert_allclose(out, 0.5 * v + 0.1, rtol=1e-6)
    assert prox(v.reshape(3, 2, 784), 0.1).shape == (3, 2, 784)
    with pytest.raises(ValueError, match=r"\(\*batch, 28, 28\)"):
        prox(np.zeros((3, 27, 28)), 0.1)


def test_dae_prox_with_the_real_network():
    from ppsolve.nn.dae import DAE as DAENet

    torch.manual_seed(0)
    net = DAENet()
    prox = DAEProx(net)
    v = np.random.default_rng(2).random((2, 28, 28))
    out = prox(v, 0.05)
    assert out.shape == (2, 28, 28) and out.dtype == np.float64
    assert np.all((out > 0) & (out < 1))  # the sigmoid output
    with torch.no_grad():
        ref = net(torch.tensor(v, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    single = prox(torch.tensor(v[0]), 0.05)  # one image, no batch axis
    np.testing.assert_allclose(single.numpy(), ref[0], rtol=1e-6)


def test_cpsdae_prox_requires_y_and_checks_its_shape():
    model = Conditional(factor=2, channels=3, y_channels=1)
    prox = CPSDAEProx(model)
    rng = np.random.default_rng(3)
    v = rng.random((2, 3, 8, 8))
    with pytest.raises(ValueError, match="measurement y is required"):
        prox(v, 0.1)
    with pytest.raises(ValueError, match="low resolution"):
        prox(v, 0.1, y=rng.random((2, 1, 8, 8)))  # full resolution: wrong
    with pytest.raises(ValueError, match="low resolution"):
        prox(v, 0.1, y=rng.random((2, 3, 4, 4)))  # wrong number of channels
    with pytest.raises(ValueError, match=r"with the batch of v \(2,\)"):
        prox(v, 0.1, y=rng.random((3, 1, 4, 4)))
    with pytest.raises(ValueError, match="divisible"):
        prox(rng.random((3, 7, 8)), 0.1, y=rng.random((1, 4, 4)))
    y = rng.random((2, 1, 4, 4))
    out = prox(v, 0.1, y=y)
    expected = v + np.repeat(np.repeat(y, 2, -2), 2, -1)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    # a grey y may come without its channel axis; one y may serve a whole batch
    np.testing.assert_allclose(prox(v, 0.1, y=y[:, 0]), expected, rtol=1e-6)
    shared = prox(v, 0.1, y=y[0, 0])
    np.testing.assert_allclose(shared[1], v[1] + np.repeat(np.repeat(y[0], 2, -2), 2, -1), rtol=1e-6)
    # torch in, torch out
    outt = prox(torch.tensor(v), 0.1, y=torch.tensor(y))
    assert isinstance(outt, torch.Tensor) and outt.dtype == torch.float64
    assert model.calls[-1] == ((2, 3, 8, 8), (2, 1, 4, 4))
    with pytest.raises(ValueError, match="attribute 'factor'"):
        CPSDAEProx(Affine())


def test_cpsdae_prox_with_the_real_network():
    from ppsolve.nn.cpsdae import CPSDAE as CPSDAENet

    torch.manual_seed(0)
    net = CPSDAENet(factor=2, channels=3, y_channels=3, encoder=(8, 4), decoder=(8,))
    prox = CPSDAEProx(net)
    rng = np.random.default_rng(4)
    v, y = rng.random((2, 3, 8, 8)), rng.random((2, 3, 4, 4))
    out = prox(v, 0.1, y=y)
    assert out.shape == v.shape and out.dtype == np.float64
    with torch.no_grad():
        ref = net.eval()(torch.tensor(v, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="measurement y is required"):
        prox(v, 0.1)


def test_from_file_round_trip_and_own_classes_only_through_a_factory(tmp_path):
    from ppsolve import modelfile

    model = Affine(a=0.25, b=0.5)
    header = {"kind": "denoiser", "model": {"class": "Affine", "config": {}}}
    modelfile.save(tmp_path / "d.safetensors", header, {f"model.{k}": v for k, v in model.state_dict().items()})
    prox = DenoiserProx.from_file(tmp_path / "d.safetensors", Affine)  # a class of your own: pass its factory
    np.testing.assert_allclose(prox(np.ones(3), 0.1), 0.75)
    assert prox.metadata["model"]["class"] == "Affine"
    with pytest.raises(ValueError, match="unknown architecture 'Affine'"):
        DenoiserProx.from_file(tmp_path / "d.safetensors")  # a file never names what gets built


def test_zoo_mnist_dae():
    """The shipped DAE (python -m ppsolve.train mnist-dae): trained on digits 0-6999 only, and a denoiser."""
    from ppsolve.data import load_mnist_sample

    prox = zoo.load("mnist-dae")
    assert isinstance(prox, DAEProx)
    meta = prox.metadata["training"]
    split = meta["extra"]["split"]
    assert split["train"] == [0, 7000] and split["val"] == [7000, 8000] and split["held_out"] == [8000, 10000]
    assert meta["progress"]["complete"] and meta["figures"]["val_psnr"][-1] > 20
    x = load_mnist_sample()[:8].astype(np.float64)  # digits 0-7: training digits, a smoke test only
    v = x + 0.2 * np.random.default_rng(0).standard_normal(x.shape)
    out = prox(v, 0.1)
    assert out.dtype == np.float64 and np.linalg.norm(out - x) < 0.5 * np.linalg.norm(v - x)


def test_self_ensemble_averages_the_turned_then_mirrored_model():
    """ensemble=k averages T^{-1} model(T v) over the first k of: identity, the three clockwise quarter turns,
    the vertical and horizontal flips, the transpose and the anti-transpose; the same for a non-square image
    (turned, it is W x H), so that tiles of any shape take the same transforms."""
    class Conv(torch.nn.Module):  # no symmetry at all
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False).double()

        def forward(self, v):
            return self.conv(v.reshape(-1, 1, *v.shape[-2:])).reshape(v.shape)

    def turn(a, k):  # k clockwise quarter turns, by index arithmetic: out[i, j] = a[n - 1 - j, i]
        for _ in range(k % 4):
            a = a.transpose(-1, -2).flip(-1)
        return a

    torch.manual_seed(0)
    model = Conv()
    v = torch.rand(2, 6, 6, dtype=torch.float64)
    v[..., 0, 1] = 5.0  # a quarter turn of v differs from every flip of it
    with torch.no_grad():
        turns = [turn(model(turn(v, k)), -k) for k in range(4)]
        mirrors = [model(v.flip(-2)).flip(-2), model(v.flip(-1)).flip(-1),
                   model(v.transpose(-1, -2)).transpose(-1, -2),
                   model(v.flip(-2, -1).transpose(-1, -2)).transpose(-1, -2).flip(-2, -1)]
    manual = turns + mirrors
    assert not torch.allclose(manual[1], model(v.flip(-2)).flip(-2))  # the second is the turn, not a flip
    for count in (1, 2, 4, 8):
        out = DenoiserProx(model, ensemble=count)(v, 0.0)
        assert torch.allclose(out, sum(manual[:count]) / count, atol=1e-12)
    w = torch.rand(5, 7, dtype=torch.float64)  # non-square: a turn gives a 7 x 5 image, turned back
    with torch.no_grad():
        both = [turn(model(turn(w, 1)), -1), model(w.transpose(-1, -2)).transpose(-1, -2)]
    assert torch.allclose(DenoiserProx(model, ensemble=2)(w, 0.0), (model(w) + both[0]) / 2, atol=1e-12)
    assert DenoiserProx(model, ensemble=8)(w, 0.0).shape == w.shape
    assert torch.allclose(DenoiserProx(model, ensemble=8)(w, 0.0) * 8 - DenoiserProx(model, ensemble=4)(w, 0.0) * 4
                          - model(w.flip(-2)).flip(-2) - model(w.flip(-1)).flip(-1) - both[1],
                          model(w.flip(-2, -1).transpose(-1, -2)).transpose(-1, -2).flip(-2, -1), atol=1e-12)
    with pytest.raises(ValueError, match="ensemble must be"):
        DenoiserProx(model, ensemble=3)
