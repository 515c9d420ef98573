r"""One learned inverse for every beta: the resolvent identity applied to a learned circulant.

A ``LearnedInverse`` of the ``"linear"`` architecture with circular padding (a periodic operator) is
``C_0 = F^T F``, a circulant: the Fourier multiplier ``m_0(p) = sum_k |f_k^(p)|^2 >= 0`` on its grid (the
measurement grid in the Woodbury form, the image grid in the direct form). It was trained to approximate
the resolvent ``R(beta_0)`` of ``G = A A^T`` (Woodbury) or ``G = A^T A`` (direct) at its own ``beta_0``:
``R(beta) = (beta I + G)^{-1}``. Resolvents at two penalties satisfy the resolvent identity

    R(beta) = R(beta_0) (I + (beta - beta_0) R(beta_0))^{-1},

so the same network answers at any ``beta``, with the multiplier

    m(p; beta) = m_0(p) / (1 + (beta - beta_0) m_0(p)),

rational (analytic) in ``beta``, exact wherever ``m_0`` is, and positive for every ``beta >= beta_0`` (where the
denominator is at least 1). If ``m_0 = (1 + eps) / (beta_0 + g)`` at an eigenvalue ``g`` of ``G``, then
``m = (1 + eps') / (beta + g)`` with ``eps' = eps (beta_0 + g) / (beta_0 + g + (beta - beta_0)(1 + eps))``: the
relative error shrinks as ``beta`` grows (to first order by ``(beta_0 + g) / (beta + g)``). So one network,
trained once at the smallest beta of a schedule, serves the whole schedule; below its ``beta_0`` the
denominator can vanish: ``ShiftedLearnedInverse`` refuses a ``beta`` where it falls below 1/2 (an error
amplified more than twice).

``refine`` iterations of conjugate gradients preconditioned by that network, warm-started at its answer
``z_0 = C b``, then correct the network's own error. Where the network is good everywhere the error falls like
iterative refinement's, ``I - C (A^T A + beta I)`` per step; the few spectral components it got badly wrong
(for a blur: next to the zeros of its spectrum at small ``beta``, where ``R(beta)`` is 1 / beta) are what
conjugate gradients remove best. The count is fixed, not a tolerance: each iteration is one ``A^T A`` and one
application of ``C`` (four FFTs of the image size for a convolution). Measured figures are in
``docs/learned-inverse.md``.
"""
from __future__ import annotations

import numpy as np
import torch

from .._array import Constant, is_torch
from .._validate import count
from ..operators.fourier import irfft2, rfft2
from .base import Inverse, check_beta, same_operator
from .iterative import ConjugateGradient

__all__ = ["ShiftedLearnedInverse", "every_beta"]


def _base_multiplier(base) -> tuple[np.ndarray, tuple[int, int]]:
    """``(m_0, grid)``: ``m_0 = sum_k |f_k^|^2`` of the circular bank, float64, on the half spectrum of ``grid``,
    the network's grid."""
    net = base.network
    if base.architecture != "linear" or getattr(net, "padding", None) != "circular":
        raise ValueError(
            f"ShiftedLearnedInverse: needs a LearnedInverse of the 'linear' architecture with circular padding (a "
            f"periodic operator, whose learned C is a circulant), got architecture {base.architecture!r} with padding "
            f"{getattr(net, 'padding', None)!r}"
        )
    if net.in_channels != 1:
        raise ValueError(f"ShiftedLearnedInverse: needs a one-channel measurement, got {net.in_channels} channels")
    shape = base.A.in_shape if base.form == "direct" else base.A.out_shape
    grid = tuple(int(n) for n in shape[-2:])
    with torch.no_grad():
        spectrum = base._network_for(torch.float64, torch.device("cpu"))._spectrum(grid)  # (K, 1, L1, L2 // 2 + 1)
    return (spectrum.abs() ** 2).sum(dim=(0, 1)).numpy(), grid


