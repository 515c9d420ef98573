r"""Iterative inverses: gradient descent (the paper's inner loop) and (preconditioned) conjugate gradients.

Both solve ``(A^T A + beta I) z = b`` matrix-free, with one ``A`` and one ``A^T`` per iteration, for NumPy,
PyTorch and CuPy arrays (the arithmetic runs in the input's namespace, device and dtype; with torch, autograd
flows through the unrolled iterations). Leading dimensions of ``b`` are a batch: every item has its own
step sizes and its own stopping test, reductions run over the image axes only (the last
``len(A.in_shape)`` axes).

Each solve reports (``solve_report``, or ``last`` per thread) the number of iterations run (the maximum over
the batch), the relative residual ``||(A^T A + beta I) z - b|| / ||b||`` before the first and after every
iteration (``history``, the maximum over the batch items), whether every item reached ``tol``
(``converged``) and why it stopped (``stop_reason``). A ``callback(iteration, residual)`` sees the same
numbers as they are produced. An item with ``b = 0`` is measured by the absolute residual ``||r||`` instead.

Conjugate gradients stop early, and say so, where going on cannot help: at the rounding level of the dtype
(``"precision"``: the recursively updated residual is below ``eps``, where it no longer follows the true one;
iterating on made the true residual grow again, and after ~10^4 iterations it turned into NaN), when the
residual has made no new minimum for ``STAGNATION_WINDOW`` iterations (``"stagnation"``), and when a search
direction has non-positive or non-finite curvature ``p^T M p`` (``"breakdown"``: an indefinite operator or
preconditioner, or underflow).
"""
from __future__ import annotations

import math

import numpy as np

from .._array import namespace
from .._validate import choice, count, real_number
from ..operators.base import LinearOperator
from .base import Inverse, SolveReport

__all__ = ["STAGNATION_WINDOW", "ConjugateGradient", "GradientDescent"]

#: CG stops with "stagnation" after this many iterations without a new minimum of the worst item's residual
STAGNATION_WINDOW = 100


def _rounding_level(x) -> float:
    """The machine epsilon of ``x``'s dtype: below it a recursively updated residual no longer means anything."""
    return float(np.finfo(str(x.dtype).removeprefix("torch.")).eps)


class _Iterative(Inverse):
    """Shared plumbing: per-item inner products over the image axes, residual bookkeeping."""

    def __init__(self, A, beta, maxiter, tol, callback, track_residual):
        super().__init__(A, beta, track_residual)
        self.maxiter = count(maxiter, "maxiter")
        self.tol = real_number(tol, "tol")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback: expected a callable (iteration, residual) -> None, got {callback!r}")
        self.callback = callback

    def _dot(self, x, y, ndim):
        """Per-item inner products over the last ``ndim`` axes: an array of the batch shape."""
        xp = namespace(x)
        return xp.sum(x * y, axis=tuple(range(-ndim, 0)))

    def _normal(self, z):
        """``(A^T A + beta I) z``."""
        return self.A._adjoint(self.A._apply(z)) + self.beta * z

    def _record(self, history: list, iteration, relative) -> float:
        """Append the worst item's relative residual to ``history`` (and show it to the callback); return it."""
        xp = namespace(relative)
        worst = float(xp.max(relative))
        history.append(worst)
        if self.callback is not None:
            self.callback(iteration, worst)
        return worst


def _per_item(s, ndim):
    """Batch-shaped scalars ``s`` made to broadcast against (*batch, *image) arrays with ``ndim`` image axes."""
    return namespace(s).reshape(s, tuple(s.shape) + (1,) * ndim)


def _safe(x):
    """``x`` with zeros replaced by ones (denominators)."""
    xp = namespace(x)
    return xp.where(x > 0, x, xp.ones_like(x))


