r"""The one interface every solver of ADMM's least-squares step implements.

An *inverse* is built for a forward operator ``A`` and a penalty ``beta > 0`` and answers

    z = (A^T A + beta I)^{-1} b

for ``b`` of shape ``(*batch, *A.in_shape)`` (NumPy or torch), whatever its method: an inner loop
(``GradientDescent``, ``ConjugateGradient``), an exact factorisation (``DenseInverse``), a closed form
(``FourierInverse``) or a trained network (``LearnedInverse``). ADMM only ever calls ``solve``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from .._array import check_array, namespace
from .._validate import real_number
from ..operators.base import LinearOperator

__all__ = ["Inverse", "SolveReport", "check_beta", "relative_residual"]


def check_beta(beta) -> float:
    """``beta`` as a float, or an error unless it is a finite number > 0."""
    return real_number(beta, "beta", positive=True)


def relative_residual(A: LinearOperator, beta: float, z, b) -> float:
    """``||(A^T A + beta I) z - b|| / ||b||`` (over the whole batch); costs one ``A^T A``."""
    xp = namespace(z, b)
    r = A.adjoint(A.apply(z)) + beta * z - b
    nb = float(xp.linalg.vector_norm(b))
    return float(xp.linalg.vector_norm(r)) / (nb if nb > 0 else 1.0)


@dataclass
class SolveReport:
    """What the last ``solve`` did: inner iterations (0 for a closed form), wall seconds, and the relative
    residual when the inverse was built with ``track_residual=True`` (None otherwise)."""

    iterations: int = 0
    seconds: float = 0.0
    residual: float | None = None


class Inverse:
    """Base class: ``solve(b, x0=None)`` returns ``(A^T A + beta I)^{-1} b``.

    Parameters
    ----------
    A : the forward operator.
    beta : the ADMM penalty, > 0.
    track_residual : compute the relative residual after every solve (costs one ``A^T A``) and keep it
        in ``last.residual``.

    Subclasses implement ``_solve(b, x0) -> (z, iterations)``.
    """

    #: the short name ADMM accepts for this inverse ("gd", "cg", ...)
    name = "inverse"

    def __init__(self, A: LinearOperator, beta: float, track_residual: bool = False):
        if not isinstance(A, LinearOperator):
            raise TypeError(f"A: expected a ppsolve LinearOperator, got {type(A).__name__}")
        self.A = A
        self.beta = check_beta(beta)
        self.track_residual = track_residual
        self.last = SolveReport()

    def _solve(self, b, x0):
        raise NotImplementedError

    def solve(self, b, x0=None):
        """``(A^T A + beta I)^{-1} b``; ``x0`` is a warm start for iterative inverses (ignored otherwise)."""
        self._check(b, "b")
        if x0 is not None:
            self._check(x0, "x0")
            if tuple(x0.shape) != tuple(b.shape):
                raise ValueError(f"x0: expected the shape of b, {tuple(b.shape)}, got {tuple(x0.shape)}")
        start = time.perf_counter()
        z, iterations = self._solve(b, x0)
        seconds = time.perf_counter() - start
        residual = self.residual(z, b) if self.track_residual else None
        self.last = SolveReport(iterations, seconds, residual)
        return z

    __call__ = solve

    def residual(self, z, b) -> float:
        """``||(A^T A + beta I) z - b|| / ||b||`` for a given ``z``."""
        return relative_residual(self.A, self.beta, z, b)

    def _check(self, b, what):
        check_array(b, f"{type(self).__name__}.solve {what}")
        shape = self.A.in_shape
        if b.ndim < len(shape) or tuple(b.shape[b.ndim - len(shape):]) != shape:
            raise ValueError(
                f"{type(self).__name__}.solve: expected {what} of shape (..., {', '.join(map(str, shape))}) "
                f"(the operator's input shape; leading dimensions are a batch), got {tuple(b.shape)}"
            )

    def __repr__(self):
        return f"{type(self).__name__}(A={self.A!r}, beta={self.beta:g})"
