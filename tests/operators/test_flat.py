"""ppsolve.operators.flat: to_scipy and to_pylops (ppsolve operators as flat SciPy / PyLops operators), and
round trips through them."""
from __future__ import annotations

import sys

import numpy as np
import pylops
import pytest
import scipy.sparse
import scipy.sparse.linalg
import torch

from ppsolve.operators import flat, from_pylops, from_scipy, to_pylops, to_scipy
from ppsolve.operators.color import ColorToGray
from ppsolve.operators.differences import FiniteDifference
from ppsolve.operators.elementwise import Diagonal, Identity, Mask, Scale
from ppsolve.operators.matrix import MatrixOperator
from ppsolve.operators.shuffle import PixelUnshuffle
from tests.helpers import check_operator


# -- SciPy -----------------------------------------------------------------------------------------------------
def small_operators():
    rng = np.random.default_rng(7)
    return [
        FiniteDifference((5, 4), "neumann"),
        FiniteDifference((2, 3, 4)),
        ColorToGray((3, 4, 5)),
        PixelUnshuffle(2, (1, 4, 6)),
        Mask(rng.random((4, 5)) > 0.5),
        MatrixOperator(rng.standard_normal((6, 12)), (3, 4), (2, 3)),
        MatrixOperator(scipy.sparse.random(6, 12, density=0.4, random_state=1), (3, 4), (6,)),
        Diagonal(rng.standard_normal((3, 4))) @ Scale(2.0, (3, 4)),
    ]


@pytest.mark.parametrize("A", small_operators(), ids=repr)
def test_to_scipy(A):
    rng = np.random.default_rng(8)
    L = to_scipy(A)
    assert isinstance(L, scipy.sparse.linalg.LinearOperator) and L.shape == A.shape and L.dtype == np.float64
    dense = A.to_dense()
    m, n = A.shape
    v, w = rng.standard_normal(n), rng.standard_normal(m)
    np.testing.assert_allclose(L.matvec(v), dense @ v, atol=1e-12)
    np.testing.assert_allclose(L.rmatvec(w), dense.T @ w, atol=1e-12)
    np.testing.assert_allclose(L.matvec(v[:, None]), (dense @ v)[:, None], atol=1e-12)
    V, W = rng.standard_normal((n, 3)), rng.standard_normal((m, 2))
    np.testing.assert_allclose(L.matmat(V), dense @ V, atol=1e-12)
    np.testing.assert_allclose(L.rmatmat(W), dense.T @ W, atol=1e-12)
    np.testing.assert_allclose(L @ (v + 2j * v), dense @ v + 2j * (dense @ v), atol=1e-12)
    np.testing.assert_allclose(L.T @ w, dense.T @ w, atol=1e-12)
    assert from_scipy(L) is A  # unwrapped


def test_to_scipy_with_cg():
    rng = np.random.default_rng(9)
    A = ColorToGray((3, 6, 5)) @ Mask(rng.random((3, 6, 5)) > 0.3)
    beta = 0.5
    system = A.gram() + Scale(beta, A.in_shape)
    b = rng.standard_normal(A.in_shape)
    z, info = scipy.sparse.linalg.cg(system.to_scipy(), b.ravel(), rtol=1e-12, atol=0.0, maxiter=500)
    assert info == 0
    dense = A.to_dense()
    expected = np.linalg.solve(dense.T @ dense + beta * np.eye(A.shape[1]), b.ravel())
    np.testing.assert_allclose(z, expected, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: to_scipy(np.eye(3)), TypeError, "ppsolve LinearOperator"),
    ],
)
def test_interop_bad_arguments(build, error, match):
    with pytest.raises(error, match=match):
        build()


# -- PyLops ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("A", small_operators(), ids=repr)
def test_to_pylops_dottest(A):
    P = to_pylops(A)
    assert isinstance(P, pylops.LinearOperator)
    assert tuple(P.dims) == A.in_shape and tuple(P.dimsd) == A.out_shape and P.dtype == np.float64
    assert pylops.utils.dottest(P, *A.shape, rtol=1e-10)
    x = np.random.default_rng(11).standard_normal(A.in_shape)
    np.testing.assert_allclose((P @ x).reshape(A.out_shape), A @ x, atol=1e-12)
    np.testing.assert_allclose(P.matmat(np.stack([x.ravel()] * 2, axis=1))[:, 1], (A @ x).ravel(), atol=1e-12)
    np.testing.assert_allclose(P.todense(), A.to_dense(), atol=1e-12)
    assert from_pylops(P) is A


def test_from_pylops():
    rng = np.random.default_rng(12)
    D = pylops.FirstDerivative((5, 6), axis=0, kind="forward", dtype="float64")
    A = from_pylops(D)
    assert A.in_shape == (5, 6) and A.out_shape == (5, 6)
    check_operator(A, rng, batch=(3,), torch_ok=False)
    np.testing.assert_allclose(A.to_dense(), D.todense(), atol=1e-14)
    M = rng.standard_normal((4, 6))
    B = from_pylops(pylops.MatrixMult(M, dtype="float64"), in_shape=(2, 3), out_shape=(2, 2))
    check_operator(B, rng, batch=(2,), torch_ok=False)
    np.testing.assert_allclose(B.to_dense(), M, atol=1e-14)
    # round trips: pylops -> ppsolve -> pylops, and a ppsolve operator through PyLops' own algebra
    np.testing.assert_allclose(to_pylops(A).todense(), D.todense(), atol=1e-14)
    F = FiniteDifference((4, 5), "neumann")
    C = from_pylops(to_pylops(F) * 2.0, F.in_shape, F.out_shape)
    np.testing.assert_allclose(C.to_dense(), 2.0 * F.to_dense(), atol=1e-12)
    with pytest.raises(ValueError, match="in_shape"):
        from_pylops(D, in_shape=(6, 6))
    with pytest.raises(TypeError, match="NumPy arrays"):
        A @ torch.zeros(5, 6, dtype=torch.float64)


def test_to_pylops_without_pylops(monkeypatch):
    monkeypatch.setitem(sys.modules, "pylops", None)
    monkeypatch.setattr(flat, "_PYLOPS_CLASS", None)
    with pytest.raises(ImportError, match=r"pip install ppsolve\[interop\]"):
        to_pylops(Identity((3, 3)))
