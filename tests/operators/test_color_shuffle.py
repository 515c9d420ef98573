"""ColorToGray and PixelShuffle / PixelUnshuffle: adjoints, backends, PyTorch agreement, argument checks."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from ppsolve.operators.color import ColorToGray
from ppsolve.operators.shuffle import PixelShuffle, PixelUnshuffle
from tests.helpers import check_operator


# -- ColorToGray ----------------------------------------------------------------------------------------
@settings(deadline=None)
@given(
    c=st.integers(1, 4), h=st.integers(1, 7), w=st.integers(1, 7), batch=st.sampled_from([(), (2,), (1, 2)]),
    seed=st.integers(0, 2**16),
)
def test_color_to_gray(c, h, w, batch, seed):
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal(c)
    R = ColorToGray((c, h, w), weights=weights)
    assert R.in_shape == (c, h, w) and R.out_shape == (h, w)
    check_operator(R, rng, batch)
    x = rng.standard_normal(batch + (c, h, w))
    np.testing.assert_allclose(R @ x, np.einsum("c,...cij->...ij", weights, x), rtol=1e-12, atol=1e-12)
    y = rng.standard_normal(batch + (h, w))
    np.testing.assert_allclose(R @ (R.T @ y), np.sum(weights**2) * y, rtol=1e-10, atol=1e-12)  # R R^T = |w|^2 I


def test_color_to_gray_defaults_and_structure():
    R = ColorToGray((3, 8, 6))
    np.testing.assert_array_equal(R.weights, [0.299, 0.587, 0.114])
    assert ColorToGray(shape=(3, 8, 6)).out_shape == (8, 6)
    x = np.ones((3, 8, 6))
    np.testing.assert_allclose(R @ x, np.ones((8, 6)))  # BT.601 weights sum to 1
    s = R.fourier_structure()
    assert s.grid == (8, 6) and s.factor == 1 and not s.is_scalar
    assert complex(s.spectrum) == 1.0
    np.testing.assert_allclose(s.mix, [0.299, 0.587, 0.114])
    np.testing.assert_allclose(s.gram_eigenvalues(), 0.299**2 + 0.587**2 + 0.114**2)
    assert "0.299" in repr(R)
    one = ColorToGray((1, 4, 4), weights=(2.0,))
    np.testing.assert_allclose(one @ np.ones((1, 4, 4)), 2.0 * np.ones((4, 4)))
    assert ColorToGray((2, 3, 3), weights=np.array([1, 2])).weights.dtype == np.float64


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: ColorToGray(), TypeError, "shape"),
        (lambda: ColorToGray((8, 8)), ValueError, r"\(C, H, W\)"),
        (lambda: ColorToGray((2, 8, 8)), ValueError, "expected 2 weights"),
        (lambda: ColorToGray((3, 8, 8), weights=(1.0, np.nan, 0.0)), ValueError, "finite"),
        (lambda: ColorToGray((2, 8, 8), weights=np.ones((2, 1))), ValueError, "weights"),
        (lambda: ColorToGray((2, 8, 8), weights=(1j, 1.0)), TypeError, "real"),
        (lambda: ColorToGray((2, 8, 8), weights="ab"), TypeError, "array"),
    ],
)
def test_color_to_gray_bad_arguments(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_color_to_gray_bad_input_shape():
    R = ColorToGray((3, 4, 4))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, 4, 4\)"):
        R @ np.ones((4, 4))
    with pytest.raises(ValueError, match=r"\(\.\.\., 4, 4\)"):
        R.T @ np.ones((3, 4, 5))


# -- PixelShuffle / PixelUnshuffle ------------------------------------------------------------------------
shuffle_cases = dict(
    r=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 4), w=st.integers(1, 4),
    batch=st.sampled_from([(), (2,), (2, 1)]), seed=st.integers(0, 2**16),
)


@settings(deadline=None)
@given(**shuffle_cases)
def test_pixel_unshuffle(r, c, h, w, batch, seed):
    rng = np.random.default_rng(seed)
    U = PixelUnshuffle(r, (c, h * r, w * r))
    assert U.out_shape == (c * r * r, h, w)
    check_operator(U, rng, batch)
    x = rng.standard_normal(batch + U.in_shape)
    expected = F.pixel_unshuffle(torch.tensor(x), r).numpy()
    np.testing.assert_array_equal(U @ x, expected)
    np.testing.assert_array_equal((U @ torch.tensor(x)).numpy(), expected)
    # orthogonal: the adjoint is the inverse and is PixelShuffle
    np.testing.assert_array_equal(U.T @ (U @ x), x)
    S = U.inverse
    assert isinstance(S, PixelShuffle) and S.in_shape == U.out_shape and S.out_shape == U.in_shape
    y = rng.standard_normal(batch + U.out_shape)
    np.testing.assert_array_equal(U.T @ y, S @ y)


@settings(deadline=None)
@given(**shuffle_cases)
def test_pixel_shuffle(r, c, h, w, batch, seed):
    rng = np.random.default_rng(seed)
    S = PixelShuffle(r, (c * r * r, h, w))
    assert S.out_shape == (c, h * r, w * r)
    check_operator(S, rng, batch)
    x = rng.standard_normal(batch + S.in_shape)
    expected = F.pixel_shuffle(torch.tensor(x), r).numpy()
    np.testing.assert_array_equal(S @ x, expected)
    np.testing.assert_array_equal((S @ torch.tensor(x, dtype=torch.float32)).numpy(), expected.astype(np.float32))
    np.testing.assert_array_equal(S.T @ (S @ x), x)
    np.testing.assert_array_equal(S.inverse @ (S @ x), x)
    y = rng.standard_normal(batch + S.out_shape)
    np.testing.assert_array_equal(S @ (S.T @ y), y)


def test_shuffle_matrices_are_permutations():
    U = PixelUnshuffle(2, (2, 4, 6))
    Q = U.to_dense()
    np.testing.assert_array_equal(Q.T @ Q, np.eye(Q.shape[1]))
    np.testing.assert_array_equal(np.sort(Q.sum(axis=0)), np.ones(Q.shape[1]))
    np.testing.assert_array_equal(PixelShuffle(2, U.out_shape).to_dense(), Q.T)


def test_shuffle_autograd_matches_torch():
    x = torch.randn(2, 3, 4, 6, requires_grad=True)
    g = torch.randn(2, 12, 2, 3)
    (ours,) = torch.autograd.grad(torch.sum(PixelUnshuffle(2, (3, 4, 6))(x) * g), x)
    (theirs,) = torch.autograd.grad(torch.sum(F.pixel_unshuffle(x, 2) * g), x)
    assert torch.equal(ours, theirs) and ours.dtype == torch.float32


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: PixelUnshuffle(2, (1, 5, 4)), ValueError, "not divisible by the factor 2"),
        (lambda: PixelUnshuffle(3, (1, 6, 4)), ValueError, "not divisible"),
        (lambda: PixelUnshuffle(2, (4, 4)), ValueError, r"\(C, H, W\)"),
        (lambda: PixelUnshuffle(0, (1, 4, 4)), ValueError, "positive int"),
        (lambda: PixelUnshuffle(2.0, (1, 4, 4)), TypeError, "positive int"),
        (lambda: PixelUnshuffle(True, (1, 4, 4)), TypeError, "positive int"),
        (lambda: PixelShuffle(2, (6, 4, 4)), ValueError, "not divisible by factor\\^2 = 4"),
        (lambda: PixelShuffle(2, (4, 4)), ValueError, r"\(C, H, W\)"),
        (lambda: PixelShuffle(-1, (4, 4, 4)), ValueError, "positive int"),
    ],
)
def test_shuffle_bad_arguments(build, error, match):
    with pytest.raises(error, match=match):
        build()
