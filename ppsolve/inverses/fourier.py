r"""Exact inverse for periodic (strided) convolutions, optionally after a colour-to-grey mix.

For ``A = S_d H R`` (see ``ppsolve.operators.structure``: ``R`` an optional channel mix ``sum_c w_c x_c``,
``H`` a Fourier multiplier ``g`` on the periodic ``N1 x N2`` grid with the sampling offset folded in,
``S_d`` keeping every ``d``-th pixel), Woodbury gives

    z = (A^T A + beta I)^{-1} b = beta^{-1} (b - A^T B A b),    B = (beta I + A A^T)^{-1},

and ``A A^T`` is circulant on the low-resolution ``(N1/d) x (N2/d)`` grid with eigenvalues
``mu(p) = |w|^2 d^{-2} sum_j |g(p + j N/d)|^2`` (``FourierStructure.gram_eigenvalues``), so ``B`` is the
Fourier multiplier ``1 / (beta + mu)``. In the Fourier basis, with ``^`` the unnormalised real FFT
(``ppsolve.operators.fourier``) and ``c = R b`` (``c = b`` without a mix):

    F = c^                                   one forward FFT on the high-resolution grid
    L = alias_sum(g F)                       = (A b)^ on the low-resolution grid
    W = L / (beta + mu)                      = (B A b)^
    T = conj(g) replicate(W)                 = (H^T S^T B A b)^
    z = (b - R^T irfft2(T)) / beta           one inverse FFT   (no mix: z = irfft2(F - T) / beta)

This is the closed form of Zhao, Dobigeon, Berthoumieu et al., "Fast single image super-resolution using a
new analytical solution for l2-l2 problems" (IEEE TIP 2016), written on the real-FFT half spectrum; for
``d = 1`` without a mix it reduces to the Wiener-type filter ``z = irfft2(F / (beta + |g|^2))``.

Cost: one ``rfft2`` and one ``irfft2`` of the high-resolution (grey) image plus O(n) work. The aliasing
(``fourier.alias_sum``) and the periodic repetition (``fourier.replicate``) are fused with the multipliers:
the ``d`` row aliases of ``g F`` are summed block by block, then ``fourier.fold_columns`` sums the column
aliases on the ``d`` times smaller array; ``fourier.repeat_columns`` undoes it and the repetition along rows
is a broadcast against ``conj(g)`` in row blocks.

Arrays: NumPy (scipy.fft), PyTorch (torch.fft; autograd flows through ``solve``) and CuPy; float32 stays
float32 (complex64 spectra). The spectra are precomputed once in float64 and converted on first use
(``ppsolve._array.Constant``).
"""
from __future__ import annotations

import numpy as np
import torch

from .._array import Constant, is_torch, namespace
from ..operators.base import LinearOperator
from ..operators.fourier import fold_columns, half_width, irfft2, repeat_columns, rfft2
from ..operators.structure import FourierStructure
from .base import Inverse

__all__ = ["FourierInverse", "periodic_preconditioner"]


