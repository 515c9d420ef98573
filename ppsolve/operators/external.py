r"""Operators from SciPy and PyLops (``from_scipy``, ``from_pylops``) as ppsolve operators on image shapes.

``ExternalOperator`` wraps anything with ``shape = (m, n)`` and ``matvec`` / ``rmatvec`` (or ``matmat`` /
``rmatmat``) on flattened C-order vectors; sparse and dense matrices become a ``MatrixOperator``. A wrapper
made by ``to_scipy`` / ``to_pylops`` (``flat``) gives back the ppsolve operator inside it.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse

from .._array import is_numpy
from .._validate import shape as as_shape
from .base import LinearOperator
from .matrix import MatrixOperator, flat_shapes

__all__ = ["ExternalOperator", "from_pylops", "from_scipy"]


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
