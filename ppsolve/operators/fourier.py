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

import numpy as np
import scipy.fft
import torch

from .._array import is_numpy, namespace

__all__ = [
    "alias_sum",
    "fold_columns",
    "half_width",
    "irfft2",
    "kernel_spectrum",
    "kernel_to_grid",
    "repeat_columns",
    "replicate",
    "rfft2",
    "sampling_phase",
]

#: worker threads scipy.fft uses for NumPy arrays (None: scipy's default of one)
FFT_WORKERS = None


def half_width(n2: int) -> int:
    """Length of the real-FFT half spectrum along an axis of length ``n2``."""
    return n2 // 2 + 1


_SCIPY_DTYPES = (torch.float32, torch.float64, torch.complex64, torch.complex128)


def _cpu_without_autograd(x) -> bool:
    """A CPU torch tensor that no gradient will flow through: scipy.fft can transform its memory directly."""
    return (isinstance(x, torch.Tensor) and x.device.type == "cpu" and x.dtype in _SCIPY_DTYPES
            and not x.is_conj() and not x.is_neg() and not (x.requires_grad and torch.is_grad_enabled()))


def _torch_workers() -> int:
    """scipy.fft's workers for a torch tensor: ``FFT_WORKERS``, else torch's thread count (as torch.fft would)."""
    return FFT_WORKERS if FFT_WORKERS is not None else torch.get_num_threads()


def rfft2(x):
    """Real FFT over the last two axes: scipy.fft for NumPy arrays and for CPU torch tensors outside autograd
    (on this project's CPUs torch's own CPU FFT took 2.3x as long; the tensor's memory is shared, not copied),
    the array's own fft otherwise (autograd, GPUs)."""
    if is_numpy(x):
        return scipy.fft.rfft2(x, axes=(-2, -1), workers=FFT_WORKERS)
    if _cpu_without_autograd(x):
        return torch.from_numpy(scipy.fft.rfft2(x.detach().numpy(), axes=(-2, -1), workers=_torch_workers()))
    return namespace(x).fft.rfftn(x, axes=(-2, -1))


def irfft2(X, grid):
    """Inverse of ``rfft2`` onto a real ``grid = (N1, N2)`` array (the same choice of library)."""
    if is_numpy(X):
        return scipy.fft.irfft2(X, s=tuple(grid), axes=(-2, -1), workers=FFT_WORKERS)
    if _cpu_without_autograd(X):
        return torch.from_numpy(scipy.fft.irfft2(X.detach().numpy(), s=tuple(grid), axes=(-2, -1),
                                                 workers=_torch_workers()))
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


def _flip_rows(X, xp):
    """Row ``k1`` -> row ``-k1 mod n1`` (with a column flip, the Hermitian mirror of a half spectrum)."""
    if is_numpy(X):
        return X[..., (-np.arange(X.shape[-2])) % X.shape[-2], :]
    return xp.roll(xp.flip(X, axis=-2), 1, axis=-2)


def _mirror(X, start, stop, xp):
    """Columns ``start..stop-1`` of a half spectrum read through Hermitian symmetry in reverse order:
    entry ``(k1, i)`` is ``conj(X[-k1, stop - 1 - i])``."""
    part = _flip_rows(X[..., start:stop], xp)
    return xp.conj(part[..., ::-1] if is_numpy(part) else xp.flip(part, axis=-1))


def fold_columns(Y, n2: int, factor: int):
    """The column part of ``alias_sum``, unnormalised: ``sum_j Y[..., q + j n]`` for the low-resolution half
    frequencies ``q <= n // 2`` (``n = n2 / factor``), where ``Y`` (..., n1, n2 // 2 + 1) is the half spectrum of
    a real signal on an (n1, n2) grid; columns beyond ``n2 / 2`` are read as its Hermitian mirror."""
    if factor == 1:
        return Y
    xp = namespace(Y)
    n = n2 // factor
    nh, half = half_width(n), half_width(n2)
    needed = (factor - 1) * n + nh  # columns 0 .. needed-1 of the full spectrum are read
    full = xp.concat([Y, _mirror(Y, n2 - needed + 1, n2 - half + 1, xp)], axis=-1)
    out = full[..., 0:nh]
    for j in range(1, factor):
        out = out + full[..., j * n:j * n + nh]
    return out


def repeat_columns(W, n2: int, factor: int):
    """The column part of ``replicate``: (..., n1, n // 2 + 1) -> (..., n1, n2 // 2 + 1), column ``k`` holding
    low-resolution frequency ``k mod n`` (read through Hermitian symmetry beyond ``n / 2``)."""
    if factor == 1:
        return W
    xp = namespace(W)
    n = n2 // factor
    nh, half = half_width(n), half_width(n2)
    full = xp.concat([W, _mirror(W, 1, n - nh + 1, xp)], axis=-1)  # (..., n1, n): the full low-res spectrum
    reps = -(-half // n)
    return xp.concat([full] * reps, axis=-1)[..., :half]


def alias_sum(X, factor: int, grid):
    """Half spectrum of ``S_0 x`` (sampling every ``factor``-th pixel from pixel 0) from the half spectrum
    ``X`` (..., N1, N2 // 2 + 1) of ``x``: ``d^{-2}`` times the sum over the ``d^2`` aliases. The row aliases
    are summed by a reshape, then the column aliases on the ``d`` times smaller array (``fold_columns``)."""
    if factor == 1:
        return X
    xp = namespace(X)
    n1 = grid[0] // factor
    rows = xp.sum(xp.reshape(X, X.shape[:-2] + (factor, n1, X.shape[-1])), axis=-3)
    return fold_columns(rows, grid[1], factor) / factor**2


def replicate(W, factor: int, grid):
    """Half spectrum of ``S_0^T w`` (zero-filling upsampling onto ``grid``) from the half spectrum ``W`` of
    the low-resolution ``w``: the low-resolution spectrum repeated periodically."""
    if factor == 1:
        return W
    xp = namespace(W)
    W = repeat_columns(W, grid[1], factor)  # (..., n1, N2h)
    return xp.concat([W] * factor, axis=-2)
