"""The LinearOperator algebra: composition, sums, scaling, adjoints, dense forms, fingerprints."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ppsolve.operators import Convolution, Downsample, gaussian_kernel, strided_convolution
from tests.helpers import TOL, check_operator, dot_test_error, random


@st.composite
def pairs(draw):
    """Two operators with the same shapes and a third composable after them."""
    d = draw(st.integers(1, 3))
    shape = (d * draw(st.integers(2, 5)), d * draw(st.integers(2, 5)))
    k = draw(st.integers(2, min(shape)))  # 1 x 1 kernels make A and B proportional: A + c B may cancel
    A = Convolution(random((k, k), seed=draw(st.integers(0, 99))), shape, draw(st.sampled_from(["periodic", "zero", "reflect"])))
    B = Convolution(random((k, k), seed=draw(st.integers(100, 199))), shape, "periodic")
    return A, B, Downsample(d, shape)


@settings(deadline=None)
@given(pairs(), st.one_of(st.floats(0.01, 3), st.floats(-3, -0.01)))  # no float32 underflow
def test_compositions_sums_and_scalings_keep_their_adjoints(ops, c):
    A, B, S = ops
    for op in (S @ A, A @ B, A + B, A - B, c * A, -A, A / 2.0, S @ (A + c * B), A.gram(), (S @ A).T):
        assert dot_test_error(op) <= TOL[np.float64]
        assert dot_test_error(op, batch=(2,), dtype=np.float32) <= TOL[np.float32]
    check_operator(S @ (A + B), batch=(2,))
    np.testing.assert_allclose((S @ A).T.to_dense(), A.T.to_dense() @ S.T.to_dense(), atol=1e-12)  # (SA)^T = A^T S^T
    np.testing.assert_allclose((A + B).T.to_dense(), A.T.to_dense() + B.T.to_dense(), atol=1e-12)
    np.testing.assert_allclose((c * A).to_dense(), c * A.to_dense(), atol=1e-12)
    np.testing.assert_allclose(A.gram().to_dense(), A.to_dense().T @ A.to_dense(), atol=1e-12)


def test_adjoint_of_adjoint_is_the_operator():
    A = strided_convolution(gaussian_kernel(3, 1.0), (8, 8), 2)
    assert A.T.T is A
    assert A.H.in_shape == A.out_shape


def test_composition_checks_shapes_at_construction():
    A = Convolution(np.ones((3, 3)), (8, 8))
    S = Downsample(2, (8, 8))
    with pytest.raises(ValueError, match=r"expects input shape \(8, 8\).*gives output shape \(4, 4\)"):
        S @ S
    with pytest.raises(ValueError, match="cannot add"):
        A + S
    assert (S @ A).out_shape == (4, 4)


def test_fourier_structure_of_compositions():
    A = strided_convolution(gaussian_kernel(5, 1.0), (12, 12), 3, offset=(1, 2))
    s = A.fourier_structure()
    assert s.factor == 3 and s.mix is None
    assert (2.0 * A).fourier_structure() is not None
    zero = strided_convolution(gaussian_kernel(5, 1.0), (12, 12), 3, boundary="zero")
    assert zero.fourier_structure() is None
    S = Downsample(2, (12, 12))
    H = Convolution(gaussian_kernel(3, 1.0), (6, 6))
    assert (H @ S).fourier_structure() is None  # convolution after sampling is not S H R
    assert (A + A).fourier_structure() is None
    mu = s.gram_eigenvalues()
    dense = A.to_dense()
    eig = np.sort(np.linalg.eigvalsh(dense @ dense.T))
    full = np.sort(np.abs(np.fft.fft2(np.fft.irfft2(mu, s=(4, 4)))).ravel())
    np.testing.assert_allclose(full, eig, atol=1e-12)


def test_fingerprint_tells_operators_apart():
    A = strided_convolution(gaussian_kernel(9, 2.0), (32, 32), 4)
    same = strided_convolution(gaussian_kernel(9, 2.0), (32, 32), 4)
    other = strided_convolution(gaussian_kernel(9, 1.5), (32, 32), 4)
    shifted = strided_convolution(gaussian_kernel(9, 2.0), (32, 32), 4, offset=1)
    assert A.fingerprint() == same.fingerprint()
    assert len({A.fingerprint(), other.fingerprint(), shifted.fingerprint()}) == 3


def test_to_dense_refuses_large_operators():
    with pytest.raises(ValueError, match="refusing"):
        Convolution(np.ones((3, 3)), (256, 256)).to_dense()


def test_colour_mix_commutes_with_a_shared_kernel_blur():
    from ppsolve.inverses import FourierInverse
    from ppsolve.operators import ColorToGray

    shape = (3, 8, 8)
    kernel = gaussian_kernel(3, 1.0)
    mix_then_blur = Downsample(2, (8, 8)) @ Convolution(kernel, (8, 8)) @ ColorToGray(shape)
    blur_then_mix = Downsample(2, (8, 8)) @ ColorToGray(shape) @ Convolution(kernel, shape)
    np.testing.assert_allclose(mix_then_blur.to_dense(), blur_then_mix.to_dense(), atol=1e-12)
    assert blur_then_mix.fourier_structure() is not None
    per_channel = ColorToGray(shape) @ Convolution(random((3, 3, 3)), shape)
    assert per_channel.fourier_structure() is None  # one kernel per channel does not commute with the mix
    b = random((2,) + shape)
    dense = blur_then_mix.to_dense()
    expected = np.linalg.solve(dense.T @ dense + 0.1 * np.eye(dense.shape[1]), b.reshape(2, -1).T).T
    np.testing.assert_allclose(FourierInverse(blur_then_mix, 0.1).solve(b).reshape(2, -1), expected, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(5, 12), factor=st.sampled_from([1, 2, 3, 4]), o1=st.integers(0, 3), o2=st.integers(0, 3),
       channels=st.sampled_from([None, 2]), seed=st.integers(0, 100))
def test_a_composition_with_fourier_structure_takes_the_fourier_path_and_equals_its_factors(n, factor, o1, o2,
                                                                                           channels, seed):
    """S_d H through its structure (one FFT each side) equals S_d (H x) and H^T (S_d^T y), any offset."""
    shape = (n * factor, n * factor + factor) if channels is None else (channels, n * factor, n * factor)
    conv = Convolution(gaussian_kernel(5, 1.0), shape)
    A = Downsample(factor, conv.out_shape, (o1 % factor, o2 % factor)) @ conv
    assert A._fourier_path() is not None
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((2,) + A.in_shape), rng.standard_normal((2,) + A.out_shape)
    np.testing.assert_allclose(A.apply(x), A.outer.apply(A.inner.apply(x)), atol=1e-12)
    np.testing.assert_allclose(A.adjoint(y), A.inner.adjoint(A.outer.adjoint(y)), atol=1e-12)
    xt = torch.tensor(x, dtype=torch.float32)
    assert A.apply(xt).dtype == torch.float32
    np.testing.assert_allclose(A.apply(xt).numpy(), A.apply(x), atol=1e-5)
