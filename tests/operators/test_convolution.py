"""Convolution, Downsample, strided convolution and the kernels: adjoints, conventions, errors."""
import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ppsolve.operators import Convolution, Downsample, box_kernel, gaussian_kernel, motion_kernel, strided_convolution
from tests.helpers import TOL, check_operator, dot_test_error, random

MODES = {"periodic": "wrap", "zero": "constant", "reflect": "reflect"}


@st.composite
def convolutions(draw):
    """A Convolution over random image sizes (odd and even), 1-3 channels, kernel sizes and boundaries."""
    n1, n2 = draw(st.integers(2, 12)), draw(st.integers(2, 12))
    k = (draw(st.integers(1, n1)), draw(st.integers(1, n2)))
    channels = draw(st.sampled_from([None, 1, 2, 3]))
    shape = (n1, n2) if channels is None else (channels, n1, n2)
    per_channel = channels is not None and draw(st.booleans())
    kernel = random(((channels,) if per_channel else ()) + k, seed=draw(st.integers(0, 10**6)))
    return Convolution(kernel, shape, draw(st.sampled_from(list(MODES))))


@settings(deadline=None)
@given(convolutions(), st.sampled_from([(), (2,), (2, 1)]))
def test_convolution_adjoint_linearity_torch(A, batch):
    assert dot_test_error(A, batch=batch) <= TOL[np.float64]
    assert dot_test_error(A, batch=batch, dtype=np.float32) <= TOL[np.float32]
    check_operator(A, batch=(2,))


@settings(deadline=None)
@given(convolutions())
def test_convolution_is_true_convolution_with_scipy_boundaries(A):
    x = random(A.in_shape, seed=7)
    kernel = A.kernel if A.kernel.ndim == len(A.in_shape) else A.kernel.reshape((1,) * (len(A.in_shape) - 2) + A.kernel.shape)
    if A.kernel.ndim == 3:  # one kernel per channel: scipy convolves channel by channel
        expected = np.stack([ndi.convolve(x[c], A.kernel[c], mode=MODES[A.boundary]) for c in range(x.shape[0])])
    else:
        expected = ndi.convolve(x, kernel, mode=MODES[A.boundary])
    np.testing.assert_allclose(A @ x, expected, atol=1e-10)


@settings(deadline=None)
@given(st.integers(1, 4), st.integers(1, 5), st.integers(1, 5), st.integers(0, 3), st.sampled_from([None, 1, 3]))
def test_downsample_keeps_every_dth_pixel(d, m1, m2, offset, channels):
    shape = (d * m1, d * m2) if channels is None else (channels, d * m1, d * m2)
    S = Downsample(d, shape, offset % d)
    o = offset % d
    x = random((2,) + shape)
    np.testing.assert_array_equal(S @ x, x[..., o::d, o::d])
    y = random((2,) + S.out_shape, seed=1)
    np.testing.assert_allclose(S @ (S.T @ y), y)  # S S^T = I
    check_operator(S, batch=(2,))


@settings(deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 7), st.sampled_from(list(MODES)))
def test_strided_convolution_is_sampled_convolution(d, m1, m2, k, boundary):
    shape = (d * m1 + 2, d * m2 + 2)
    shape = (shape[0] - shape[0] % d, shape[1] - shape[1] % d)
    k = min(k, *shape)
    kernel = random((k, k), seed=k)
    A = strided_convolution(kernel, shape, d, boundary)
    x = random(shape)
    np.testing.assert_allclose(A @ x, (Convolution(kernel, shape, boundary) @ x)[::d, ::d], atol=1e-12)
    check_operator(A, batch=(2,))
    structure = A.fourier_structure()
    assert (structure is not None) == (boundary == "periodic")
    if structure is not None:
        assert structure.factor == d


def test_to_dense_matches_apply_and_norm():
    A = strided_convolution(gaussian_kernel(5, 1.0), (12, 12), 2, offset=1)
    D = A.to_dense()
    x = random(A.in_shape)
    np.testing.assert_allclose(D @ x.ravel(), (A @ x).ravel(), atol=1e-12)
    np.testing.assert_allclose(A.T.to_dense(), D.T, atol=1e-12)
    assert A.norm() == pytest.approx(np.linalg.norm(D, 2), rel=1e-6)


