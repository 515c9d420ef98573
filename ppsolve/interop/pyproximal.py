r"""The data term ``f(x) = ||y - A x||^2`` as a PyProximal operator solved by a ppsolve inverse.

PyProximal's proximal operators act on flattened float64 vectors and define

    prox_{tau f}(v) = argmin_x f(x) + 1/(2 tau) ||x - v||^2.

For ``f(x) = ||y - A x||^2`` (no 1/2, ppsolve's convention) setting the gradient to zero gives

    prox_{tau f}(v) = (2 tau A^T A + I)^{-1} (v + 2 tau A^T y) = (A^T A + beta I)^{-1} (A^T y + beta v),
    beta = 1 / (2 tau),

i.e. exactly ADMM's z-update: one ``Inverse.solve`` (``ppsolve.inverses``). ``DataFidelity`` therefore lets
any ppsolve inverse (Fourier, CG, dense, learned, CG preconditioned by a learned network) serve PyProximal's
solvers, e.g. ``pyproximal.optimization.primal.ADMM(DataFidelity(...), pyproximal.L1(sigma=lam), x0, tau, niter)``.
With ``tau = 1 / (2 beta)`` and ``gfirst=True`` that run produces the same iterates as ``ppsolve.ADMM`` with
``SoftThreshold`` (PyProximal's ``z`` is ppsolve's ``x``, its ``x`` ppsolve's ``z``, its ``u`` is ``-u / (2 beta)``).

Importing this module needs the optional ``pyproximal`` package (``pip install ppsolve[interop]``).
"""
from __future__ import annotations

import math

import numpy as np

try:
    import pyproximal
except ImportError as _err:  # pragma: no cover - exercised by tests/interop/test_missing.py
    raise ImportError(f"ppsolve.interop.pyproximal needs PyProximal ({_err}): pip install ppsolve[interop]") from _err

from .._validate import real_number
from ..inverses.base import Inverse
from ..operators.base import LinearOperator
from ._inverses import InverseCache

__all__ = ["DataFidelity", "as_pyproximal"]


class DataFidelity(pyproximal.ProxOperator):
    r"""``f(x) = ||y - A x||^2`` as a ``pyproximal.ProxOperator`` on flattened (C-order) vectors.

    ``prox(v, tau)`` returns ``(A^T A + beta I)^{-1} (A^T y + beta v)`` with ``beta = 1 / (2 tau)`` (see the
    module docstring), ``grad(x) = 2 A^T (A x - y)``, and calling the operator gives ``f(x)``.

    Which inverse solves it (``ppsolve.interop._inverses.InverseCache``): the given ``inverse`` when
    ``1 / (2 tau)`` equals its ``beta`` (relative 1e-12); otherwise a new inverse *of the same kind*
    (``make_inverse(A, 1 / (2 tau), inverse.name, **inverse_options)``: the same method, with ``inverse_options``
    and not the original instance's settings), or what a factory ``inverse(A, beta)`` returns, built on first
    use and cached per ``beta`` (the ``cache_size`` most recent are kept). A trained ``LearnedInverse`` cannot
    be rebuilt for another ``beta``: call ``prox`` with ``tau = 1 / (2 beta)``, or give a factory. Each ``beta``
    keeps its last solution as the warm start of the next solve (used by iterative inverses).

    Parameters
    ----------
    A : the forward operator (``ppsolve.operators.LinearOperator``).
    y : the measurement, shape ``A.out_shape`` or flattened.
    inverse : an ``Inverse`` for ``A`` (its kind and ``beta`` are used), a name for ``make_inverse``
        ("auto" by default: ``FourierInverse`` where ``A`` allows it, else CG), or a factory ``(A, beta) -> Inverse``.
    cache_size : how many inverses (for different ``tau``) to keep.
    **inverse_options : for inverses this class builds by name.
    """

    def __init__(self, A: LinearOperator, y, inverse="auto", cache_size: int = 4, **inverse_options):
        if not isinstance(A, LinearOperator):
            raise TypeError(f"A: expected a ppsolve LinearOperator, got {type(A).__name__}")
        super().__init__(Op=None, hasgrad=True)
        self.A = A
        y = np.asarray(y, dtype=np.float64)
        if y.size != math.prod(A.out_shape):
            raise ValueError(
                f"DataFidelity: y has {y.size} entries, A's output shape {A.out_shape} has {math.prod(A.out_shape)}")
        self.y = y.reshape(A.out_shape)
        self.Aty = A.adjoint(self.y)
        self.inverses = InverseCache(A, inverse, cache_size, "DataFidelity", **inverse_options)
        self.kind = self.inverses.kind

    def __call__(self, x) -> float:
        r = self.y - self.A.apply(np.asarray(x, dtype=np.float64).reshape(self.A.in_shape))
        return float(np.sum(r * r))

    def inverse_for(self, beta: float) -> Inverse:
        """The inverse used for penalty ``beta`` (``tau = 1 / (2 beta)``), built and cached if needed."""
        return self.inverses.get(beta)

    def prox(self, x, tau):
        tau = real_number(tau, "DataFidelity.prox tau", positive=True)
        inv = self.inverse_for(1.0 / (2.0 * tau))
        v = np.asarray(x, dtype=np.float64).reshape(self.A.in_shape)
        return np.asarray(self.inverses.solve(inv, self.Aty + inv.beta * v)).reshape(-1)

    def grad(self, x):
        x = np.asarray(x, dtype=np.float64).reshape(self.A.in_shape)
        return (2.0 * self.A.adjoint(self.A.apply(x) - self.y)).reshape(-1)

    def __repr__(self):
        return f"DataFidelity(A={self.A!r}, inverse={self.kind!r})"


def as_pyproximal(inverse: Inverse, y, **inverse_options) -> DataFidelity:
    """``DataFidelity(inverse.A, y, inverse)``: ``||y - A x||^2`` for PyProximal, solved by ``inverse``."""
    if not isinstance(inverse, Inverse):
        raise TypeError(f"as_pyproximal: expected a ppsolve Inverse, got {type(inverse).__name__}")
    return DataFidelity(inverse.A, y, inverse, **inverse_options)
