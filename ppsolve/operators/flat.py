r"""A ppsolve operator seen by libraries that work on flattened float64 vectors: SciPy and PyLops.

``to_scipy`` / ``to_pylops`` wrap an image operator so that ``scipy.sparse.linalg`` solvers and PyLops see an
``(m, n)`` operator on C-order flattened vectors (a matrix of columns goes through the operator as one batch).
The way back, ``from_scipy`` / ``from_pylops``, is in ``external``. This module reads nothing of the operator
but ``apply``, ``adjoint``, ``in_shape``, ``out_shape`` and ``shape``, so ``base`` can use it without a cycle.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse.linalg

__all__ = ["to_pylops", "to_scipy"]


def _require_operator(op, what: str):
    if not all(hasattr(op, name) for name in ("apply", "adjoint", "in_shape", "out_shape", "shape")):
        raise TypeError(f"{what}: expected a ppsolve LinearOperator, got {type(op).__name__}")
    return op


def _real_part_call(fn, v):
    """``fn(v)`` for a real ``fn`` that also accepts complex ``v`` (as ``fn(Re v) + i fn(Im v)``)."""
    if np.iscomplexobj(v):
        return fn(v.real) + 1j * fn(v.imag)
    return fn(v)


def _vector_call(fn, in_shape, v):
    """``fn`` (image shaped) on a flattened vector ``v`` of shape (n,) or (n, 1); returns a flat vector."""
    if not hasattr(v, "reshape"):
        v = np.asarray(v)

    def real(u):
        return fn(u.astype(np.float64).reshape(in_shape)).reshape(-1)

    return _real_part_call(real, v)


def _matrix_call(fn, in_shape, out_size, X):
    """``fn`` on the columns of ``X`` (n, k) at once (as a batch of k images); returns (out_size, k)."""
    if not hasattr(X, "reshape"):
        X = np.asarray(X)
    k = X.shape[1]

    def real(U):
        return fn(U.astype(np.float64).T.reshape((k,) + tuple(in_shape))).reshape(k, out_size).T

    return _real_part_call(real, X)


def to_scipy(op) -> scipy.sparse.linalg.LinearOperator:
    """``op`` as a ``scipy.sparse.linalg.LinearOperator`` of shape ``(m, n)`` and dtype float64 acting on
    flattened (C-order) vectors, with ``matvec``, ``rmatvec``, ``matmat`` (the columns go through ``op`` as
    one batch) and ``rmatmat``. Complex vectors are split into real and imaginary parts. The ppsolve operator
    stays reachable as ``.ppsolve_operator`` (``from_scipy`` unwraps it)."""
    op = _require_operator(op, "to_scipy")
    m, n = op.shape
    wrapped = scipy.sparse.linalg.LinearOperator(
        shape=(m, n),
        matvec=lambda v: _vector_call(op.apply, op.in_shape, v),
        rmatvec=lambda v: _vector_call(op.adjoint, op.out_shape, v),
        matmat=lambda X: _matrix_call(op.apply, op.in_shape, m, X),
        rmatmat=lambda X: _matrix_call(op.adjoint, op.out_shape, n, X),
        dtype=np.float64,
    )
    wrapped.ppsolve_operator = op
    return wrapped


_PYLOPS_CLASS = None


def _pylops_class():
    """The PyLops wrapper class, defined on first use so that PyLops stays an optional dependency."""
    global _PYLOPS_CLASS
    if _PYLOPS_CLASS is not None:
        return _PYLOPS_CLASS
    try:
        import pylops
    except ImportError as err:
        raise ImportError(
            "PyLops interoperability needs the optional dependency pylops: pip install ppsolve[interop]"
        ) from err

    class PpsolvePylopsOperator(pylops.LinearOperator):
        """A ppsolve ``LinearOperator`` as a PyLops operator (``dims = in_shape``, ``dimsd = out_shape``)."""

        def __init__(self, op):
            self.ppsolve_operator = op
            super().__init__(dtype=np.dtype(np.float64), dims=op.in_shape, dimsd=op.out_shape)

        def _matvec(self, x):
            op = self.ppsolve_operator
            return _vector_call(op.apply, op.in_shape, x)

        def _rmatvec(self, y):
            op = self.ppsolve_operator
            return _vector_call(op.adjoint, op.out_shape, y)

        def _matmat(self, X):
            op = self.ppsolve_operator
            return _matrix_call(op.apply, op.in_shape, op.shape[0], X)

        def _rmatmat(self, Y):
            op = self.ppsolve_operator
            return _matrix_call(op.adjoint, op.out_shape, op.shape[1], Y)

    _PYLOPS_CLASS = PpsolvePylopsOperator
    return _PYLOPS_CLASS


def to_pylops(op):
    """``op`` as a ``pylops.LinearOperator`` with ``dims = op.in_shape``, ``dimsd = op.out_shape`` and dtype
    float64 (``_matvec`` / ``_rmatvec`` on flattened vectors, ``_matmat`` / ``_rmatmat`` as one batch).
    Needs PyLops (``pip install ppsolve[interop]``). ``from_pylops`` unwraps it back to ``op``."""
    op = _require_operator(op, "to_pylops")
    return _pylops_class()(op)
