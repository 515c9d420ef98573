r"""Solvers of ADMM's least-squares step ``z = (A^T A + beta I)^{-1} b``, all behind one interface (``Inverse``).

=========================  ====================================================================================
``GradientDescent``        the paper's inner loop (fixed step count or a tolerance); any ``A``
``ConjugateGradient``      CG to a tolerance, warm start, optional preconditioner on the measurement space; any ``A``
``DenseInverse``           Cholesky of the ``n x n`` matrix; any ``A``, small images only
``FourierInverse``         exact closed form in Fourier (two FFTs); periodic (strided) convolutions, colour mix
``LearnedInverse``         the paper's network ``C_phi ~ (beta I + A A^T)^{-1}`` (``ppsolve.inverses.learned``)
``ShiftedLearnedInverse``  one such network (periodic) at any larger beta, by the resolvent identity (``learned_shift``)
=========================  ====================================================================================

``make_inverse(A, beta, spec)`` builds one by name or checks a given one.
"""
from __future__ import annotations

import inspect
import math

from ..operators.base import LinearOperator
from .base import Inverse, SolveReport, check_beta, relative_residual, same_operator
from .dense import DenseInverse
from .fourier import FourierInverse, periodic_preconditioner
from .iterative import ConjugateGradient, GradientDescent
from .learned import LearnedInverse
from .learned_shift import ShiftedLearnedInverse, every_beta

__all__ = [
    "INVERSES",
    "ConjugateGradient",
    "DenseInverse",
    "FourierInverse",
    "GradientDescent",
    "Inverse",
    "LearnedInverse",
    "ShiftedLearnedInverse",
    "SolveReport",
    "every_beta",
    "make_inverse",
    "relative_residual",
]


#: the names ``make_inverse`` accepts, with the class each builds ("auto" picks one, see ``make_inverse``)
INVERSES = {"gd": GradientDescent, "cg": ConjugateGradient, "dense": DenseInverse, "fourier": FourierInverse}


def make_inverse(A: LinearOperator, beta: float, spec="auto", **options) -> Inverse:
    """An ``Inverse`` of ``A^T A + beta I``.

    Parameters
    ----------
    A : the forward operator.
    beta : the ADMM penalty, > 0.
    spec : one of

        * an ``Inverse`` instance: returned as is, after checking that it was built for this ``beta`` (to a
          relative 1e-12) and this ``A`` (the same object, or an operator with the same shapes and
          ``fingerprint()``); ``ValueError`` otherwise. No ``options`` may be given with it.
        * ``"gd"``, ``"cg"``, ``"dense"``, ``"fourier"``: ``GradientDescent``, ``ConjugateGradient``,
          ``DenseInverse``, ``FourierInverse`` built as ``Class(A, beta, **options)``.
        * ``"auto"`` (default): ``FourierInverse`` when ``A.fourier_structure()`` is not None (exact, two FFTs),
          else ``ConjugateGradient``, preconditioned by the periodic closed form restricted to the frame
          (``fourier.periodic_preconditioner``) when ``A.periodic_factor()`` is a crop of a periodic operator
          (the valid-convolution model of a photograph). ``options`` of the class not chosen are dropped, so that
          e.g. ``make_inverse(A, beta, "auto", tol=1e-6)`` works whichever is chosen; an option neither
          accepts (a typo) is a ``TypeError``.
    options : keyword arguments for the constructor.
    """
    if isinstance(spec, Inverse):
        if options:
            raise ValueError(f"make_inverse: options {sorted(options)} cannot be applied to an existing {spec!r}")
        beta = check_beta(beta)
        if not math.isclose(spec.beta, beta, rel_tol=1e-12, abs_tol=0.0):
            raise ValueError(
                f"make_inverse: the given {type(spec).__name__} was built for beta = {spec.beta:g}, "
                f"but beta = {beta:g} was asked for"
            )
        if not same_operator(spec.A, A):
            raise ValueError(
                f"make_inverse: the given {type(spec).__name__} was built for {spec.A!r}, not for {A!r} "
                "(different operator: shapes or fingerprint differ)"
            )
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"make_inverse: spec must be an Inverse or a name, got {type(spec).__name__}")
    key = spec.strip().lower()
    if key == "auto":
        cls = FourierInverse if A.fourier_structure() is not None else ConjugateGradient
        candidates = (FourierInverse, ConjugateGradient)
        known = set().union(*(inspect.signature(c.__init__).parameters for c in candidates)) - {"self", "A", "beta"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"make_inverse: unknown options {unknown} for 'auto'; FourierInverse and "
                            f"ConjugateGradient accept {sorted(known)}")
        accepted = inspect.signature(cls.__init__).parameters
        options = {k: v for k, v in options.items() if k in accepted}
        if cls is ConjugateGradient and "preconditioner" not in options:
            precondition = periodic_preconditioner(A, beta)
            if precondition is not None:  # the valid-convolution model: the periodic closed form on the frame
                options["preconditioner"] = precondition
        return cls(A, beta, **options)
    if key == "learned":
        raise ValueError(
            "make_inverse: a LearnedInverse is trained for one operator and one beta; build it with "
            "LearnedInverse.train(A, beta) (or LearnedInverse.load) and pass the instance"
        )
    if key not in INVERSES:
        valid = ", ".join(repr(n) for n in (*INVERSES, "auto"))
        raise ValueError(f"make_inverse: unknown inverse {spec!r}; valid names: {valid} (or an Inverse instance)")
    return INVERSES[key](A, beta, **options)