class FourierInverse(Inverse):
    r"""``z = (A^T A + beta I)^{-1} b`` exactly, in Fourier, for operators with a ``fourier_structure``.

    Applies to periodic convolution (deblurring), strided periodic convolution with any sampling offset
    (super-resolution, ``d`` dividing the image size), per-channel kernels on ``(C, H, W)`` images, a
    colour-to-grey mix in front (``A = S H R``), and scalar multiples and compositions of these that keep
    the order mix -> convolution -> sampling. Zero or reflective boundaries, masks and other non-periodic
    operators have no Fourier diagonalisation: building one raises ``ValueError`` (use
    ``ConjugateGradient``, ``DenseInverse`` for small images, or ``LearnedInverse``).

    ``solve`` costs two FFTs of the image size plus O(n) work, reports 0 iterations and ignores ``x0``.
    The result is exact up to rounding (relative residual ~1e-15 in float64, ~1e-7 in float32).

    Parameters
    ----------
    A : the forward operator; ``A.fourier_structure()`` must not be None.
    beta : the ADMM penalty, > 0.
    track_residual : see ``Inverse``.
    """

    name = "fourier"

    def __init__(self, A: LinearOperator, beta: float, track_residual: bool = False):
        super().__init__(A, beta, track_residual)
        structure = A.fourier_structure()
        if structure is None:
            raise ValueError(
                f"FourierInverse: {A!r} has no Fourier structure (A.fourier_structure() is None): only periodic "
                "(strided) convolutions, optionally after a colour-to-grey mix, are diagonal in Fourier; zero/reflect "
                "boundaries, masks and other non-periodic operators have no Fourier diagonalisation. "
                "Use ConjugateGradient, DenseInverse for small images, or LearnedInverse instead."
            )
        self.structure = structure
        grid = tuple(int(n) for n in structure.grid)
        d = int(structure.factor)
        n1, n2 = grid[0] // d, grid[1] // d
        self.grid, self.factor, self._low = grid, d, (n1, n2)
        if tuple(A.in_shape[-2:]) != grid or grid[0] % d or grid[1] % d:
            raise ValueError(
                f"FourierInverse: the Fourier structure of {A!r} (grid {grid}, factor {d}) does not match its "
                f"input shape {A.in_shape}"
            )
        # the multiplier on the full half-spectrum grid (a scalar one is broadcast: sampling needs the grid)
        spectrum = np.asarray(structure.spectrum, dtype=np.complex128)
        half = (grid[0], half_width(grid[1]))
        spectrum = np.array(np.broadcast_to(spectrum, spectrum.shape[:-2] + half if spectrum.ndim >= 2 else half))
        mix = None if structure.mix is None else np.asarray(structure.mix, dtype=np.float64).reshape(-1)
        if mix is not None:
            if len(A.in_shape) < 3 or A.in_shape[-3] != mix.size:
                raise ValueError(
                    f"FourierInverse: a channel mix of {mix.size} weights needs inputs (..., {mix.size}, H, W), "
                    f"but A.in_shape is {A.in_shape}"
                )
            if spectrum.ndim > 2:
                raise ValueError("FourierInverse: per-channel kernels cannot act after a channel mix")
        channels = spectrum.shape[:-2]
        image_channels = A.in_shape[:-2] if mix is None else A.in_shape[:-3]
        if len(channels) > len(image_channels) or any(
            c != 1 and c != s for c, s in zip(channels[::-1], image_channels[::-1])
        ):
            raise ValueError(
                f"FourierInverse: kernel spectra of shape {spectrum.shape} do not broadcast over inputs {A.in_shape}"
            )
        mu = FourierStructure(grid, spectrum, d, mix).gram_eigenvalues()
        self.eigenvalues = mu  # of A A^T on the low-resolution half spectrum
        self._measurement_filter = None

        beta = self.beta
        self._mix = None if mix is None else Constant(mix.reshape(-1, 1, 1))
        if d == 1 and mix is None:
            # z^ = b^ (1 - |g|^2 / (beta + |g|^2)) / beta = b^ / (beta + |g|^2): a single real multiplier
            self._filter = Constant(1.0 / (beta + np.abs(spectrum) ** 2))
            return
        self._filter = None
        # g and conj(g) split into the d row blocks (..., d, n1, N2h): the row aliases become a sum over blocks
        # and replicate() along rows a broadcast
        blocks = channels + (d, n1, half[1])
        self._g = Constant(spectrum.reshape(blocks))
        self._gc = Constant(np.conj(spectrum).reshape(blocks))
        # B's eigenvalues, with alias_sum's 1 / d^2 folded in (the sums below are unnormalised)
        self._weights = Constant(1.0 / (d * d * (beta + mu)))

    # -- the solve -----------------------------------------------------------------------------------
    def measurement_inverse(self, r):
        """``B r = (beta I + A A^T)^{-1} r`` for ``r`` of shape ``(*batch, *A.out_shape)``: the Fourier multiplier
        ``1 / (beta + mu)`` on the measurement grid (Woodbury's ``B``, symmetric positive definite)."""
        if self._measurement_filter is None:
            self._measurement_filter = Constant(1.0 / (self.beta + self.eigenvalues))
        return irfft2(rfft2(r) * self._measurement_filter.like(r), self.A.out_shape[-2:])

    def _solve(self, b, x0):
        xp = namespace(b)
        if self._filter is not None:
            z = irfft2(rfft2(b) * self._filter.like(b), self.grid)
            return z, 0
        d, grid = self.factor, self.grid
        n1, half = self._low[0], half_width(grid[1])
        # Without autograd to feed, the full-size spectrum F is updated in place (fewer full-size temporaries).
        inplace = not _tracks_grad(b)
        g, gc = self._g.like(b), self._gc.like(b)
        mixed = b if self._mix is None else xp.sum(b * self._mix.like(b), axis=-3)
        F = rfft2(mixed)  # (..., N1, N2h)
        Fb = xp.reshape(F, F.shape[:-2] + (d, n1, half))  # row blocks j: rows j n1 .. (j + 1) n1 - 1
        rows = Fb[..., 0, :, :] * g[..., 0, :, :]  # row aliases of (g F): (..., n1, N2h)
        for j in range(1, d):
            rows = rows + Fb[..., j, :, :] * g[..., j, :, :]
        W = fold_columns(rows, grid[1], d) * self._weights.like(b)  # (A b)^ / (beta + mu): (..., n1, n2h)
        Wc = repeat_columns(W, grid[1], d)  # (..., n1, N2h), the same for every row block
        if self._mix is not None:
            T = gc * xp.expand_dims(Wc, axis=-3)  # (H^T S^T B A b)^ in row blocks
            u = irfft2(xp.reshape(T, F.shape), grid)
            return (b - self._mix.like(b) * xp.expand_dims(u, axis=-3)) / self.beta, 0
        if not inplace:
            D = Fb - gc * xp.expand_dims(Wc, axis=-3)
            return irfft2(xp.reshape(D, F.shape), grid) / self.beta, 0
        for j in range(d):  # F <- F - T block by block
            if is_torch(F):
                Fb[..., j, :, :].addcmul_(gc[..., j, :, :], Wc, value=-1)
            else:
                Fb[..., j, :, :] -= gc[..., j, :, :] * Wc
        z = irfft2(F, grid)
        z *= 1.0 / self.beta
        return z, 0