class GradientDescent(_Iterative):
    r"""The paper's inner loop: gradient descent on ``f(z) = 1/2 z^T (A^T A + beta I) z - b^T z``.

    ``z <- z + step * (b - (A^T A + beta I) z)``, from ``x0`` (warm start) or 0, with the step
    ``2 / (lambda_max + lambda_min)`` that is optimal for a spectrum in ``[lambda_min, lambda_max]``:
    ``lambda_max = ||A||^2 + beta`` (``A.norm()``, power iteration, computed on first use and cached by ``A``)
    and ``lambda_min = beta``, the lower bound of the spectrum of ``A^T A + beta I`` (exact when ``A`` has a
    non-trivial null space, e.g. any sampling operator). The error then shrinks at least by the factor
    ``||A||^2 / (||A||^2 + 2 beta)`` per step. (The power-iteration estimate of ``||A||^2`` may be slightly low;
    the iteration stays convergent while that error is below ``beta``.)

    Parameters
    ----------
    A, beta : the operator and the penalty (> 0).
    maxiter : number of steps (default 100).
    tol : stop once ``||r|| / ||b|| <= tol`` for every batch item; ``tol = 0`` (default) runs exactly ``maxiter``
        steps, the paper's fixed inner-step count, without computing residual norms (``last_history`` is then
        empty).
    step : the step size; default ``2 / (||A||^2 + 2 beta)``.
    callback : optional ``callback(iteration, residual)`` (only when ``tol > 0``).
    track_residual : see ``Inverse``.
    """

    name = "gd"

    def __init__(self, A: LinearOperator, beta: float, maxiter: int = 100, tol: float = 0.0, step=None,
                 track_residual: bool = False, callback=None):
        super().__init__(A, beta, maxiter, tol, callback, track_residual)
        self._step = None if step is None else real_number(step, "step", positive=True)

    @property
    def step(self) -> float:
        """The step size (default ``2 / (lambda_max + lambda_min)`` with ``lambda_max = ||A||^2 + beta``,
        ``lambda_min = beta``)."""
        if self._step is None:
            self._step = 2.0 / (self.A.norm() ** 2 + 2.0 * self.beta)
        return self._step

    def _solve(self, b, x0):
        xp = namespace(b)
        ndim = len(self.A.in_shape)
        step = self.step
        history = []
        track = self.tol > 0
        if track:
            bnorm = _safe(xp.sqrt(self._dot(b, b, ndim)))
        z = x0
        for k in range(self.maxiter):
            r = b if z is None else b - self._normal(z)
            if track and self._record(history, k, xp.sqrt(self._dot(r, r, ndim)) / bnorm) <= self.tol:
                z = xp.zeros_like(b) if z is None else z
                return z, SolveReport(iterations=k, stop_reason="tol", history=history)
            z = step * r if z is None else z + step * r
        z = xp.zeros_like(b) if z is None else z
        if not track:
            return z, SolveReport(iterations=self.maxiter, stop_reason="steps")
        r = b - self._normal(z)
        converged = self._record(history, self.maxiter, xp.sqrt(self._dot(r, r, ndim)) / bnorm) <= self.tol
        return z, SolveReport(iterations=self.maxiter, converged=converged,
                              stop_reason="tol" if converged else "maxiter", history=history)


