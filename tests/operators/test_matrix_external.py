"""MatrixOperator and the SciPy / PyLops conversions: adjoints, backends, round trips, argument checks."""
from __future__ import annotations

import sys

import numpy as np
import pylops
import pytest
import scipy.sparse
import scipy.sparse.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ppsolve.operators import ExternalOperator, flat, from_pylops, from_scipy, to_pylops, to_scipy
from ppsolve.operators.color import ColorToGray
from ppsolve.operators.differences import FiniteDifference
from ppsolve.operators.elementwise import Diagonal, Identity, Mask, Scale
from ppsolve.operators.matrix import MatrixOperator
from ppsolve.operators.shuffle import PixelUnshuffle
from tests.helpers import check_operator


def random_matrix(rng, m, n, sparse):
    if sparse:
        return scipy.sparse.random(m, n, density=0.3, random_state=rng, format="csr")
    return rng.standard_normal((m, n))


# -- MatrixOperator -----------------------------------------------------------------------------------------
@settings(deadline=None)
@given(
    in_shape=st.sampled_from([(6,), (2, 3), (1, 2, 3)]), out_shape=st.sampled_from([(4,), (2, 2), (5,)]),
    sparse=st.booleans(), batch=st.sampled_from([(), (3,), (2, 1)]), seed=st.integers(0, 2**16),
)
def test_matrix_operator(in_shape, out_shape, sparse, batch, seed):
    rng = np.random.default_rng(seed)
    m, n = int(np.prod(out_shape)), int(np.prod(in_shape))
    M = random_matrix(rng, m, n, sparse)
    A = MatrixOperator(M, in_shape, out_shape)
    assert A.shape == (m, n) and A.sparse == sparse
    check_operator(A, rng, batch)
    dense = M.toarray() if sparse else M
    np.testing.assert_array_equal(A.to_dense(), dense)
    x = rng.standard_normal(batch + in_shape)
    np.testing.assert_allclose(A @ x, (x.reshape(-1, n) @ dense.T).reshape(batch + out_shape), atol=1e-12)


def test_matrix_defaults_and_dtypes():
    rng = np.random.default_rng(0)
    A = MatrixOperator(rng.standard_normal((3, 5)))
    assert A.in_shape == (5,) and A.out_shape == (3,)
    S = MatrixOperator(scipy.sparse.random(3, 5, density=0.5, random_state=0, format="coo"))
    assert S.sparse and S.in_shape == (5,)
    x32 = rng.standard_normal((4, 5)).astype(np.float32)
    assert (S @ x32).dtype == np.float32 and (A @ x32).dtype == np.float32
    MatrixOperator(np.eye(3, dtype=int))
    MatrixOperator(np.eye(3, dtype=bool))
    assert "sparse" in repr(S) and "dense" in repr(A)
    assert A.fourier_structure() is None


def test_sparse_torch_autograd_and_devices():
    rng = np.random.default_rng(3)
    M = scipy.sparse.random(7, 12, density=0.3, random_state=3, format="csc")
    A = MatrixOperator(M, (3, 4), (7,))
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        x = torch.tensor(rng.standard_normal((2, 3, 4)), dtype=dtype, requires_grad=True)
        y = torch.tensor(rng.standard_normal((2, 7)), dtype=dtype)
        out = A(x)
        assert out.dtype == dtype and out.shape == (2, 7)
        (g,) = torch.autograd.grad(torch.sum(out * y), x)
        np.testing.assert_allclose(g.numpy(), A.T(y).numpy(), rtol=tol, atol=tol)
        np.testing.assert_allclose(out.detach().numpy(), A(x.detach().double().numpy()), rtol=tol, atol=tol)
    # the torch copies are cached per (library, device, dtype, direction)
    assert sum(1 for key in A._cache if key[0].startswith("torch")) == 4


def test_sparse_torch_cache_made_in_inference_mode():
    A = MatrixOperator(scipy.sparse.eye(4, format="csr") * 2.0)
    with torch.inference_mode():
        A(torch.ones(4, dtype=torch.float64))
    x = torch.ones(4, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(A(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), 2.0)


def test_dense_torch_second_order():
    rng = np.random.default_rng(4)
    A = MatrixOperator(rng.standard_normal((4, 6)))
    x = torch.tensor(rng.standard_normal(6), requires_grad=True)
    loss = torch.sum(A(x) ** 2)
    (g,) = torch.autograd.grad(loss, x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 2 * A.to_dense().T @ A.to_dense() @ np.ones(6), atol=1e-10)


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: MatrixOperator([[1.0, 2.0]]), TypeError, "NumPy array or scipy.sparse"),
        (lambda: MatrixOperator(torch.ones(2, 2)), TypeError, "detach"),
        (lambda: MatrixOperator(np.ones((2, 2)) * 1j), TypeError, "real"),
        (lambda: MatrixOperator(scipy.sparse.eye(3, dtype=complex)), TypeError, "real"),
        (lambda: MatrixOperator(np.array([["a"]])), TypeError, "dtype"),
        (lambda: MatrixOperator(np.array([[1.0, np.nan]])), ValueError, "finite"),
        (lambda: MatrixOperator(scipy.sparse.csr_matrix(np.array([[np.inf, 0.0]]))), ValueError, "finite"),
        (lambda: MatrixOperator(np.ones(4)), ValueError, "2-D"),
        (lambda: MatrixOperator(np.ones((2, 6)), in_shape=(2, 2)), ValueError, "in_shape"),
        (lambda: MatrixOperator(np.ones((2, 6)), out_shape=(3,)), ValueError, "out_shape"),
    ],
)
def test_matrix_bad_arguments(build, error, match):
    with pytest.raises(error, match=match):
        build()


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


def test_from_scipy():
    rng = np.random.default_rng(10)
    M = rng.standard_normal((6, 12))
    L = scipy.sparse.linalg.aslinearoperator(M)
    A = from_scipy(L, (3, 4), (2, 3))
    assert isinstance(A, ExternalOperator)
    check_operator(A, rng, batch=(4,), torch_ok=False)
    check_operator(A, rng, batch=(), torch_ok=False)
    np.testing.assert_allclose(A.to_dense(), M, atol=1e-14)
    only_vec = scipy.sparse.linalg.LinearOperator((6, 12), matvec=lambda v: M @ v, rmatvec=lambda v: M.T @ v)
    check_operator(from_scipy(only_vec, (12,), (6,)), rng, batch=(2, 2), torch_ok=False)
    assert isinstance(from_scipy(scipy.sparse.csr_matrix(M), (3, 4), (6,)), MatrixOperator)
    assert isinstance(from_scipy(M), MatrixOperator)
    with pytest.raises(TypeError, match="NumPy arrays"):
        A @ torch.ones(3, 4, dtype=torch.float64)
    no_adjoint = scipy.sparse.linalg.LinearOperator((6, 12), matvec=lambda v: M @ v)
    with pytest.raises(NotImplementedError, match="rmatvec"):
        from_scipy(no_adjoint).adjoint(np.ones(6))


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: from_scipy([[1.0, 2.0]]), TypeError, "shape"),
        (lambda: from_scipy(object()), TypeError, "shape"),
        (lambda: from_scipy(scipy.sparse.linalg.aslinearoperator(np.ones((2, 6))), (2, 2), (2,)), ValueError,
         "in_shape"),
        (lambda: from_scipy(scipy.sparse.linalg.aslinearoperator(np.ones((2, 6))), (6,), (3,)), ValueError,
         "out_shape"),
        (lambda: from_scipy(scipy.sparse.linalg.aslinearoperator(np.ones((2, 2)) * 1j)), TypeError, "real"),
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
