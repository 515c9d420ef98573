r"""Iterative inverses: gradient descent (the paper's inner loop) and (preconditioned) conjugate gradients.

Both solve ``(A^T A + beta I) z = b`` matrix-free, with one ``A`` and one ``A^T`` per iteration, for NumPy,
PyTorch and CuPy arrays (the arithmetic runs in the input's namespace, device and dtype; with torch, autograd
flows through the unrolled iterations). Leading dimensions of ``b`` are a batch: every item has its own
step sizes and its own stopping test, reductions run over the image axes only (the last
``len(A.in_shape)`` axes).

After a solve, ``last.iterations`` is the number of iterations run (the maximum over the batch),
``last_history`` the relative residual ``||(A^T A + beta I) z - b|| / ||b||`` before the first and after
every iteration (the maximum over the batch items), and ``last_converged`` whether every item reached
``tol``. A ``callback(iteration, residual)`` sees the same numbers as they are produced. An item with
``b = 0`` is measured by the absolute residual ``||r||`` instead.
"""
from __future__ import annotations

import math
import numbers

from .._array import namespace
from .._validate import real_number
from ..operators.base import LinearOperator
from .base import Inverse

__all__ = ["ConjugateGradient", "GradientDescent"]


def _check_count(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{what}: expected an int >= 0, got {value!r}")
    return int(value)


def _check_tol(value) -> float:
    return real_number(value, "tol")


class _Iterative(Inverse):
    """Shared plumbing: per-item inner products over the image axes, residual bookkeeping."""

    def __init__(self, A, beta, maxiter, tol, callback, track_residual):
        super().__init__(A, beta, track_residual)
        self.maxiter = _check_count(maxiter, "maxiter")
        self.tol = _check_tol(tol)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback: expected a callable (iteration, residual) -> None, got {callback!r}")
        self.callback = callback
        self.last_history: list[float] = []
        self.last_converged = False

    def _dot(self, x, y, ndim):
        """Per-item inner products over the last ``ndim`` axes: an array of the batch shape."""
        xp = namespace(x)
        return xp.sum(x * y, axis=tuple(range(-ndim, 0)))

    def _normal(self, z):
        """``(A^T A + beta I) z``."""
        return self.A._adjoint(self.A._apply(z)) + self.beta * z

    def _record(self, iteration, relative):
        """Store the worst item's relative residual; True when every item has reached ``tol``."""
        xp = namespace(relative)
        worst = float(xp.max(relative))
        self.last_history.append(worst)
        if self.callback is not None:
            self.callback(iteration, worst)
        return worst <= self.tol


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
        if step is not None:
            try:
                step = float(step)
            except (TypeError, ValueError):
                raise TypeError(f"step: expected a positive number, got {step!r}") from None
            if not math.isfinite(step) or step <= 0:
                raise ValueError(f"step: expected a finite number > 0, got {step!r}")
        self._step = step

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
        self.last_history = []
        self.last_converged = self.tol == 0
        track = self.tol > 0
        if track:
            bnorm = _safe(xp.sqrt(self._dot(b, b, ndim)))
        z = x0
        for k in range(self.maxiter):
            r = b if z is None else b - self._normal(z)
            if track and self._record(k, xp.sqrt(self._dot(r, r, ndim)) / bnorm):
                self.last_converged = True
                return (xp.zeros_like(b) if z is None else z), k
            z = step * r if z is None else z + step * r
        if track:
            r = b if z is None else b - self._normal(z)
            self.last_converged = self._record(self.maxiter, xp.sqrt(self._dot(r, r, ndim)) / bnorm)
        return (xp.zeros_like(b) if z is None else z), self.maxiter


class ConjugateGradient(_Iterative):
    r"""Conjugate gradients for ``(A^T A + beta I) z = b``, batched, warm-started, optionally preconditioned.

    **Without a preconditioner**: plain CG on the full system from ``z_0 = x0`` (or 0), stopping when
    ``||r|| / ||b|| <= tol`` for every batch item (items that have converged are frozen).

    **With a preconditioner** ``M`` (a callable ``r -> M r`` on the *measurement* space, arrays of shape
    ``(*batch, *A.out_shape)``, approximating ``B = (beta I + A A^T)^{-1}`` and symmetric positive definite,
    e.g. a learned inverse's network, or an exact ``B`` for a test): preconditioned CG on the small system

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
    preconditioner : None, or a callable on measurement-space arrays (see above).
    track_residual : see ``Inverse``.
    callback : optional ``callback(iteration, residual)``, called with the initial residual (iteration 0) and
        after every iteration.
    """

    name = "cg"

    def __init__(self, A: LinearOperator, beta: float, tol: float = 1e-8, maxiter: int = 1000, preconditioner=None,
                 track_residual: bool = False, callback=None):
        super().__init__(A, beta, maxiter, tol, callback, track_residual)
        if preconditioner is not None and not callable(preconditioner):
            raise TypeError(f"preconditioner: expected a callable r -> M r on arrays of shape (..., *A.out_shape), "
                            f"got {type(preconditioner).__name__}")
        self.preconditioner = preconditioner

    def _solve(self, b, x0):
        self.last_history = []
        self.last_converged = False
        if self.preconditioner is None:
            return self._cg(b, x0)
        return self._pcg(b, x0)

    def _cg(self, b, x0):
        xp = namespace(b)
        ndim = len(self.A.in_shape)
        bnorm = _safe(xp.sqrt(self._dot(b, b, ndim)))
        z, r = (xp.zeros_like(b), b) if x0 is None else (x0, b - self._normal(x0))
        return self._iterate(z, r, self._normal, None, lambda r: xp.sqrt(self._dot(r, r, ndim)) / bnorm, ndim)

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
        w, k = self._iterate(w, r, small, self.preconditioner, relative, mdim)
        return (b - A._adjoint(w)) / beta, k

    def _iterate(self, x, r, apply, precondition, relative_of, ndim):
        """Batched (preconditioned) conjugate gradients for ``apply(x) = rhs`` from ``x`` with residual ``r``;
        ``precondition`` None is the identity; stops when ``relative_of(r) <= tol`` for every item, or after
        ``maxiter`` iterations. Returns ``(x, iterations)``."""
        xp = namespace(r)
        y = r if precondition is None else precondition(r)
        p = y
        ry = self._dot(r, y, ndim)
        relative = relative_of(r)
        k = 0
        while True:
            if self._record(k, relative):
                self.last_converged = True
                break
            if k >= self.maxiter:
                break
            k += 1
            active = relative > self.tol
            q = apply(p)
            pq = self._dot(p, q, ndim)
            alpha = _per_item(xp.where(active & (pq > 0), ry / _safe(pq), xp.zeros_like(pq)), ndim)
            x = x + alpha * p
            r = r - alpha * q
            relative = relative_of(r)
            y = r if precondition is None else precondition(r)
            ry_new = self._dot(r, y, ndim)
            p = y + _per_item(ry_new / _safe(ry), ndim) * p
            ry = ry_new
        return x, k
