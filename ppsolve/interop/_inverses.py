r"""One inverse of ``A^T A + beta I`` per penalty ``beta``, built on first use: what every bridge needs.

Other libraries' loops hand the data term's proximal operator a step (PyProximal's ``tau``, deepinv's ``gamma``,
SCICO's ``rho``) from which the bridge derives ppsolve's ``beta`` (see each bridge's docstring); a loop with a
schedule (DPIR) changes it every iteration. ``InverseCache(A, spec).get(beta)`` returns the inverse for that
``beta``:

* ``spec`` an ``Inverse``: that instance for its own ``beta`` (relative 1e-12); for another ``beta`` a new
  inverse *of the same kind* (``make_inverse(A, beta, spec.name, **options)``: the method, not the instance's
  settings). A ``LearnedInverse`` is trained for one ``beta`` and cannot be rebuilt: give a factory instead.
* ``spec`` a name (``"auto"``, ``"fourier"``, ``"cg"``, ``"dense"``, ``"gd"``): ``make_inverse(A, beta, spec,
  **options)``.
* ``spec`` a callable ``factory(A, beta) -> Inverse``: anything, e.g. CG preconditioned by one learned
  inverse's network at every ``beta`` (``lambda A, beta: ConjugateGradient(A, beta,
  preconditioner=learned.preconditioner())``: exact answers, the preconditioner only changes the speed).

The ``cache_size`` most recently built inverses are kept, with the last solution of each as the warm start of
its next solve (``warm``).
"""
from __future__ import annotations

import math

from .._validate import positive_int
from ..inverses import make_inverse
from ..inverses.base import Inverse, check_beta
from ..operators.base import LinearOperator

__all__ = ["InverseCache"]


class InverseCache:
    """Inverses of ``A^T A + beta I`` by ``beta`` (see the module docstring).

    Parameters
    ----------
    A : the ppsolve operator.
    spec : an ``Inverse`` for ``A``, a name for ``make_inverse``, or a factory ``(A, beta) -> Inverse``.
    cache_size : how many inverses (for different ``beta``) to keep.
    owner : the name errors start with.
    **options : for inverses built by name (ignored by a factory).
    """

    def __init__(self, A: LinearOperator, spec="auto", cache_size: int = 4, owner: str = "InverseCache",
                 **options):
        if not isinstance(A, LinearOperator):
            raise TypeError(f"{owner}: A must be a ppsolve LinearOperator, got {type(A).__name__}")
        self.A, self.owner, self.options = A, owner, options
        self.cache_size = positive_int(cache_size, f"{owner} cache_size")
        self.factory = None
        self._cache: dict[float, Inverse] = {}
        self.warm: dict = {}
        if isinstance(spec, Inverse):
            make_inverse(A, spec.beta, spec)  # checks that it was built for A
            self.kind = spec.name
            self._cache[spec.beta] = spec
        elif isinstance(spec, str):
            self.kind = spec
        elif callable(spec):
            self.kind, self.factory = "factory", spec
        else:
            raise TypeError(f"{owner}: inverse must be a ppsolve Inverse, a name or a factory (A, beta) -> Inverse, "
                            f"got {type(spec).__name__}")

    def __len__(self) -> int:
        return len(self._cache)

    def kept(self) -> dict:
        """``{beta: inverse}`` of the inverses kept, oldest first."""
        return dict(self._cache)

    def get(self, beta) -> Inverse:
        """The inverse for ``beta``, built and cached if needed."""
        beta = check_beta(beta)
        for known, inv in self._cache.items():
            if math.isclose(known, beta, rel_tol=1e-12, abs_tol=0.0):
                return inv
        if self.factory is not None:
            inv = self.factory(self.A, beta)
            if not isinstance(inv, Inverse):
                raise TypeError(f"{self.owner}: the inverse factory returned {type(inv).__name__}, "
                                "not a ppsolve Inverse")
            make_inverse(self.A, beta, inv)  # built for this A and this beta
        else:
            try:
                inv = make_inverse(self.A, beta, self.kind, **self.options)
            except ValueError as err:
                raise ValueError(f"{self.owner}: cannot build a {self.kind!r} inverse for beta = {beta:g} ({err}); "
                                 "pass a factory inverse=lambda A, beta: ... or use the given inverse's beta") from err
        self._cache[beta] = inv
        while len(self._cache) > self.cache_size:
            oldest = next(iter(self._cache))
            del self._cache[oldest]
            self.warm.pop(oldest, None)
        return inv

    def solve(self, inv: Inverse, b, warm_start: bool = True):
        """``inv.solve(b)``, warm-started from ``inv``'s previous solution when it has ``b``'s shape, dtype and kind
        of array (iterative inverses only use it)."""
        previous = self.warm.get(inv.beta) if warm_start else None
        if previous is not None and (type(previous) is not type(b) or tuple(previous.shape) != tuple(b.shape)
                                     or previous.dtype != b.dtype or getattr(previous, "device", None)
                                     != getattr(b, "device", None)):
            previous = None
        z = inv.solve(b, x0=previous)
        self.warm[inv.beta] = z
        return z