class ConjugateGradient(_Iterative):
    r"""Conjugate gradients for ``(A^T A + beta I) z = b``, batched, warm-started, optionally preconditioned.

    **Without a preconditioner**: plain CG on the full system from ``z_0 = x0`` (or 0), stopping when
    ``||r|| / ||b|| <= tol`` for every batch item (items that have converged are frozen).

    **With a preconditioner on the input space** (``space="input"``): ``M`` maps ``(*batch, *A.in_shape)``
    arrays, approximates ``(A^T A + beta I)^{-1}`` and is symmetric positive definite; preconditioned CG on
    the full system.

    **With a preconditioner on the measurement space** (``space="measurement"``, the default) ``M`` (a
    callable ``r -> M r`` on arrays of shape ``(*batch, *A.out_shape)``, approximating
    ``B = (beta I + A A^T)^{-1}`` and symmetric positive definite, e.g. a learned inverse's network, the
    periodic closed form restricted to the frame of a valid-convolution model
    (``fourier.periodic_preconditioner``), or an exact ``B`` for a test): preconditioned CG on the small system

        (beta I + A A^T) w = A b,        then   z = (b - A^T w) / beta            (Woodbury)

    The two systems are linked by ``w = A z`` (push-through: ``A (A^T A + beta I)^{-1} = (A A^T + beta I)^{-1} A``),
    so a warm start ``x0`` for ``z`` gives the consistent warm start ``w_0 = A x0`` (exact when ``x0`` is;
    ``w_0 = 0`` without ``x0``). With ``r_s = A b - (beta I + A A^T) w`` the small residual, the full system's
    residual of ``z = (b - A^T w) / beta`` is

        (A^T A + beta I) z - b = beta^{-1} (A^T A b + beta b - A^T A A^T w - beta A^T w) - b = -A^T r_s / beta,

    so the stopping test uses the TRUE full-system relative residual ``||A^T r_s|| / (beta ||b||)`` (one extra
    ``A^T`` per iteration), and ``last_history`` / ``tol`` mean the same with or without a preconditioner.

    Parameters
    ----------
    A, beta : the operator and the penalty (> 0).
    tol : relative residual to reach (default 1e-8; float32 inputs bottom out near 1e-7).
    maxiter : iteration limit (default 1000).
    preconditioner : None, or a callable (see above).
    space : "measurement" (default) or "input": where ``preconditioner`` acts.
    track_residual : see ``Inverse``.
    callback : optional ``callback(iteration, residual)``, called with the initial residual (iteration 0) and
        after every iteration.
    """

    name = "cg"

    def __init__(self, A: LinearOperator, beta: float, tol: float = 1e-8, maxiter: int = 1000, preconditioner=None,
                 track_residual: bool = False, callback=None, space: str = "measurement"):
        super().__init__(A, beta, maxiter, tol, callback, track_residual)
        self.space = choice(space, "space", ("measurement", "input"))
        if preconditioner is not None and not callable(preconditioner):
            shape = "A.out_shape" if self.space == "measurement" else "A.in_shape"
            raise TypeError(f"preconditioner: expected a callable r -> M r on arrays of shape (..., *{shape}), "
                            f"got {type(preconditioner).__name__}")
        self.preconditioner = preconditioner

    def _solve(self, b, x0):
        if self.preconditioner is None or self.space == "input":
            return self._cg(b, x0, self.preconditioner)
        return self._pcg(b, x0)

    def _cg(self, b, x0, precondition=None):
        xp = namespace(b)
        ndim = len(self.A.in_shape)
        bnorm = _safe(xp.sqrt(self._dot(b, b, ndim)))
        z, r = (xp.zeros_like(b), b) if x0 is None else (x0, b - self._normal(x0))
        return self._iterate(z, r, self._normal, precondition, lambda r: xp.sqrt(self._dot(r, r, ndim)) / bnorm,
                             ndim)

    def _pcg(self, b, x0):
        xp = namespace(b)
        A, beta = self.A, self.beta
        ndim, mdim = len(A.in_shape), len(A.out_shape)
        scale = beta * _safe(xp.sqrt(self._dot(b, b, ndim)))
        rhs = A._apply(b)

        def small(w):  # (beta I + A A^T) w
            return beta * w + A._apply(A._adjoint(w))

        def relative(r):  # A^T r = -beta ((A^T A + beta I) z - b) for z = (b - A^T w) / beta
            full = A._adjoint(r)
            return xp.sqrt(self._dot(full, full, ndim)) / scale

        if x0 is None:
            w, r = xp.zeros_like(rhs), rhs
        else:
            w = A._apply(x0)
            r = rhs - small(w)
        w, report = self._iterate(w, r, small, self.preconditioner, relative, mdim)
        return (b - A._adjoint(w)) / beta, report

    def _iterate(self, x, r, apply, precondition, relative_of, ndim):
        """Batched (preconditioned) conjugate gradients for ``apply(x) = rhs`` from ``x`` with residual ``r``;
        ``precondition`` None is the identity. An item is done once its relative residual is at most
        ``max(tol, eps)`` or its curvature breaks down; the loop ends when every item is done, after ``maxiter``
        iterations, or on stagnation (see the module docstring). Returns ``(x, SolveReport)``."""
        xp = namespace(r)
        floor = _rounding_level(r)
        target = max(self.tol, floor)
        history = []
        y = r if precondition is None else precondition(r)
        p = y
        ry = self._dot(r, y, ndim)
        relative = relative_of(r)
        broken = xp.zeros_like(relative, dtype=xp.bool)
        best, best_at = math.inf, 0
        k, reason = 0, "maxiter"
        while True:
            worst = self._record(history, k, relative)
            if worst < best:
                best, best_at = worst, k
            active = (relative > target) & ~broken
            if not bool(xp.any(active)):
                reason = "breakdown" if bool(xp.any(broken)) else ("tol" if worst <= self.tol else "precision")
                break
            if k >= self.maxiter:
                break
            if k - best_at >= STAGNATION_WINDOW:
                reason = "stagnation"
                break
            k += 1
            q = apply(p)
            pq = self._dot(p, q, ndim)
            curved = xp.isfinite(pq) & (pq > 0) & xp.isfinite(ry) & (ry > 0)
            broken = broken | (active & ~curved)
            active = active & curved
            alpha = _per_item(xp.where(active, ry / _safe(xp.where(curved, pq, xp.ones_like(pq))),
                                       xp.zeros_like(pq)), ndim)
            x = x + alpha * p
            r = r - alpha * q
            relative = xp.where(active, relative_of(r), relative)
            y = r if precondition is None else precondition(r)
            ry_new = self._dot(r, y, ndim)
            ratio = xp.where(active & (ry > 0), ry_new / _safe(xp.where(ry > 0, ry, xp.ones_like(ry))),
                             xp.zeros_like(ry))
            p = xp.where(_per_item(active, ndim), y + _per_item(ratio, ndim) * p, p)
            ry = xp.where(active, ry_new, ry)
        return x, SolveReport(iterations=k, converged=reason == "tol", stop_reason=reason, history=history)
