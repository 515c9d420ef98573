"""FourierInverse: exact against dense solves (all structured cases, both backends, both precisions), the
separable aliasing helpers against the pinned fourier.alias_sum / replicate, autograd, a 1024 x 1024 check
against tight CG, and the error for operators without Fourier structure."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ppsolve.inverses import ConjugateGradient, FourierInverse, relative_residual
from ppsolve.operators import (
    ColorToGray,
    Convolution,
    Downsample,
    Identity,
    Mask,
    gaussian_kernel,
    strided_convolution,
)
from tests.helpers import dense_solve, rel

CASES = {
    # name: builder(rng) -> operator
    "conv": lambda rng: Convolution(rng.standard_normal((5, 4)), (12, 12)),
    "conv_odd": lambda rng: Convolution(rng.standard_normal((3, 3)), (9, 7)),
    "sr2_offset": lambda rng: strided_convolution(rng.standard_normal((4, 4)), (12, 16), 2, offset=(1, 0)),
    "sr3_12x15": lambda rng: strided_convolution(rng.standard_normal((3, 5)), (12, 15), 3, offset=(2, 1)),
    "sr3_9x9_kernel_full": lambda rng: strided_convolution(rng.standard_normal((9, 9)), (9, 9), 3, offset=2),
    "sr4_offset": lambda rng: strided_convolution(rng.standard_normal((5, 6)), (16, 16), 4, offset=(3, 1)),
    "gray_conv": lambda rng: Convolution(rng.standard_normal((3, 3)), (8, 8)) @ ColorToGray((3, 8, 8)),
    "gray_sr2": lambda rng: strided_convolution(rng.standard_normal((4, 3)), (8, 10), 2, offset=1)
    @ ColorToGray((3, 8, 10)),
    "gray_sr3_weights": lambda rng: Downsample(3, (9, 12), offset=(0, 2))
    @ (Convolution(rng.standard_normal((2, 2)), (9, 12)) @ ColorToGray((2, 9, 12), weights=rng.standard_normal(2))),
    "per_channel_sr2": lambda rng: Downsample(2, (3, 8, 8), offset=1) @ Convolution(rng.standard_normal((3, 3, 3)), (3, 8, 8)),
    "per_channel_conv": lambda rng: Convolution(rng.standard_normal((2, 4, 3)), (2, 6, 8)),
    "shared_kernel_channels_sr2": lambda rng: strided_convolution(rng.standard_normal((3, 3)), (2, 8, 8), 2),
    "scaled_sr2": lambda rng: 2.5 * strided_convolution(rng.standard_normal((3, 3)), (8, 8), 2, offset=1),
    "identity": lambda rng: Identity((6, 5)),
    "downsample_only": lambda rng: Downsample(2, (8, 6), offset=(1, 0)),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fourier_matches_dense(case, backend, dtype):
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    A = CASES[case](rng)
    beta = 0.1
    batch = (2, 1) if case == "sr3_12x15" else (2,)
    b = rng.standard_normal(batch + A.in_shape)
    expected = dense_solve(A, beta, b)
    inverse = FourierInverse(A, beta)
    if backend == "numpy":
        z = inverse.solve(b.astype(dtype))
        assert isinstance(z, np.ndarray) and z.dtype == np.dtype(dtype)
    else:
        z = inverse.solve(torch.tensor(b, dtype=getattr(torch, dtype)))
        assert isinstance(z, torch.Tensor) and z.dtype == getattr(torch, dtype)
        z = z.numpy()
    assert z.shape == b.shape
    assert rel(z, expected) <= (1e-10 if dtype == "float64" else 2e-5)
    assert inverse.last.iterations == 0


@settings(deadline=None)
@given(
    d=st.integers(1, 4),
    m1=st.integers(1, 5),
    m2=st.integers(1, 5),
    k1=st.integers(1, 6),
    k2=st.integers(1, 6),
    data=st.data(),
    log_beta=st.floats(-3, 1),
    seed=st.integers(0, 2**31),
)
def test_fourier_property_strided(d, m1, m2, k1, k2, data, log_beta, seed):
    """Random kernels (odd and even sizes), grids, factors, offsets and beta in [1e-3, 10]."""
    n1, n2 = d * max(m1, 2), d * max(m2, 2)
    k1, k2 = min(k1, n1), min(k2, n2)
    offset = (data.draw(st.integers(0, d - 1)), data.draw(st.integers(0, d - 1)))
    rng = np.random.default_rng(seed)
    kernel = rng.standard_normal((k1, k2))
    kernel /= np.abs(kernel).sum()
    A = strided_convolution(kernel, (n1, n2), d, offset=offset)
    beta = 10.0**log_beta
    b = rng.standard_normal((2, n1, n2))
    z = FourierInverse(A, beta).solve(b)
    assert rel(z, dense_solve(A, beta, b)) <= 1e-10


@settings(deadline=None, max_examples=15)
@given(
    d=st.integers(1, 3), m=st.integers(2, 4), c=st.integers(1, 3), log_beta=st.floats(-3, 1),
    seed=st.integers(0, 2**31), per_channel=st.booleans(),
)
def test_fourier_property_channels(d, m, c, log_beta, seed, per_channel):
    """Colour-to-grey first (random weights) or per-channel kernels, against dense."""
    rng = np.random.default_rng(seed)
    n = max(d * m, 3)
    n -= n % d
    beta = 10.0**log_beta
    offset = int(rng.integers(0, d))
    if per_channel:
        kernel = rng.standard_normal((c, 3, 2)) / 6
        A = Downsample(d, (c, n, n), offset) @ Convolution(kernel, (c, n, n))
    else:
        A = strided_convolution(rng.standard_normal((2, 3)) / 6, (n, n), d, offset=offset) @ ColorToGray(
            (c, n, n), weights=rng.standard_normal(c)
        )
    b = rng.standard_normal((2, c, n, n))
    z = FourierInverse(A, beta).solve(b)
    assert rel(z, dense_solve(A, beta, b)) <= 1e-10


def test_fourier_unbatched_and_residual_tracking():
    rng = np.random.default_rng(1)
    A = strided_convolution(gaussian_kernel(5, 1.0), (16, 16), 4, offset=2)
    inverse = FourierInverse(A, 0.01, track_residual=True)
    b = rng.standard_normal((16, 16))
    z = inverse.solve(b)
    assert z.shape == (16, 16)
    assert inverse.last.residual <= 1e-13
    assert inverse.last.residual == pytest.approx(relative_residual(A, 0.01, z, b))
    assert inverse.eigenvalues.shape == (4, 3)


def test_fourier_float32_stays_float32_and_constants_cached():
    A = strided_convolution(gaussian_kernel(5, 1.0), (16, 16), 2)
    inverse = FourierInverse(A, 0.1)
    b = np.ones((16, 16), dtype=np.float32)
    assert inverse.solve(b).dtype == np.float32
    assert inverse.solve(torch.ones(16, 16)).dtype == torch.float32
    assert len(inverse._g._cache) == 2  # one per (namespace, device, dtype) met


def test_fourier_autograd_vjp_is_the_solve():
    """K = (A^T A + beta I)^{-1} is symmetric, so the vector-Jacobian product of solve is solve itself."""
    rng = np.random.default_rng(2)
    for A in (
        strided_convolution(rng.standard_normal((4, 3)), (12, 9), 3, offset=(1, 2)),
        strided_convolution(rng.standard_normal((3, 3)), (8, 8), 2) @ ColorToGray((3, 8, 8)),
    ):
        inverse = FourierInverse(A, 0.05)
        b = torch.tensor(rng.standard_normal((2,) + A.in_shape), requires_grad=True)
        v = torch.tensor(rng.standard_normal((2,) + A.in_shape))
        z = inverse.solve(b)
        (grad,) = torch.autograd.grad((z * v).sum(), b)
        torch.testing.assert_close(grad, inverse.solve(v), rtol=1e-10, atol=1e-12)
    small = strided_convolution(rng.standard_normal((3, 2)), (6, 4), 2, offset=1)
    inverse = FourierInverse(small, 0.3)
    x = torch.tensor(rng.standard_normal((6, 4)), requires_grad=True)
    assert torch.autograd.gradcheck(inverse.solve, (x,))


@pytest.mark.parametrize(
    "A",
    [
        Convolution(np.ones((3, 3)) / 9, (8, 8), boundary="zero"),
        strided_convolution(np.ones((3, 3)) / 9, (8, 8), 2, boundary="reflect"),
        Mask(np.arange(64).reshape(8, 8) % 3 == 0),
        Convolution(np.ones((3, 3)) / 9, (4, 4)) @ Downsample(2, (8, 8)),
    ],
    ids=["zero", "reflect", "mask", "blur_after_sampling"],
)
def test_fourier_refuses_unstructured(A):
    with pytest.raises(ValueError, match="ConjugateGradient") as info:
        FourierInverse(A, 0.1)
    assert "LearnedInverse" in str(info.value) and "DenseInverse" in str(info.value)


def test_fourier_checks_beta_and_shapes():
    A = strided_convolution(gaussian_kernel(3, 1.0), (8, 8), 2)
    for beta in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="beta"):
            FourierInverse(A, beta)
    with pytest.raises(ValueError, match=r"\(\.\.\., 8, 8\)"):
        FourierInverse(A, 0.1).solve(np.zeros((4, 4)))
    with pytest.raises(TypeError):
        FourierInverse(A, 0.1).solve(np.zeros((8, 8), dtype=int))


@pytest.mark.slow
def test_fourier_1024_matches_tight_cg():
    """The benchmark's case: stride-4 9x9 Gaussian (sigma 2) on 1024 x 1024, against CG to 1e-12."""
    rng = np.random.default_rng(3)
    A = strided_convolution(gaussian_kernel(9, 2.0), (1024, 1024), 4)
    beta = 5e-3
    b = rng.standard_normal((1024, 1024))
    z = FourierInverse(A, beta).solve(b)
    cg = ConjugateGradient(A, beta, tol=1e-12, maxiter=500)
    reference = cg.solve(b)
    assert cg.last_converged
    assert rel(z, reference) <= 1e-10
    assert relative_residual(A, beta, z, b) <= 1e-13