class ShiftedLearnedInverse(Inverse):
    r"""``base``'s learned inverse moved to ``beta >= base.beta`` by the resolvent identity, then ``refine``
    iterations of conjugate gradients preconditioned by it (see the module docstring).

    Parameters
    ----------
    base : a trained ``LearnedInverse`` (linear architecture, circular padding, one-channel measurement); its
        operator is this inverse's operator.
    beta : the penalty: ``base.beta`` or larger (slightly smaller while ``1 + (beta - beta_0) m_0 >= 1/2``).
    refine : conjugate-gradient iterations after the network (default 10, what the deblurring schedule needs
        for 1 % at every beta; 0 is the shifted network alone).
    track_residual : see ``Inverse``.

    ``multiplier`` is ``m(p; beta)`` on the half spectrum; ``apply_network(r)`` applies it (the learned
    ``R(beta)`` alone, on the measurement space in the Woodbury form, the image space in the direct form), and
    ``preconditioner()`` returns that map for conjugate gradients (symmetric positive definite). ``solve``
    reports the iterations run (``refine``, fewer only if the residual reached the rounding level).
    """

    name = "learned-shifted"

    def __init__(self, base, beta: float, refine: int = 10, track_residual: bool = False):
        super().__init__(base.A, beta, track_residual)
        self.base, self.refine = base, count(refine, "refine")
        m0, self.grid = _base_multiplier(base)
        denominator = 1.0 + (self.beta - base.beta) * m0
        if float(denominator.min()) < 0.5:
            raise ValueError(
                f"ShiftedLearnedInverse: beta = {self.beta:g} is too far below the beta the network was trained for "
                f"({base.beta:g}): 1 + (beta - beta_0) m_0 falls to {float(denominator.min()):.3g} (at least 0.5 is "
                "needed); train at the smallest beta you need"
            )
        self.multiplier = m0 / denominator
        self.form = base.form
        self.space = "measurement" if self.form == "woodbury" else "input"  # where apply_network acts
        self._multiplier = Constant(self.multiplier)
        self._cg = ConjugateGradient(self.A, self.beta, tol=0.0, maxiter=self.refine,
                                     preconditioner=self.apply_network, space=self.space) if self.refine else None

    def apply_network(self, r):
        """``R(beta) r``: the shifted learned resolvent on its space (any array type; torch keeps autograd)."""
        if tuple(r.shape[-2:]) != self.grid:
            raise ValueError(f"{type(self).__name__}: expected arrays ending in {self.grid}, "
                             f"got shape {tuple(r.shape)}")
        out = irfft2(rfft2(r) * self._multiplier.like(r), self.grid)
        return out.to(r.dtype) if is_torch(r) else out.astype(r.dtype, copy=False)

    def _approximate(self, b):
        if self.form == "direct":
            return self.apply_network(b)
        A = self.A
        return (b - A.adjoint(self.apply_network(A.apply(b)))) / self.beta

    def _solve(self, b, x0):
        z = self._approximate(b)
        if self._cg is None:
            return z, 0
        z, report = self._cg.solve_report(b, x0=z)
        return z, report.iterations

    def preconditioner(self):
        """``r -> R(beta) r`` for ``ConjugateGradient`` (``space`` as ``LearnedInverse.preconditioner``'s):
        symmetric and positive definite (``m > 0``), no shift needed."""
        apply = self.apply_network

        def precondition(r):
            return apply(r)

        precondition.space = self.space
        return precondition

    def __repr__(self):
        return (f"ShiftedLearnedInverse(beta={self.beta:g}, from beta_0={self.base.beta:g}, refine={self.refine}, "
                f"A={self.A!r})")


def every_beta(base, refine: int = 10):
    """``(A, beta) -> ShiftedLearnedInverse(base, beta, refine)``: the z-update solver for every stage of a
    schedule (``restore(..., inverse=every_beta(base))``), checking that each stage's ``A`` is ``base``'s operator
    (the same object, or the same shapes and fingerprint)."""
    refine = count(refine, "refine")
    cache = {}

    def make(A, beta):
        if not same_operator(A, base.A):
            raise ValueError(f"every_beta: the learned inverse is for {base.A!r}, a stage asks for {A!r}; load it for "
                             "this operator (LearnedInverse.load(path, A, allow_resize=True))")
        key = float(check_beta(beta))
        if key not in cache:
            cache[key] = ShiftedLearnedInverse(base, key, refine)
        return cache[key]

    return make
