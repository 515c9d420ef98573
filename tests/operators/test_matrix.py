"""ppsolve.operators.matrix: MatrixOperator (dense and sparse): adjoints, backends, argument checks."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ppsolve.operators.matrix import MatrixOperator
from tests.helpers import check_operator


def random_matrix(rng, m, n, sparse):
    if sparse:
        return scipy.sparse.random(m, n, density=0.3, random_state=rng, format="csr")
    return rng.standard_normal((m, n))



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