def test_periodic_convolution_exposes_its_eigenvalues():
    A = Convolution(gaussian_kernel(5, 1.0), (16, 10))
    x = random(A.in_shape)
    np.testing.assert_allclose(np.fft.irfft2(np.fft.rfft2(x) * A.spectrum, s=A.grid), A @ x, atol=1e-12)
    eig = np.sort(np.abs(np.fft.fft2(np.fft.irfft2(A.spectrum, s=A.grid))).ravel())
    np.testing.assert_allclose(eig, np.sort(np.abs(np.linalg.eigvals(A.to_dense()))), atol=1e-10)


def test_float32_stays_float32_on_torch():
    A = strided_convolution(gaussian_kernel(3, 1.0), (8, 8), 2)
    x = torch.randn(3, 8, 8)
    y = A @ x
    assert y.dtype == torch.float32 and y.shape == (3, 4, 4)
    assert (A.T @ y).dtype == torch.float32


def test_kernels_are_normalised_and_centred():
    for kernel in (gaussian_kernel(9, 2.0), gaussian_kernel((4, 6), 1.5), box_kernel(4), motion_kernel(7, 45)):
        assert kernel.sum() == pytest.approx(1.0)
    g = gaussian_kernel(9, 2.0)
    assert np.unravel_index(np.argmax(g), g.shape) == (4, 4)
    np.testing.assert_allclose(g, g[::-1, ::-1])


def test_motion_kernel_reproduces_the_shared_benchmark_kernel(shared_data):
    reference = np.loadtxt(shared_data / "kernels" / "motion9_30deg.txt")
    np.testing.assert_allclose(motion_kernel(9, 30, 9), reference, atol=1e-12)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Convolution(np.ones((9, 9)), (8, 8)), "larger than the image"),
        (lambda: Convolution(np.full((3, 3), np.nan), (8, 8)), "finite"),
        (lambda: Convolution(np.ones((3, 3)), (8, 8), boundary="mirror"), "boundary"),
        (lambda: Convolution(np.ones((2, 3, 3)), (3, 8, 8)), "one kernel per channel"),
        (lambda: Downsample(3, (8, 9)), "does not divide"),
        (lambda: Downsample(2, (8, 8), offset=2), "offset"),
        (lambda: Downsample(0, (8, 8)), "factor"),
        (lambda: gaussian_kernel(5, -1.0), "sigma"),
        (lambda: strided_convolution(np.ones((3, 3)), (10, 10), 4), "does not divide"),
    ],
)
def test_bad_construction_is_a_clear_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_input_arrays():
    A = Convolution(np.ones((3, 3)), (8, 8))
    with pytest.raises(ValueError, match=r"input: expected shape \(\.\.\., 8, 8\).*got \(8, 9\)"):
        A @ np.zeros((8, 9))
    with pytest.raises(ValueError, match=r"\.T input: expected shape"):
        A.T @ np.zeros((4, 4))
    with pytest.raises(TypeError, match="list"):
        A @ [[0.0] * 8] * 8
    with pytest.raises(TypeError, match="floating"):
        A @ np.zeros((8, 8), dtype=np.int64)
    with pytest.raises(TypeError, match="complex"):
        Convolution(np.ones((3, 3)) * 1j, (8, 8))


@pytest.mark.parametrize("kernel", [np.zeros((0, 0)), np.zeros((0, 3)), np.zeros((2, 0, 3))])
def test_an_empty_kernel_is_refused_not_taken_as_the_zero_operator(kernel):
    with pytest.raises(ValueError, match="at least one tap"):
        Convolution(kernel, (2, 8, 8) if kernel.ndim == 3 else (8, 8))


def test_numpy_half_precision_is_refused_on_every_boundary():
    """float16 came back as float32 from periodic operators and as float16 from zero-boundary ones."""
    for boundary in ("periodic", "zero", "reflect"):
        A = Convolution(np.ones((3, 3)) / 9, (8, 8), boundary=boundary)
        with pytest.raises(TypeError, match="half precision"):
            A @ np.zeros((8, 8), dtype=np.float16)
