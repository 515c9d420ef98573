"""Identity, Scale, Diagonal and Mask: adjoints, backends, structure and argument checks."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ppsolve.operators.elementwise import Diagonal, Identity, Mask, Scale
from tests.helpers import check_operator

image_shapes = st.one_of(
    st.tuples(st.integers(1, 7), st.integers(1, 7)),
    st.tuples(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6)),
)
batches = st.sampled_from([(), (2,), (1, 3)])
nonzero_or_zero = st.one_of(st.just(0.0), st.floats(0.01, 5), st.floats(-5, -0.01))  # no subnormal underflow


@settings(deadline=None)
@given(shape=image_shapes, batch=batches, scalar=nonzero_or_zero, seed=st.integers(0, 2**16))
def test_identity_and_scale(shape, batch, scalar, seed):
    rng = np.random.default_rng(seed)
    check_operator(Identity(shape), rng, batch)
    check_operator(Scale(scalar, shape), rng, batch)
    x = rng.standard_normal(batch + shape)
    np.testing.assert_array_equal(Identity(shape) @ x, x)
    np.testing.assert_allclose(Scale(scalar, shape) @ x, scalar * x)


@settings(deadline=None)
@given(shape=image_shapes, batch=batches, seed=st.integers(0, 2**16))
def test_diagonal_and_mask(shape, batch, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape)
    D = Diagonal(w)
    check_operator(D, rng, batch)
    x = rng.standard_normal(batch + shape)
    np.testing.assert_allclose(D @ x, w * x)
    mask = rng.random(shape) < 0.5
    M = Mask(mask)
    check_operator(M, rng, batch)
    np.testing.assert_array_equal(M @ x, np.where(mask, x, 0.0))
    np.testing.assert_array_equal(M @ (M @ x), M @ x)  # idempotent
    assert M.observed == int(mask.sum())


def test_identity_returns_a_copy():
    x = np.ones((3, 4))
    y = Identity((3, 4)) @ x
    y[0, 0] = 5.0
    assert x[0, 0] == 1.0
    t = torch.ones(3, 4, requires_grad=True)
    assert (Identity((3, 4)) @ t).requires_grad


def test_self_adjoint():
    for A in (Identity((3, 4)), Scale(2.0, (3, 4)), Diagonal(np.arange(12.0).reshape(3, 4)), Mask(np.eye(3))):
        assert A.T is A


def test_fourier_structure():
    s = Scale(-2.5, (3, 8, 6)).fourier_structure()
    assert s.is_scalar and s.grid == (8, 6) and s.factor == 1 and s.mix is None
    assert complex(s.spectrum) == -2.5 + 0j
    np.testing.assert_allclose(s.gram_eigenvalues(), 6.25)
    i = Identity((8, 6)).fourier_structure()
    assert i.is_scalar and complex(i.spectrum) == 1.0 and i.grid == (8, 6)
    assert Identity((5,)).fourier_structure() is None
    assert Scale(2.0, (5,)).fourier_structure() is None
    assert Diagonal(np.full((4, 4), 3.0)).fourier_structure().is_scalar
    assert Diagonal(np.arange(16.0).reshape(4, 4)).fourier_structure() is None
    assert Mask(np.eye(4)).fourier_structure() is None
    # a scalar composed with a scalar stays scalar (through base.compose)
    c = (Scale(2.0, (4, 4)) @ Identity((4, 4))).fourier_structure()
    assert c.is_scalar and complex(np.asarray(c.spectrum).flat[0]) == 2.0


def test_weights_from_other_arrays_and_dtypes():
    Diagonal(torch.arange(6.0, requires_grad=True).reshape(2, 3))  # detached to a constant
    np.testing.assert_array_equal(Diagonal(np.arange(6).reshape(2, 3)).weights, np.arange(6.0).reshape(2, 3))
    Mask(np.array([[0, 1], [1, 0]]))
    Mask(np.array([[0.0, 1.0], [1.0, 1.0]], dtype=np.float32))


def test_torch_float32_and_numpy_float32():
    D = Diagonal(np.linspace(0, 1, 12).reshape(3, 4))
    t = torch.ones(2, 3, 4, dtype=torch.float32)
    assert D(t).dtype == torch.float32 and Scale(2, (3, 4))(t).dtype == torch.float32
    assert Mask(np.eye(4))(np.ones((4, 4), dtype=np.float32)).dtype == np.float32


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: Diagonal([[1.0, 2.0]]), TypeError, "NumPy"),
        (lambda: Diagonal(np.array([1.0, np.nan])), ValueError, "finite"),
        (lambda: Diagonal(np.array([1.0, np.inf])), ValueError, "finite"),
        (lambda: Diagonal(np.array([1.0 + 1j, 2.0])), TypeError, "real"),
        (lambda: Diagonal(np.array(2.0)), ValueError, "non-empty"),
        (lambda: Diagonal(3.0), TypeError, "array"),
        (lambda: Mask(np.array([0.0, 0.5, 1.0])), ValueError, "only 0 and 1"),
        (lambda: Mask(np.array([0, 2])), ValueError, "only 0 and 1"),
        (lambda: Mask([True, False]), TypeError, "NumPy"),
        (lambda: Scale("2", (3, 3)), TypeError, "real number"),
        (lambda: Scale(1j, (3, 3)), TypeError, "real number"),
        (lambda: Scale(float("nan"), (3, 3)), ValueError, "finite"),
        (lambda: Scale(2.0, (0, 3)), ValueError, "positive"),
        (lambda: Identity(None), TypeError, "tuple of ints"),
    ],
)
def test_bad_arguments(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_bad_inputs():
    D = Diagonal(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, 4\)"):
        D @ np.ones((4, 3))
    with pytest.raises(TypeError, match="floating"):
        D @ np.ones((3, 4), dtype=int)
    with pytest.raises(TypeError, match="list"):
        D @ [[1.0] * 4] * 3
