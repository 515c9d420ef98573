"""ppsolve.operators.external: ExternalOperator and from_scipy (SciPy operators in ppsolve). from_pylops is
tested in test_flat.py, with the round trips through to_pylops."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg
import torch

from ppsolve.operators import ExternalOperator, from_scipy
from ppsolve.operators.matrix import MatrixOperator
from tests.helpers import check_operator


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
    ],
)
def test_interop_bad_arguments(build, error, match):
    with pytest.raises(error, match=match):
        build()
