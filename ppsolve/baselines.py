r"""Classical baselines for the natural-image benchmarks (deblurring, super-resolution).

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
``bm3d_pnp(y, A, noise, sigma_start, sigma_end, ...)``
    Plug-and-play ADMM with BM3D (the ``bm3d`` package) as the denoiser: ``iters`` iterations, each at its own
    noise level ``sigma_k`` falling geometrically from ``sigma_start`` to ``sigma_end``, penalty
    ``beta_k = lam noise^2 / sigma_k^2`` (DPIR's rule in ADMM's scaling, ``ppsolve.staged.sigma_schedule``),
    the exact Fourier z-update, and the dual carried over when ``beta`` changes (``dual="keep"``: ADMM's
    unscaled dual, so the scaled one is rescaled by ``beta_old / beta_new``).

Interpolation baselines (aligned bicubic) are in ``ppsolve.interpolation``; the benchmarks' data conventions
(crops, noise seeds, scores) in ``ppsolve.experiments.natural``.
"""
from __future__ import annotations

import math

import numpy as np

from .admm import ADMM
from .inverses.fourier import FourierInverse
from .metrics import psnr
from .operators.base import LinearOperator
from .prox.basic import TV
from .prox.plug_and_play import PlugAndPlay, bm3d_denoiser
from .staged import sigma_schedule, solve_staged

__all__ = ["bm3d_pnp", "tv_admm", "wiener", "wiener_best"]



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
            cache[log_a] = (psnr(x, x_true, clip=True), x)
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


def bm3d_pnp(y, A: LinearOperator, noise: float, sigma_start: float, sigma_end: float, iters: int = 12,
             lam: float = 0.5, x0=None, inverse="fourier", profile: str = "np"):
    """Plug-and-play ADMM with BM3D (see the module docstring): ``iters`` stages of one iteration, BM3D at
    ``sigma_k`` (``geomspace(sigma_start, sigma_end, iters)``), ``beta_k = lam noise^2 / sigma_k^2``, started at
    ``x0`` (``z_0``; zeros by default), the dual kept across stages. One grey image ``y`` (``A.out_shape``), NumPy.
    Returns the ``ADMMResult`` (``x``: BM3D's last output)."""
    noise = float(noise)
    if not noise > 0:
        raise ValueError(f"bm3d_pnp: noise must be > 0 (the measurement's noise level), got {noise!r}")
    prox = PlugAndPlay(bm3d_denoiser(profile=profile), image_ndim=2, numpy=True)
    stages = sigma_schedule(sigma_start, sigma_end, iters, lam * noise**2)
    return solve_staged(A, prox, y, stages, inverse=inverse, x0=x0, dual="keep")
