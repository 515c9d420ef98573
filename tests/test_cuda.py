"""The GPU paths (marker ``cuda``): the same array code on CUDA tensors and CuPy arrays as on the CPU.

Every test compares a device's result with the NumPy one. The ``cuda`` cases run only where a CUDA device is
present (``pytest -m cuda``; ``benchmarks/gpu_check.py`` runs them on a lent GPU machine) and are skipped
elsewhere, with the reason; the same tests on CPU torch tensors run everywhere, so the tests themselves are
checked on every machine.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ppsolve import ADMM, restore
from ppsolve.experiments.natural import sr_operator
from ppsolve.inverses import FourierInverse, make_inverse
from ppsolve.operators import Convolution, motion_kernel
from ppsolve.operators.crop import valid_convolution
from ppsolve.prox import TV, SoftThreshold

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (torch.cuda.is_available() is False)")


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, needs_cuda])])
def device(request):
    return request.param


def _cupy():
    try:
        import cupy
        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:  # not installed, or no driver / device
        return None


needs_cupy = pytest.mark.skipif(_cupy() is None, reason="CuPy with a CUDA device is not available")


def _image(shape=(64, 64), seed=0):
    return np.random.default_rng(seed).random(shape)


def _operators():
    k = motion_kernel(9, 30, 9)
    return {"periodic blur": Convolution(k, (64, 64)), "strided (SR x4)": sr_operator((64, 64), 4),
            "valid blur": valid_convolution(k, (64, 64))}


@pytest.mark.parametrize("name", ["periodic blur", "strided (SR x4)", "valid blur"])
def test_operators_on_a_device_match_numpy_and_pass_the_dot_test(name, device):
    A = _operators()[name]
    x, y = _image(A.in_shape, 1), _image(A.out_shape, 2)
    xc, yc = torch.tensor(x, device=device), torch.tensor(y, device=device)
    Ax, Aty = A.apply(xc), A.adjoint(yc)
    assert Ax.device.type == device and Aty.device.type == device
    np.testing.assert_allclose(Ax.cpu().numpy(), A.apply(x), atol=1e-10)
    np.testing.assert_allclose(Aty.cpu().numpy(), A.adjoint(y), atol=1e-10)
    assert float(torch.sum(Ax * yc)) == pytest.approx(float(torch.sum(xc * Aty)), rel=1e-10)


@pytest.mark.parametrize("name", ["periodic blur", "strided (SR x4)"])
def test_fourier_inverse_on_a_device_matches_numpy(name, device):
    A = _operators()[name]
    inv = FourierInverse(A, 0.05)
    b = _image(A.in_shape, 3)
    z = inv.solve(torch.tensor(b, device=device))
    assert z.device.type == device
    np.testing.assert_allclose(z.cpu().numpy(), inv.solve(b), atol=1e-10)


def test_cg_on_the_valid_blur_on_a_device_matches_numpy(device):
    A = _operators()["valid blur"]
    inv = make_inverse(A, 0.05, "cg", tol=1e-10)
    b = _image(A.in_shape, 4)
    np.testing.assert_allclose(inv.solve(torch.tensor(b, device=device)).cpu().numpy(), inv.solve(b), atol=1e-7)


@pytest.mark.parametrize("prox", [SoftThreshold(), TV(iters=10)], ids=["soft threshold", "TV"])
def test_admm_on_a_device_matches_numpy(prox, device):
    A = _operators()["periodic blur"]
    y = A.apply(_image()) + 0.01 * np.random.default_rng(5).standard_normal(A.out_shape)
    admm = ADMM(A, prox, "fourier", beta=0.05, lam=0.01)
    cpu, gpu = admm.solve(y, iters=10), admm.solve(torch.tensor(y, device=device), iters=10)
    assert gpu.x.device.type == device
    np.testing.assert_allclose(gpu.x.cpu().numpy(), cpu.x, atol=1e-8)


def test_restore_with_the_zoo_prior_on_a_device_matches_numpy(device):
    A = _operators()["periodic blur"]
    y = A.apply(_image()) + 0.01 * np.random.default_rng(6).standard_normal(A.out_shape)
    cpu = restore(y.astype(np.float32), A, prior="natural-gray", task="deblur").x
    gpu = restore(torch.tensor(y, dtype=torch.float32, device=device), A, prior="natural-gray", task="deblur",
                  device=device).x
    assert gpu.device.type == device
    np.testing.assert_allclose(gpu.cpu().numpy(), cpu, atol=2e-3)  # float32 convolutions: cuDNN vs oneDNN


@pytest.mark.cuda
@needs_cupy
@pytest.mark.parametrize("name", ["periodic blur", "strided (SR x4)"])
def test_operators_and_fourier_inverse_on_cupy_match_numpy(name):
    cp = _cupy()
    A = _operators()[name]
    x = _image(A.in_shape, 7)
    Ax = A.apply(cp.asarray(x))
    assert isinstance(Ax, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(Ax), A.apply(x), atol=1e-10)
    inv = FourierInverse(A, 0.05)
    np.testing.assert_allclose(cp.asnumpy(inv.solve(cp.asarray(x))), inv.solve(x), atol=1e-10)
