"""ppsolve.nn.onnx: a network run by ONNX Runtime is the same map as the torch network, at any size."""
from __future__ import annotations

import builtins

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")

from ppsolve import restore, zoo  # noqa: E402
from ppsolve.nn.dncnn import SigmaDnCNN  # noqa: E402
from ppsolve.nn.onnx import OnnxNetwork, require_onnxruntime  # noqa: E402
from ppsolve.nn.unet import SigmaUNet  # noqa: E402
from ppsolve.operators import Convolution, motion_kernel  # noqa: E402
from ppsolve.prox import DenoiserProx, sqrt_tau  # noqa: E402
from ppsolve.staged import stage_ensembles  # noqa: E402


def _unet(channels=1):
    torch.manual_seed(0)
    net = SigmaUNet(channels=channels, widths=(8, 16, 32)).eval()
    for p in net.parameters():  # weights far from the near-identity start (variance-keeping), so that it shows
        p.data.normal_(0, (2 / p[0].numel()) ** 0.5)
    return net


@pytest.mark.parametrize("shape", [(1, 1, 32, 32), (30, 45), (3, 26, 19), (2, 1, 17, 40)])
def test_the_exported_unet_is_the_same_map_at_any_size_and_batch(shape):
    net = _unet()
    v = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = net(v, 0.07)
    out = OnnxNetwork(net, threads=1)(v, 0.07)
    assert out.shape == v.shape and out.dtype == v.dtype
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)  # float32 convolutions: oneDNN vs ORT
    assert float((expected - v).abs().max()) > 0.01  # a map that does something


def test_colour_dncnn_and_noise_levels():
    torch.manual_seed(0)
    net = SigmaDnCNN(channels=3, features=8).eval()
    onnx_net = OnnxNetwork(net, threads=1)
    v = torch.rand(2, 3, 21, 22)
    for sigma in (0.01, 0.2, torch.tensor([0.05, 0.05])):
        with torch.no_grad():
            torch.testing.assert_close(onnx_net(v, sigma), net(v, sigma), atol=2e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="one noise level for the whole batch"):
        onnx_net(v, torch.tensor([0.05, 0.1]))
    with pytest.raises(ValueError, match="float32 network"):
        OnnxNetwork(SigmaDnCNN(channels=1, features=4).double())


def test_denoiser_prox_and_restore_with_the_onnxruntime_backend_match_torch(monkeypatch):
    net = _unet()
    v = np.random.default_rng(2).random((2, 30, 30))
    torch_prox = DenoiserProx(net, sigma_of_tau=sqrt_tau, ensemble=4)
    onnx_prox = DenoiserProx(net, sigma_of_tau=sqrt_tau, ensemble=4, backend="onnxruntime")
    np.testing.assert_allclose(onnx_prox.prox(v, 0.003), torch_prox.prox(v, 0.003), atol=3e-5)
    with pytest.raises(ValueError, match="backend: expected one of 'torch', 'onnxruntime'"):
        DenoiserProx(net, backend="tensorrt")
    A = Convolution(motion_kernel(5, 30, 5), (32, 32))
    y = A.apply(np.random.default_rng(3).random((32, 32)))
    a = restore(y, A, prior="natural-gray", task="deblur").x
    calls, run = [], OnnxNetwork.__call__
    monkeypatch.setattr(OnnxNetwork, "__call__", lambda self, v, s: calls.append(1) or run(self, v, s))
    b = restore(y, A, prior="natural-gray", task="deblur", backend="onnxruntime").x
    task = zoo.info("natural-gray")["tasks"]["deblur"]  # every evaluation of every transform through ONNX Runtime
    sizes = stage_ensembles(task["ensemble"], task["stages"])
    assert len(calls) == sum(its * e for (_, its, _), e in zip(task["stages"], sizes)) == 19
    np.testing.assert_allclose(b, a, atol=1e-4)


def test_without_onnxruntime_the_error_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def hide(name, *args, **kwargs):
        if name.startswith("onnxruntime"):
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", hide)
    with pytest.raises(ImportError, match=r"pip install 'ppsolve\[onnx\]'"):
        require_onnxruntime()
