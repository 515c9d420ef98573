r"""What a Fourier solver needs to know about an operator, without looking at class names.

An operator of the form

    A = S_d  H  R

(``R``: an optional channel mix ``(C, N1, N2) -> (N1, N2)``, ``x -> sum_c w_c x_c``, so that
``R R^T = |w|^2 I``; ``H``: periodic convolution, i.e. a Fourier multiplier; ``S_d``: keep every ``d``-th
pixel) has ``A A^T`` circulant on the output grid with eigenvalues

    mu(p) = |w|^2 d^{-2} sum_j |g(p + j N/d)|^2

where ``g`` is the multiplier of ``H`` with the sampling offset folded in as a phase
(``fourier.sampling_phase``). Such operators describe themselves with a ``FourierStructure``; compositions
combine descriptions in ``compose``; everything else answers ``None``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fourier import alias_sum

__all__ = ["FourierStructure", "compose"]


@dataclass(frozen=True, eq=False)
class FourierStructure:
    """``A = S_factor H R`` on the periodic ``grid`` (see the module docstring).

    Attributes
    ----------
    grid : (N1, N2), the high-resolution grid ``H`` acts on.
    spectrum : complex array broadcastable to (..., N1, N2 // 2 + 1): the half spectrum ``g`` of ``H``,
        sampling offset folded in. A leading channel axis means one kernel per channel.
    factor : the sampling factor ``d`` (1: no sampling).
    mix : (C,) channel weights ``w`` of ``R``, or None when there is no channel mix.
    """

    grid: tuple
    spectrum: np.ndarray
    factor: int = 1
    mix: np.ndarray | None = None

    @property
    def is_scalar(self) -> bool:
        """True when the operator is a multiple of the identity (a constant multiplier, no sampling, no mix)."""
        s = np.asarray(self.spectrum)
        return self.factor == 1 and self.mix is None and bool(np.all(s == s.flat[0]))

    def gram_eigenvalues(self) -> np.ndarray:
        """Eigenvalues ``mu`` of ``A A^T`` in the output grid's half-spectrum basis (float64)."""
        mu = alias_sum(np.abs(np.asarray(self.spectrum)) ** 2, self.factor, self.grid).real
        if self.mix is not None:
            mu = mu * float(np.sum(np.asarray(self.mix) ** 2))
        return mu


def compose(outer: FourierStructure | None, inner: FourierStructure | None) -> FourierStructure | None:
    """Structure of ``outer @ inner`` when it keeps the order mix -> convolution -> sampling, else None."""
    if outer is None or inner is None:
        return None
    if inner.is_scalar:
        return FourierStructure(outer.grid, outer.spectrum * np.asarray(inner.spectrum).flat[0], outer.factor, outer.mix)
    if outer.is_scalar:
        return FourierStructure(inner.grid, inner.spectrum * np.asarray(outer.spectrum).flat[0], inner.factor, inner.mix)
    if tuple(outer.grid) != tuple(inner.grid) or inner.factor != 1:
        return None  # sampling before a convolution: not of the form S H R
    if outer.mix is not None:
        # a mix after a convolution commutes with it when one kernel serves every channel: R H = H R
        if inner.mix is not None or np.ndim(inner.spectrum) > 2:
            return None
        return FourierStructure(inner.grid, outer.spectrum * inner.spectrum, outer.factor, outer.mix)
    if inner.mix is not None and np.ndim(outer.spectrum) > 2:
        return None  # per-channel kernels after the mix cannot act on the single mixed channel
    if inner.mix is None and outer.mix is None and np.ndim(inner.spectrum) > 2 and np.ndim(outer.spectrum) > 2:
        if np.shape(inner.spectrum)[:-2] != np.shape(outer.spectrum)[:-2]:
            return None
    return FourierStructure(inner.grid, outer.spectrum * inner.spectrum, outer.factor, inner.mix)
