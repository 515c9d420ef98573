r"""FFT conventions, pinned in one place: kernel centring, sampling phase, and the polyphase (aliasing) maps.

Every Fourier computation in ppsolve goes through these functions; ``tests/test_fourier.py`` pins them.

Conventions
-----------
* **Grid.** Images live on an ``N1 x N2`` periodic grid; transforms act on the last two axes, unnormalised
  (``X[k] = sum_n x[n] exp(-2 pi i k.n / N)``), with the real-to-complex half spectrum of shape
  ``(N1, N2 // 2 + 1)``.
* **Kernel centring.** A kernel of size ``k1 x k2`` has its centre at index ``(k1 // 2, k2 // 2)``, also
  for even sizes. ``kernel_to_grid`` pads it to the grid with that centre at pixel ``(0, 0)``, so that
  periodic *convolution* is ``(h * x)[n] = sum_m h[m + c] x[n - m]`` (true convolution, not correlation).
* **Sampling.** ``S`` with factor ``d`` and offset ``o`` keeps pixels ``o + d i``. In Fourier, with
  ``n = N / d`` low-resolution frequencies per axis,

      (S x)^[q] = d^{-2} sum_{j in {0..d-1}^2} exp(2 pi i (q + j n).o / N) x^[q + j n]          (alias_sum)
      (S^T w)^[k] = exp(-2 pi i k.o / N) w^[k mod n]                                           (replicate)

  ``sampling_phase`` gives the phase factor on the grid, so that ``S_o H = S_0 H_o`` with the phase folded
  into the kernel spectrum; ``alias_sum`` / ``replicate`` then always work at offset 0.

The half spectrum is handled exactly: along the last axis a frequency beyond ``N2 / 2`` is read as the
complex conjugate of its mirror (``x^[-k] = conj(x^[k])`` for real ``x``).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft

from .._array import is_numpy, namespace

__all__ = [
    "rfft2",
    "irfft2",
    "kernel_to_grid",
    "kernel_spectrum",
    "sampling_phase",
    "alias_sum",
    "replicate",
    "half_width",
]

#: worker threads scipy.fft uses for NumPy arrays (None: scipy's default of one)
FFT_WORKERS = None


def half_width(n2: int) -> int:
    """Length of the real-FFT half spectrum along an axis of length ``n2``."""
    return n2 // 2 + 1


def rfft2(x):
    """Real FFT over the last two axes (scipy.fft for NumPy, the array's own fft otherwise)."""
    if is_numpy(x):
        return scipy.fft.rfft2(x, axes=(-2, -1), workers=FFT_WORKERS)
    return namespace(x).fft.rfftn(x, axes=(-2, -1))


def irfft2(X, grid):
    """Inverse of ``rfft2`` onto a real ``grid = (N1, N2)`` array."""
    if is_numpy(X):
        return scipy.fft.irfft2(X, s=tuple(grid), axes=(-2, -1), workers=FFT_WORKERS)
    return namespace(X).fft.irfftn(X, s=tuple(grid), axes=(-2, -1))


def kernel_to_grid(kernel: np.ndarray, grid) -> np.ndarray:
    """Zero-pad ``kernel`` (..., k1, k2) to ``grid`` (N1, N2) with its centre ``(k1 // 2, k2 // 2)`` at (0, 0)."""
    kernel = np.asarray(kernel, dtype=np.float64)
    k1, k2 = kernel.shape[-2:]
    n1, n2 = grid
    if k1 > n1 or k2 > n2:
        raise ValueError(f"kernel of size {k1}x{k2} is larger than the image grid {n1}x{n2}")
    padded = np.zeros(kernel.shape[:-2] + (n1, n2))
    padded[..., :k1, :k2] = kernel
    return np.roll(padded, (-(k1 // 2), -(k2 // 2)), axis=(-2, -1))


def kernel_spectrum(kernel: np.ndarray, grid) -> np.ndarray:
    """Half spectrum (..., N1, N2 // 2 + 1) of ``kernel`` centred by ``kernel_to_grid``: the eigenvalues of
    periodic convolution with ``kernel`` (complex128)."""
    return scipy.fft.rfft2(kernel_to_grid(kernel, grid), axes=(-2, -1))


def sampling_phase(grid, offset) -> np.ndarray:
    """``exp(2 pi i k.o / N)`` on the half-spectrum grid: multiply a kernel spectrum by it to move a
    sampling offset ``o`` into the kernel (``S_o H = S_0 H_o``)."""
    n1, n2 = grid
    o1, o2 = offset
    k1 = np.fft.fftfreq(n1) * n1
    k2 = np.arange(half_width(n2))
    return np.exp(2j * np.pi * (np.outer(k1 * o1 / n1, np.ones_like(k2)) + k2[None, :] * o2 / n2))


@lru_cache(maxsize=64)
def _last_axis_alias_index(n2: int, factor: int):
    """For each low-resolution half frequency q and alias j: the half-spectrum index of q + j n on the
    high-resolution axis, and whether it must be conjugated (it lies beyond N2 / 2)."""
    n = n2 // factor
    q = np.arange(half_width(n))
    full = q[None, :] + n * np.arange(factor)[:, None]  # (factor, n // 2 + 1)
    mirrored = full > n2 // 2
    index = np.where(mirrored, (n2 - full) % n2, full)
    return index, mirrored


@lru_cache(maxsize=64)
def _last_axis_replicate_index(n2: int, factor: int):
    """For each high-resolution half frequency k: the low-resolution half index of k mod n, conjugated
    where k mod n lies beyond n / 2."""
    n = n2 // factor
    k = np.arange(half_width(n2)) % n
    mirrored = k > n // 2
    return np.where(mirrored, (n - k) % n, k), mirrored


def _take_last(X, index, mirrored):
    """``X[..., index]``, where entries under ``mirrored`` are read through Hermitian symmetry instead:
    ``X[k1, N2 - k2]`` of a real signal's half spectrum is ``conj(X[-k1, k2])`` (any namespace)."""
    xp = namespace(X)
    flat = np.ravel(index)
    shape = X.shape[:-1] + index.shape
    direct = xp.reshape(_take(X, flat), shape)
    if not np.any(mirrored):
        return direct
    flipped = xp.roll(xp.flip(X, axis=-2), 1, axis=-2)  # row k1 -> row -k1 (mod N1)
    mirror = xp.conj(xp.reshape(_take(flipped, flat), shape))
    return xp.where(xp.asarray(mirrored, device=_device(X)), mirror, direct)


def _take(X, flat_index):
    if is_numpy(X):
        return X[..., flat_index]
    xp = namespace(X)
    return xp.take(X, xp.asarray(flat_index, device=_device(X)), axis=-1)


def _device(x):
    import array_api_compat

    return array_api_compat.device(x)


def alias_sum(X, factor: int, grid):
    """Half spectrum of ``S_0 x`` (sampling every ``factor``-th pixel from pixel 0) from the half spectrum
    ``X`` (..., N1, N2 // 2 + 1) of ``x``: ``d^{-2}`` times the sum over the ``d^2`` aliases."""
    if factor == 1:
        return X
    xp = namespace(X)
    n1, n2 = grid
    n = n1 // factor
    index, mirrored = _last_axis_alias_index(n2, factor)
    taken = _take_last(X, index, mirrored)  # (..., N1, d, n2h)
    taken = xp.sum(taken, axis=-2)
    taken = xp.reshape(taken, X.shape[:-2] + (factor, n, taken.shape[-1]))
    return xp.sum(taken, axis=-3) / factor**2


def replicate(W, factor: int, grid):
    """Half spectrum of ``S_0^T w`` (zero-filling upsampling onto ``grid``) from the half spectrum ``W`` of
    the low-resolution ``w``: the low-resolution spectrum repeated periodically."""
    if factor == 1:
        return W
    xp = namespace(W)
    index, mirrored = _last_axis_replicate_index(grid[1], factor)
    W = _take_last(W, index, mirrored)  # (..., n1, N2h)
    reps = (1,) * (W.ndim - 2) + (factor, 1)
    return xp.tile(W, reps)
