"""The FFT conventions every Fourier computation relies on (ppsolve.operators.fourier)."""
import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ppsolve.operators.fourier import (
    alias_sum,
    irfft2,
    kernel_spectrum,
    kernel_to_grid,
    replicate,
    rfft2,
    sampling_phase,
)


@st.composite
def grids(draw):
    d = draw(st.integers(1, 4))
    return (d * draw(st.integers(1, 6)), d * draw(st.integers(1, 6))), d


def test_kernel_centre_lands_on_pixel_zero():
    for k in [(3, 3), (4, 4), (1, 5), (6, 3)]:
        kernel = np.zeros(k)
        kernel[k[0] // 2, k[1] // 2] = 1.0
        grid = kernel_to_grid(kernel, (8, 9))
        assert grid[0, 0] == 1.0 and grid.sum() == 1.0


@settings(deadline=None)
@given(st.integers(1, 7), st.integers(1, 7), st.integers(0, 4), st.integers(0, 4), st.integers(0, 10**6))
def test_periodic_convolution_is_scipy_wrap_convolution(k1, k2, e1, e2, seed):
    rng = np.random.default_rng(seed)
    n1, n2 = k1 + e1, k2 + e2
    h, x = rng.standard_normal((k1, k2)), rng.standard_normal((n1, n2))
    ours = irfft2(rfft2(x) * kernel_spectrum(h, (n1, n2)), (n1, n2))
    np.testing.assert_allclose(ours, ndi.convolve(x, h, mode="wrap"), atol=1e-10)


@settings(deadline=None)
@given(grids(), st.integers(0, 3), st.integers(0, 3), st.integers(0, 10**6))
def test_alias_sum_and_replicate_are_sampling_and_zero_filling(grid_factor, o1, o2, seed):
    (n1, n2), d = grid_factor
    o = (o1 % d, o2 % d)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, n1, n2))
    phase = sampling_phase((n1, n2), o)
    np.testing.assert_allclose(alias_sum(rfft2(x) * phase, d, (n1, n2)), np.fft.rfft2(x[..., o[0]::d, o[1]::d]), atol=1e-10)
    w = rng.standard_normal((2, n1 // d, n2 // d))
    up = np.zeros((2, n1, n2))
    up[..., o[0]::d, o[1]::d] = w
    np.testing.assert_allclose(replicate(np.fft.rfft2(w), d, (n1, n2)) * np.conj(phase), np.fft.rfft2(up), atol=1e-10)
    # the same maps on torch tensors
    xt = torch.from_numpy(rfft2(x) * phase)
    np.testing.assert_allclose(alias_sum(xt, d, (n1, n2)).numpy(), np.fft.rfft2(x[..., o[0]::d, o[1]::d]), atol=1e-10)


def test_kernel_larger_than_grid_is_refused():
    with pytest.raises(ValueError, match="larger than the image"):
        kernel_to_grid(np.ones((5, 5)), (4, 8))


def test_cpu_tensors_outside_autograd_take_scipy_and_match_torch_fft():
    """The fast CPU route (scipy.fft on the tensor's memory) equals torch.fft, keeps dtypes, and is not taken
    when a gradient must flow."""
    import torch

    from ppsolve.operators.fourier import _cpu_without_autograd, irfft2, rfft2

    for dtype in (torch.float32, torch.float64):
        x = torch.randn(3, 20, 18, dtype=dtype)
        X = rfft2(x)
        assert X.dtype == (torch.complex64 if dtype == torch.float32 else torch.complex128)
        torch.testing.assert_close(X, torch.fft.rfftn(x, dim=(-2, -1)))
        torch.testing.assert_close(irfft2(X, (20, 18)), x)
    x = torch.randn(20, 18, dtype=torch.float64, requires_grad=True)
    assert not _cpu_without_autograd(x)
    (g,) = torch.autograd.grad(irfft2(rfft2(x) * 2, (20, 18)).sum(), x)
    torch.testing.assert_close(g, torch.full_like(x, 2.0))
    with torch.no_grad():
        assert _cpu_without_autograd(x)
    assert not _cpu_without_autograd(torch.randn(4, 4, dtype=torch.bfloat16))
