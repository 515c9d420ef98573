"""FiniteDifference: forward differences, exact adjoint (minus the divergence), both boundaries."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ppsolve.operators.differences import FiniteDifference
from tests.helpers import check_operator

shapes = st.one_of(
    st.tuples(st.integers(1, 7), st.integers(1, 7)),
    st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6)),
)


def reference(x, boundary):
    """Loop-free but independent: index arithmetic with np.take."""
    h, w = x.shape[-2:]
    down = np.take(x, (np.arange(h) + 1) % h, axis=-2) - x
    right = np.take(x, (np.arange(w) + 1) % w, axis=-1) - x
    if boundary == "neumann":
        down[..., h - 1, :] = 0.0
        right[..., :, w - 1] = 0.0
    return down, right


@settings(deadline=None)
@given(shape=shapes, boundary=st.sampled_from(["periodic", "neumann"]), batch=st.sampled_from([(), (2,), (2, 1)]),
       seed=st.integers(0, 2**16))
def test_finite_difference(shape, boundary, batch, seed):
    rng = np.random.default_rng(seed)
    D = FiniteDifference(shape, boundary=boundary)
    assert D.in_shape == shape and D.out_shape == (2,) + shape
    check_operator(D, rng, batch)
    x = rng.standard_normal(batch + shape)
    g = D @ x
    assert g.shape == batch + (2,) + shape
    down, right = reference(x, boundary)
    k = len(shape)
    np.testing.assert_allclose(g[(Ellipsis, 0) + (slice(None),) * k], down, atol=1e-12)
    np.testing.assert_allclose(g[(Ellipsis, 1) + (slice(None),) * k], right, atol=1e-12)
    # constants have zero gradient (D 1 = 0), hence <1, D^T p> = 0 for every p
    np.testing.assert_allclose(D @ np.full(batch + shape, 3.0), 0.0, atol=1e-12)
    p = rng.standard_normal(batch + D.out_shape)
    np.testing.assert_allclose(np.sum(D.T @ p), 0.0, atol=1e-9)


def test_periodic_gram_is_the_laplacian():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 6, 5))
    D = FiniteDifference((6, 5))
    neighbours = sum(np.roll(x, s, axis=a) for s in (1, -1) for a in (-2, -1))
    np.testing.assert_allclose(D.T @ (D @ x), 4 * x - neighbours, atol=1e-12)
    # its eigenvalues: 4 sin^2(pi k / N) summed over both axes
    k1 = np.arange(6)[:, None]
    k2 = np.arange(5)[None, :]
    eig = 4 * np.sin(np.pi * k1 / 6) ** 2 + 4 * np.sin(np.pi * k2 / 5) ** 2
    np.testing.assert_allclose(np.fft.fft2(D.T @ (D @ x)), eig * np.fft.fft2(x), atol=1e-9)


def test_neumann_adjoint_values():
    D = FiniteDifference((1, 4), boundary="neumann")
    p = np.zeros((2, 1, 4))
    p[1] = [[1.0, 2.0, 3.0, 99.0]]  # the last entry is never produced by D, so it cannot matter
    np.testing.assert_allclose(D.T @ p, [[-1.0, -1.0, -1.0, 3.0]])
    assert np.all(FiniteDifference((1, 1), "neumann").to_dense() == 0)


def test_torch_float32_autograd():
    D = FiniteDifference((3, 5, 4), boundary="neumann")
    x = torch.randn(2, 3, 5, 4, requires_grad=True)
    out = D(x)
    assert out.shape == (2, 2, 3, 5, 4) and out.dtype == torch.float32
    (g,) = torch.autograd.grad(out.square().sum(), x)
    np.testing.assert_allclose(g.numpy(), 2 * (D.T @ out.detach()).numpy(), rtol=1e-5, atol=1e-5)


def test_structure_and_repr():
    assert FiniteDifference((4, 4)).fourier_structure() is None
    assert "neumann" in repr(FiniteDifference((4, 4), "neumann"))


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: FiniteDifference((8,)), ValueError, r"\(H, W\) or \(C, H, W\)"),
        (lambda: FiniteDifference((2, 2, 8, 8)), ValueError, r"\(H, W\) or \(C, H, W\)"),
        (lambda: FiniteDifference((8, 8), boundary="zero"), ValueError, "periodic"),
        (lambda: FiniteDifference((0, 8)), ValueError, "positive"),
    ],
)
def test_bad_arguments(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_bad_inputs():
    D = FiniteDifference((4, 5))
    with pytest.raises(ValueError, match=r"\(\.\.\., 4, 5\)"):
        D @ np.ones((5, 4))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2, 4, 5\)"):
        D.T @ np.ones((4, 5))
