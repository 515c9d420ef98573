r"""Conversion to and from SciPy and PyLops linear operators.

``to_scipy`` / ``to_pylops`` wrap a ppsolve ``LinearOperator`` for solvers that work on flattened (C-order)
float64 vectors; ``from_scipy`` / ``from_pylops`` wrap theirs as a ppsolve operator on image shapes
(``ExternalOperator``, NumPy arrays only). Converting back and forth returns the original operator.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from .._array import is_numpy
from .base import LinearOperator, as_shape
from .matrix import flat_shapes

__all__ = ["to_scipy", "to_pylops", "from_scipy", "from_pylops", "ExternalOperator"]


def _require_operator(op, what: str) -> LinearOperator:
    if not isinstance(op, LinearOperator):
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


def to_scipy(op: LinearOperator) -> scipy.sparse.linalg.LinearOperator:
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

        def __init__(self, op: LinearOperator):
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


def to_pylops(op: LinearOperator):
    """``op`` as a ``pylops.LinearOperator`` with ``dims = op.in_shape``, ``dimsd = op.out_shape`` and dtype
    float64 (``_matvec`` / ``_rmatvec`` on flattened vectors, ``_matmat`` / ``_rmatmat`` as one batch).
    Needs PyLops (``pip install ppsolve[interop]``). ``from_pylops`` unwraps it back to ``op``."""
    op = _require_operator(op, "to_pylops")
    return _pylops_class()(op)


class ExternalOperator(LinearOperator):
    r"""A SciPy / PyLops style linear operator (anything with ``shape = (m, n)`` and ``matvec`` / ``rmatvec``
    or ``matmat`` / ``rmatmat`` on flattened C-order vectors) as a ppsolve operator on image shapes.

    Shapes: ``(*batch, *in_shape) -> (*batch, *out_shape)`` with ``prod(in_shape) = n``,
    ``prod(out_shape) = m``; a batch goes through ``matmat`` as the columns of an ``(n, batch)`` matrix
    (``matvec`` for a single image, or per image when there is no ``matmat``). Adjoint: the external
    operator's ``rmatvec`` / ``rmatmat``. NumPy arrays only (the external code runs on the host, outside
    autograd); the output keeps the input's dtype.
    """

    def __init__(self, op, in_shape, out_shape, source: str = "external"):
        shape = getattr(op, "shape", None)
        if shape is None or len(shape) != 2:
            raise TypeError(
                f"from_{source}: expected a linear operator with a 2-D shape (m, n) and matvec/rmatvec, "
                f"got {type(op).__name__}"
            )
        has_forward = callable(getattr(op, "matvec", None)) or callable(getattr(op, "matmat", None))
        has_adjoint = callable(getattr(op, "rmatvec", None)) or callable(getattr(op, "rmatmat", None))
        if not (has_forward and has_adjoint):
            raise TypeError(
                f"from_{source}: {type(op).__name__} needs matvec and rmatvec (or matmat and rmatmat) methods"
            )
        dtype = getattr(op, "dtype", None)
        if dtype is not None and np.issubdtype(np.dtype(dtype), np.complexfloating):
            raise TypeError(f"from_{source}: expected a real operator, got dtype {np.dtype(dtype)}")
        in_shape, out_shape = flat_shapes(shape, in_shape, out_shape, f"from_{source}")
        super().__init__(in_shape, out_shape)
        self.op = op
        self.source = source

    def _call(self, x, shape_from, shape_to, vec_name, mat_name):
        if not is_numpy(x):
            raise TypeError(
                f"{self._describe()}: external operators take NumPy arrays, got {type(x).__name__}; "
                "convert it first (e.g. x.detach().cpu().numpy())"
            )
        batch = tuple(x.shape[: x.ndim - len(shape_from)])
        rows = math.prod(batch)
        n_in, n_out = math.prod(shape_from), math.prod(shape_to)
        flat = np.reshape(x, (rows, n_in))
        vec = getattr(self.op, vec_name, None)
        mat = getattr(self.op, mat_name, None)
        try:
            if callable(mat) and (rows > 1 or not callable(vec)):
                out = np.asarray(mat(np.ascontiguousarray(flat.T))).T
            else:
                out = np.stack([np.asarray(vec(row)).reshape(n_out) for row in flat]) if rows else None
        except NotImplementedError as err:
            raise NotImplementedError(
                f"{self._describe()}: the wrapped {type(self.op).__name__} does not implement {vec_name}/{mat_name}"
            ) from err
        if out is None:
            out = np.zeros((0, n_out))
        return np.reshape(out, batch + tuple(shape_to)).astype(x.dtype, copy=False)

    def _apply(self, x):
        return self._call(x, self.in_shape, self.out_shape, "matvec", "matmat")

    def _adjoint(self, y):
        return self._call(y, self.out_shape, self.in_shape, "rmatvec", "rmatmat")

    def _describe(self):
        return f"ExternalOperator({self.source} {type(self.op).__name__})"


def _unwrap(op, in_shape, out_shape):
    """The ppsolve operator inside a wrapper made by ``to_scipy`` / ``to_pylops``, if the shapes agree."""
    inner = op if isinstance(op, LinearOperator) else getattr(op, "ppsolve_operator", None)
    if not isinstance(inner, LinearOperator):
        return None
    if in_shape is not None and as_shape(in_shape) != inner.in_shape:
        return None
    if out_shape is not None and as_shape(out_shape) != inner.out_shape:
        return None
    return inner


def from_scipy(op, in_shape=None, out_shape=None) -> LinearOperator:
    """A ppsolve operator from a ``scipy.sparse.linalg.LinearOperator`` (or anything with ``shape``,
    ``matvec`` and ``rmatvec``), acting on images of ``in_shape`` (default ``(n,)``) to ``out_shape``
    (default ``(m,)``). A scipy.sparse matrix or a dense NumPy array becomes a ``MatrixOperator`` (which also
    takes PyTorch arrays); a wrapper made by ``to_scipy`` gives back its ppsolve operator."""
    inner = _unwrap(op, in_shape, out_shape)
    if inner is not None:
        return inner
    if scipy.sparse.issparse(op) or isinstance(op, np.ndarray):
        from .matrix import MatrixOperator

        return MatrixOperator(op, in_shape, out_shape)
    return ExternalOperator(op, in_shape, out_shape, source="scipy")


def from_pylops(op, in_shape=None, out_shape=None) -> LinearOperator:
    """A ppsolve operator from a ``pylops.LinearOperator``, acting on images of ``in_shape`` (default
    ``op.dims``) to ``out_shape`` (default ``op.dimsd``). A wrapper made by ``to_pylops`` gives back its
    ppsolve operator."""
    inner = _unwrap(op, in_shape, out_shape)
    if inner is not None:
        return inner
    if in_shape is None and getattr(op, "dims", None) is not None:
        in_shape = tuple(op.dims)
    if out_shape is None and getattr(op, "dimsd", None) is not None:
        out_shape = tuple(op.dimsd)
    return ExternalOperator(op, in_shape, out_shape, source="pylops")