def _tracks_grad(x) -> bool:
    """True when ``x`` is a torch tensor that autograd is recording."""
    if not is_torch(x):
        return False
    return x.requires_grad and torch.is_grad_enabled()


def periodic_preconditioner(A: LinearOperator, beta: float, periodic_inverse=None):
    """``r -> R (beta I + P P^T)^{-1} R^T r`` on ``A``'s measurement space for an operator ``A = R @ P`` with a
    ``periodic_factor`` (``R`` a crop, ``P`` periodic: the valid-convolution model), or None. It is the closed
    form of the periodic problem restricted to the frame: symmetric positive definite, and a preconditioner for
    CG on ``(beta I + A A^T) w = A b`` that cuts the iterations several times at small ``beta``.

    ``periodic_inverse``: another symmetric positive definite approximation of ``(beta I + P P^T)^{-1}`` on
    ``P``'s measurement grid to restrict instead of the closed form, e.g. a learned inverse of ``P``
    (``LearnedInverse.train(P, beta).preconditioner()``)."""
    factor = A.periodic_factor()
    if factor is None or factor[0] is None:
        return None
    restriction, periodic = factor
    if periodic_inverse is None:
        periodic_inverse = FourierInverse(periodic, beta).measurement_inverse
    elif not callable(periodic_inverse):
        raise TypeError(f"periodic_preconditioner: periodic_inverse must be a callable r -> M r on arrays of shape "
                        f"(..., *{tuple(periodic.out_shape)}), got {type(periodic_inverse).__name__}")

    def precondition(r):
        return restriction.apply(periodic_inverse(restriction.adjoint(r)))

    return precondition
