r"""The one interface every solver of ADMM's least-squares step implements.

An *inverse* is built for a forward operator ``A`` and a penalty ``beta > 0`` and answers

    z = (A^T A + beta I)^{-1} b

for ``b`` of shape ``(*batch, *A.in_shape)`` (NumPy or torch), whatever its method: an inner loop
(``GradientDescent``, ``ConjugateGradient``), an exact factorisation (``DenseInverse``), a closed form
(``FourierInverse``) or a trained network (``LearnedInverse``). ADMM only ever calls ``solve``.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

from .._array import is_torch, namespace
from .._validate import batch_shape, real_number
from ..operators.base import LinearOperator

__all__ = ["STOP_REASONS", "Inverse", "SolveReport", "check_beta", "relative_residual", "same_operator"]

#: why a solve ended (``SolveReport.stop_reason``)
STOP_REASONS = {
    "exact": "a closed form or a network: no iterations",
    "steps": "ran the fixed number of steps it was given (gradient descent with tol = 0)",
    "tol": "every batch item reached the relative residual tol",
    "maxiter": "the iteration limit came first",
    "precision": "the residual reached the rounding level of the dtype before tol (tol below what it can resolve)",
    "stagnation": "the residual stopped decreasing (no new minimum for a while) before tol",
    "breakdown": "a search direction had non-positive or non-finite curvature (an indefinite or broken operator "
                 "or preconditioner, or rounding at the end of the attainable accuracy)",
}


def check_beta(beta) -> float:
    """``beta`` as a float, or an error unless it is a finite number > 0."""
    return real_number(beta, "beta", positive=True)


def same_operator(A: LinearOperator, B: LinearOperator) -> bool:
    """Whether an inverse built for ``B`` serves ``A``: the same object, or equal shapes and ``fingerprint()``."""
    if A is B:
        return True
    if (A.in_shape, A.out_shape) != (B.in_shape, B.out_shape):
        return False
    return A.fingerprint() == B.fingerprint()


def _same_kind(a, b) -> bool:
    """Whether ``a`` and ``b`` are arrays of one library (NumPy, torch or CuPy) and, for torch, one device."""
    try:
        namespace(a, b)
    except TypeError:
        return False
    return not is_torch(a) or a.device == b.device


def relative_residual(A: LinearOperator, beta: float, z, b) -> float:
    """``||(A^T A + beta I) z - b|| / ||b||`` (over the whole batch); costs one ``A^T A``."""
    xp = namespace(z, b)
    r = A.adjoint(A.apply(z)) + beta * z - b
    nb = float(xp.linalg.vector_norm(b))
    return float(xp.linalg.vector_norm(r)) / (nb if nb > 0 else 1.0)


@dataclass
class SolveReport:
    """What one ``solve`` did.

    Attributes
    ----------
    iterations : inner iterations (0 for a closed form; the maximum over the batch).
    seconds : wall seconds.
    residual : the relative residual of the answer when the inverse was built with ``track_residual=True``
        (None otherwise).
    converged : whether the stopping test was met (always True for closed forms).
    stop_reason : one of ``STOP_REASONS``.
    history : for iterative inverses, the worst relative residual over the batch before the first and after
        every iteration (empty otherwise, and for gradient descent with ``tol = 0``).
    """

    iterations: int = 0
    seconds: float = 0.0
    residual: float | None = None
    converged: bool = True
    stop_reason: str = "exact"
    history: list = field(default_factory=list)


class Inverse:
    """Base class: ``solve(b, x0=None)`` returns ``(A^T A + beta I)^{-1} b``.

    Parameters
    ----------
    A : the forward operator.
    beta : the ADMM penalty, > 0.
    track_residual : compute the relative residual after every solve (costs one ``A^T A``) and keep it
        in ``last.residual``.

    Reports: ``solve_report(b, x0)`` returns ``(z, SolveReport)``, the report of that one call. ``last`` is the
    report of the calling thread's latest ``solve``, so an inverse shared by several threads (or several ADMM
    runs) reports to each thread what its own call did.

    Subclasses implement ``_solve(b, x0) -> (z, iterations)``, or ``(z, SolveReport)`` for more detail (its
    ``seconds`` and ``residual`` are filled in here).
    """

    #: the short name ADMM accepts for this inverse ("gd", "cg", ...)
    name = "inverse"

    def __init__(self, A: LinearOperator, beta: float, track_residual: bool = False):
        if not isinstance(A, LinearOperator):
            raise TypeError(f"A: expected a ppsolve LinearOperator, got {type(A).__name__}")
        self.A = A
        self.beta = check_beta(beta)
        self.track_residual = track_residual
        self._reports = threading.local()

    def _solve(self, b, x0):
        raise NotImplementedError

    def solve_report(self, b, x0=None):
        """``(z, report)``: ``z = (A^T A + beta I)^{-1} b`` and the ``SolveReport`` of this call. ``x0`` is a warm
        start for iterative inverses (ignored otherwise): the same shape and kind of array as ``b``."""
        self._check(b, "b")
        if x0 is not None:
            self._check(x0, "x0")
            if not _same_kind(x0, b):
                raise TypeError(f"{type(self).__name__}.solve: x0 is a {type(x0).__module__}.{type(x0).__name__} but "
                                f"b is a {type(b).__module__}.{type(b).__name__}; give both as the same kind of array")
            if tuple(x0.shape) != tuple(b.shape):
                raise ValueError(f"x0: expected the shape of b, {tuple(b.shape)}, got {tuple(x0.shape)}")
            if x0.dtype != b.dtype:
                x0 = namespace(b).astype(x0, b.dtype)
        start = time.perf_counter()
        z, info = self._solve(b, x0)
        seconds = time.perf_counter() - start
        report = info if isinstance(info, SolveReport) else SolveReport(iterations=int(info))
        residual = self.residual(z, b) if self.track_residual else None
        report = replace(report, seconds=seconds, residual=residual)
        self._reports.last = report
        return z, report

    def solve(self, b, x0=None):
        """``(A^T A + beta I)^{-1} b``; ``x0`` is a warm start for iterative inverses (ignored otherwise). The
        report of the call is ``last`` (per thread) or, returned with ``z``, ``solve_report``."""
        return self.solve_report(b, x0)[0]

    __call__ = solve

    @property
    def last(self) -> SolveReport:
        """The report of this thread's latest ``solve`` (an empty report before the first)."""
        return getattr(self._reports, "last", None) or SolveReport()

    @property
    def last_history(self) -> list:
        """``last.history``: the residual history of this thread's latest solve."""
        return self.last.history

    @property
    def last_converged(self) -> bool:
        """``last.converged``."""
        return self.last.converged

    def residual(self, z, b) -> float:
        """``||(A^T A + beta I) z - b|| / ||b||`` for a given ``z``."""
        return relative_residual(self.A, self.beta, z, b)

    def _check(self, b, what):
        batch_shape(b, self.A.in_shape, f"{type(self).__name__}.solve {what} (the operator's input shape)")

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_reports", None)  # per-thread reports do not travel with a copy or a pickle
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._reports = threading.local()

    def __repr__(self):
        return f"{type(self).__name__}(A={self.A!r}, beta={self.beta:g})"
