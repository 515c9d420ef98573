r"""Classical baselines for the natural-image benchmarks (deblurring, super-resolution) and their data.

``wiener(y, A, alpha)``
    The Wiener / Tikhonov filter ``x = (A^T A + alpha I)^{-1} A^T y`` (a white signal model with
    noise-to-signal ratio ``alpha``), exact in Fourier for periodic (strided) convolutions: for a pure
    periodic blur ``x^ = conj(h^) y^ / (|h^|^2 + alpha)``.
``wiener_best(y, A, x_true)``  -- an **oracle**
    The Wiener filter with ``alpha`` chosen *per image to maximise the PSNR against the ground truth*
    (a log-spaced grid, then a golden-section refinement in ``log alpha``). It uses ``x_true``, which no real
    method has, so it is an upper bound of what any single-parameter Wiener filter reaches on that image:
    "Wiener-best" in the benchmarks.
``tv_admm(y, A, lam, ...)``
    ``argmin ||y - A x||^2 + lam TV(x)`` by ``ppsolve.ADMM`` with the exact Fourier inverse and the isotropic
    TV proximal operator (FGP, ``ppsolve.prox.TV``); a thin helper fixing the settings the benchmarks use.
``aligned_bicubic(y, factor)``
    Periodic Keys (``a = -0.5``) bicubic interpolation with low-resolution pixel ``i`` on high-resolution
    pixel ``factor * i`` (the alignment of ``Downsample(offset=0)``); ``ppsolve.experiments.mnist``'s
    ``bicubic_upsample``, re-exported.

Data (the conventions of the issue): ``central_crops`` gives the central ``size x size`` crop of each image,
values ``8-bit / 255``; ``measure`` gives ``y = A x + N(0, sigma^2)`` with the noise of image ``i`` from
``numpy.random.default_rng(seed + i)`` (a fixed seed per image, independent of which subset is run);
``score`` is the PSNR of the estimate clipped to ``[0, 1]`` over the whole image, data range 1.
"""
from __future__ import annotations

import math
import time

import numpy as np

from .admm import ADMM
from .experiments.mnist import bicubic_upsample
from .inverses.fourier import FourierInverse
from .metrics import psnr
from .operators.base import LinearOperator
from .prox.basic import TV

__all__ = ["aligned_bicubic", "central_crops", "measure", "score", "tv_admm", "wiener", "wiener_best"]



def central_crops(paths, size: int = 256) -> np.ndarray:
    """``(N, size, size)`` float64 central crops (``top = (H - size) // 2``) of grey images, ``/ 255``."""
    from .data import load_image

    out = []
    for p in paths:
        im = np.asarray(load_image(p, mode="L"), dtype=np.float64)
        h, w = im.shape
        if h < size or w < size:
            raise ValueError(f"{p}: {h}x{w} is smaller than the {size}x{size} crop")
        t, l = (h - size) // 2, (w - size) // 2
        out.append(im[t:t + size, l:l + size])
    return np.stack(out)


def measure(A: LinearOperator, x: np.ndarray, sigma: float = 0.01, seed: int = 0) -> np.ndarray:
    """``y_i = A x_i + sigma * n_i`` for a stack ``x`` (``(N, *A.in_shape)``), ``n_i`` from
    ``default_rng(seed + i)``."""
    x = np.asarray(x, dtype=np.float64)
    ys = []
    for i in range(len(x)):
        y = A.apply(x[i])
        ys.append(y + sigma * np.random.default_rng(seed + i).standard_normal(y.shape))
    return np.stack(ys)


def score(x, x_true) -> float:
    """PSNR (dB, data range 1) of ``clip(x, 0, 1)`` against ``x_true`` over the whole image."""
    return float(psnr(np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0), np.asarray(x_true, dtype=np.float64)))


def wiener(y, A: LinearOperator, alpha: float, inverse: FourierInverse | None = None):
    """``(A^T A + alpha I)^{-1} A^T y`` (exact; ``A`` must have Fourier structure: periodic, possibly strided
    convolutions). ``inverse``: a ``FourierInverse(A, alpha)`` to reuse."""
    inv = inverse if inverse is not None else FourierInverse(A, alpha)
    return inv.solve(A.adjoint(y))


def wiener_best(y, A: LinearOperator, x_true, alphas=None, refine: int = 12):
    """ORACLE: the Wiener filter with the ``alpha`` that maximises the PSNR of ``clip(x, 0, 1)`` against the
    ground truth ``x_true`` for this one image (see the module docstring). Returns ``(x, alpha, psnr)``.

    ``alphas``: the coarse log-spaced grid (default ``logspace(-6, 0, 25)``); then ``refine``
    golden-section steps in ``log alpha`` around the best grid point.
    """
    alphas = np.logspace(-6, 0, 25) if alphas is None else np.asarray(alphas, dtype=float)
    Aty = A.adjoint(y)
    cache = {}

    def value(log_a):
        if log_a not in cache:
            x = FourierInverse(A, float(math.exp(log_a))).solve(Aty)
            cache[log_a] = (score(x, x_true), x)
        return cache[log_a][0]

    logs = np.log(alphas)
    vals = [value(la) for la in logs]
    k = int(np.argmax(vals))
    lo, hi = logs[max(k - 1, 0)], logs[min(k + 1, len(logs) - 1)]
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    for _ in range(refine):
        if value(a) > value(b):
            hi = b
            b, a = a, hi - g * (hi - lo)
        else:
            lo = a
            a, b = b, lo + g * (hi - lo)
    best = max(cache, key=lambda la: cache[la][0])
    return cache[best][1], float(math.exp(best)), cache[best][0]


def tv_admm(y, A: LinearOperator, lam: float, beta: float | None = None, iters: int = 50, tv_iters: int = 20,
            x_true=None):
    """``argmin ||y - A x||^2 + lam TV(x)`` by ADMM (exact Fourier inverse, isotropic TV (Neumann
    boundary) by FGP with ``tv_iters`` inner iterations per call). ``beta`` defaults to ``10 lam``. Returns the
    ``ADMMResult``; ``x_true`` is passed on for the NMSE history."""
    beta = 10.0 * lam if beta is None else beta
    admm = ADMM(A, TV(iters=tv_iters), "fourier", beta=beta, lam=lam)
    x0 = A.adjoint(y) if A.in_shape == A.out_shape else None
    return admm.solve(y, iters=iters, x0=x0, x_true=x_true)


def aligned_bicubic(y, factor: int) -> np.ndarray:
    """Periodic Keys bicubic (``a = -0.5``) upsampling with low-resolution pixel ``i`` on high-resolution
    pixel ``factor * i`` (``ppsolve.experiments.mnist.bicubic_upsample`` with ``origin = 0``)."""
    return bicubic_upsample(y, factor, origin=0.0)


def timed(fn, *args, **kwargs):
    """``(result, cpu_seconds)`` of one call (process CPU time: all threads together)."""
    t = time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - t
