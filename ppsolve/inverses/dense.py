r"""Exact inverse by a dense Cholesky factorisation, for small images and any operator."""
from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from .._array import as_like, to_numpy
from ..operators.base import DENSE_MAX_SIZE, LinearOperator
from .base import Inverse

__all__ = ["DenseInverse"]

#: the default largest number of unknowns ``n = prod(A.in_shape)``: a 4096 x 4096 float64 matrix is 128 MiB
#: and its Cholesky factorisation takes about a second
DEFAULT_MAX_SIZE = 4096


class DenseInverse(Inverse):
    r"""``z = (A^T A + beta I)^{-1} b`` by Cholesky factorisation of the ``n x n`` matrix, for any ``A``.

    The matrix ``A^T A + beta I`` is built from ``A.to_dense()`` (or column by column from ``A^T A`` applied to
    unit images when ``A``'s output is too large for ``to_dense``), factorised once with
    ``scipy.linalg.cho_factor`` on the first solve and cached on the instance (``factor()`` builds it ahead).
    Building costs ``n`` operator applications, ``O(n^2)`` memory and ``O(n^3)`` time, so it is only for
    small images: ``n = prod(A.in_shape) > max_size`` raises ``ValueError``.

    The solve runs in float64 NumPy. Other inputs (float32, torch tensors, CuPy) are converted to float64
    NumPy, solved, and converted back to the input's namespace, dtype and device: autograd does NOT flow
    through ``DenseInverse`` (use ``FourierInverse`` or ``ConjugateGradient`` to differentiate).
    ``x0`` is ignored; ``last.iterations`` is 0.

    Parameters
    ----------
    A : the forward operator (anything; ``n = prod(A.in_shape)`` unknowns).
    beta : the ADMM penalty, > 0.
    max_size : the largest ``n`` accepted (default 4096).
    track_residual : see ``Inverse``.
    """

    name = "dense"

    def __init__(self, A: LinearOperator, beta: float, max_size: int = DEFAULT_MAX_SIZE, track_residual: bool = False):
        super().__init__(A, beta, track_residual)
        n = math.prod(A.in_shape)
        if n > max_size:
            raise ValueError(
                f"DenseInverse: {A!r} has n = {n} unknowns, more than max_size = {max_size} (an n x n Cholesky "
                f"factorisation needs O(n^2) memory and O(n^3) time). Use FourierInverse for a periodic convolution, "
                "strided periodic convolution or colour-to-grey map, ConjugateGradient otherwise, or LearnedInverse; "
                "or raise max_size."
            )
        self.n = n
        self.max_size = max_size
        self._factor = None

    def factor(self):
        """The cached Cholesky factorisation ``scipy.linalg.cho_factor(A^T A + beta I)``."""
        if self._factor is None:
            A, n = self.A, self.n
            if max(A.shape) <= DENSE_MAX_SIZE:
                M = A.to_dense()
                gram = M.T @ M
            else:  # the output is too large for to_dense: apply A^T A to unit images in chunks
                gram = np.empty((n, n))
                for start in range(0, n, 256):
                    stop = min(n, start + 256)
                    basis = np.zeros((stop - start, n))
                    basis[np.arange(stop - start), np.arange(start, stop)] = 1.0
                    columns = A.adjoint(A.apply(basis.reshape((stop - start,) + A.in_shape)))
                    gram[:, start:stop] = to_numpy(columns).reshape(stop - start, n).T
                gram = 0.5 * (gram + gram.T)
            gram[np.diag_indices(n)] += self.beta
            self._factor = scipy.linalg.cho_factor(gram, lower=False, check_finite=True)
        return self._factor

    def _solve(self, b, x0):
        batch = tuple(b.shape[: b.ndim - len(self.A.in_shape)])
        rhs = np.asarray(to_numpy(b), dtype=np.float64).reshape(-1, self.n)
        z = scipy.linalg.cho_solve(self.factor(), rhs.T, check_finite=False).T.reshape(batch + self.A.in_shape)
        return as_like(z, b), 0
