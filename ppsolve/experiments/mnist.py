r"""MNIST 4x super-resolution (paper section 4.2, Figure 2 right): the problem and two classical baselines.

Problem
    ``x``: a 28 x 28 MNIST digit, pixels / 255. ``A = strided_convolution(gaussian_kernel(3, 1.0), (28, 28), 4)``:
    periodic convolution with the normalised 3 x 3 Gaussian of sigma 1 (centred), then every 4th pixel from
    pixel 0, so low-resolution pixel ``i`` is the blurred high-resolution pixel ``4 i`` (7 x 7 measurements).
    ``y = A x + N(0, 0.01^2)``, the noise drawn from a fixed seed (``measure``).
Split (of the 10,000-digit MNIST test file, as the zoo's DAE was trained)
    digits 0-7999 (``TRAIN_DIGITS``: the DAE's training 0-6999 and validation 7000-7999) for every choice
    (ADMM's beta and iteration count, Tikhonov's weight); digits 8000-9999 (``HELD_OUT_DIGITS``) only for the
    final figures.
Baselines
    bicubic interpolation (``ppsolve.interpolation.bicubic_upsample``, aligned with ``A`` or in the
    pixel-area convention) and ``tikhonov_gradient``: ``argmin_x ||y - A x||^2 + mu ||D x||^2`` with ``D`` the periodic forward
    differences (``ppsolve.operators.FiniteDifference``), solved exactly in Fourier.
Score
    ``mean_psnr``: the mean over images of the per-image PSNR of the estimate clipped to ``[0, 1]``, data
    range 1.
"""
from __future__ import annotations

import numpy as np

from .._validate import real_number
from ..metrics import psnr
from ..operators import gaussian_kernel, strided_convolution
from ..operators.base import LinearOperator

__all__ = [
    "FACTOR",
    "HELD_OUT_DIGITS",
    "IMAGE_SHAPE",
    "NOISE_SIGMA",
    "TRAIN_DIGITS",
    "mean_psnr",
    "measure",
    "mnist_sr_operator",
    "tikhonov_gradient",
]

IMAGE_SHAPE = (28, 28)
FACTOR = 4
NOISE_SIGMA = 0.01
#: digits of the MNIST test file that may be trained and tuned on (the zoo DAE: 0-6999 train, 7000-7999 val)
TRAIN_DIGITS = range(8000)
#: the final test set: never trained, tuned or validated on
HELD_OUT_DIGITS = range(8000, 10000)


def mnist_sr_operator() -> LinearOperator:
    """``A``: 3 x 3 Gaussian blur (sigma 1), periodic, then every 4th pixel from pixel 0; (28, 28) -> (7, 7)."""
    return strided_convolution(gaussian_kernel(3, 1.0), IMAGE_SHAPE, FACTOR)


def measure(A: LinearOperator, x: np.ndarray, sigma: float = NOISE_SIGMA, seed: int = 0) -> np.ndarray:
    """``y = A x + N(0, sigma^2)`` (float64) with the noise from ``numpy.random.default_rng(seed)``, drawn for
    the whole stack at once: measure all digits in one call and index afterwards, so that a digit's noise
    does not depend on which subset is being evaluated."""
    x = np.asarray(x, dtype=np.float64)
    y = A.apply(x)
    return y + sigma * np.random.default_rng(seed).standard_normal(y.shape)


def mean_psnr(x, ref) -> float:
    """Mean over the images of ``(N, H, W)`` stacks of the per-image PSNR of ``clip(x, 0, 1)``, data range 1."""
    return psnr(x, ref, batch_dims=np.ndim(x) - 2, clip=True)


# -- Tikhonov ---------------------------------------------------------------------------------------------


def _full_spectrum(half: np.ndarray, grid) -> np.ndarray:
    """The full ``(N1, N2)`` spectrum of a real operator from its ``(N1, N2 // 2 + 1)`` half spectrum."""
    n1, n2 = grid
    half = np.broadcast_to(np.asarray(half), (n1, n2 // 2 + 1))
    full = np.empty((n1, n2), dtype=np.complex128)
    full[:, : n2 // 2 + 1] = half
    k2 = np.arange(n2 // 2 + 1, n2)
    full[:, k2] = np.conj(half[(-np.arange(n1)) % n1][:, n2 - k2])
    return full


def _group(a: np.ndarray, factor: int) -> np.ndarray:
    """``(..., N1, N2) -> (..., N1/d, N2/d, d*d)``: frequency ``k = p + j N/d`` to group ``p``, member ``j``."""
    *lead, n1, n2 = a.shape
    d = factor
    a = a.reshape(*lead, d, n1 // d, d, n2 // d)
    a = np.moveaxis(a, (-4, -2), (-2, -1))  # (..., n1/d, n2/d, d, d)
    return a.reshape(*lead, n1 // d, n2 // d, d * d)


def _ungroup(a: np.ndarray, factor: int) -> np.ndarray:
    *lead, m1, m2, _ = a.shape
    d = factor
    a = a.reshape(*lead, m1, m2, d, d)
    a = np.moveaxis(a, (-2, -1), (-4, -2))
    return a.reshape(*lead, d * m1, d * m2)


def tikhonov_gradient(y, A: LinearOperator, mu: float) -> np.ndarray:
    r"""``argmin_x ||y - A x||^2 + mu ||D x||^2`` exactly, ``D`` the periodic forward differences.

    For ``A = S_d H`` with ``H`` a periodic convolution (``A.fourier_structure()`` with no channel mix) the
    normal equations ``(A^T A + mu D^T D) x = A^T y`` decouple in Fourier into one ``d^2 x d^2`` system per
    group of aliased frequencies ``{p + j N/d}``:
    ``(mu diag(l) + d^{-2} conj(g) g^T) X = (A^T y)^`` with ``g`` the spectrum of ``H`` and
    ``l(k) = 4 sin^2(pi k1 / N1) + 4 sin^2(pi k2 / N2)`` that of ``D^T D``. The ``(N1 N2 / d^2)`` small
    matrices are inverted once; then every image costs two FFTs. ``y``: ``(..., *A.out_shape)``.
    """
    mu = real_number(mu, "tikhonov_gradient mu", positive=True)
    structure = A.fourier_structure()
    if structure is None or structure.mix is not None or np.ndim(structure.spectrum) > 2:
        raise ValueError(f"tikhonov_gradient: {A!r} is not a single periodic (strided) convolution S H")
    grid, d = tuple(structure.grid), int(structure.factor)
    if tuple(A.in_shape) != grid:
        raise ValueError(f"tikhonov_gradient: expected a grey image operator on {grid}, got in_shape {A.in_shape}")
    g = _group(_full_spectrum(structure.spectrum, grid), d)
    k1, k2 = (np.arange(n) for n in grid)
    lap = (4.0 * np.sin(np.pi * k1 / grid[0]) ** 2)[:, None] + (4.0 * np.sin(np.pi * k2 / grid[1]) ** 2)[None, :]
    lap = _group(lap, d)
    M = np.conj(g)[..., :, None] * g[..., None, :] / d**2
    M[..., np.arange(d * d), np.arange(d * d)] += mu * lap
    Minv = np.linalg.inv(M)
    rhs = _group(np.fft.fft2(A.adjoint(np.asarray(y, dtype=np.float64))), d)
    X = np.einsum("...ij,...j->...i", Minv, rhs)
    return np.fft.ifft2(_ungroup(X, d)).real
