r"""Plug-and-play proximal operators: any Gaussian denoiser ``f(v, sigma)`` in the place of ``prox_{tau R}``.

ADMM (``ppsolve.admm``) calls ``prox(v, tau, y=y)`` with ``tau = lam / (2 beta)`` and expects
``argmin_x 1/2 ||x - v||^2 + tau R(x; y)``. ``PlugAndPlay(denoiser)`` answers with ``f(v, sigma)`` at
``sigma = sigma_of_tau(tau)``, by default ``sqrt(tau)``. Why: if ``R = -log p`` for a prior ``p`` and
``v = x + n`` with ``n ~ N(0, sigma^2 I)``, the MAP estimate is
``argmax p(x | v) = argmin_x 1/(2 sigma^2) ||x - v||^2 + R(x) = argmin_x 1/2 ||x - v||^2 + sigma^2 R(x)``,
which is ``prox_{tau R}(v)`` exactly when ``sigma^2 = tau``. So ADMM's x-step at ``tau = lam / (2 beta)`` is a
Gaussian denoising at noise level ``sigma = sqrt(lam / (2 beta))`` (for a TV denoiser that solves
``argmin 1/2 ||x - v||^2 + sigma^2 TV(x)`` it is exactly ``prox_{tau TV}``). Denoisers whose prior is implicit
(BM3D, networks) follow the same rule up to a scale, which ``sigma_of_tau`` can carry.

Denoisers here need no torch: ``bm3d_denoiser`` (the ``bm3d`` package) and ``tv_denoiser``. Torch networks
are wrapped by ``ppsolve.prox.denoiser``.
"""
from __future__ import annotations

import math

import numpy as np

from .._array import as_like, is_torch, namespace, to_numpy
from .._validate import positive_int, real_number
from .basic import TV, Proximal

__all__ = ["PlugAndPlay", "bm3d_denoiser", "sqrt_tau", "tv_denoiser"]


def sqrt_tau(tau: float) -> float:
    """The plug-and-play noise level ``sigma = sqrt(tau)`` (see the module docstring)."""
    return math.sqrt(tau)


class PlugAndPlay(Proximal):
    """Any Gaussian denoiser ``f(v, sigma) -> x`` as a proximal operator, ``sigma = sigma_of_tau(tau)``
    (default ``sqrt(tau)``: the MAP correspondence ``sigma^2 = tau`` derived in the module docstring).

    Parameters
    ----------
    denoiser : ``f(v, sigma)``; e.g. ``bm3d_denoiser()``, ``tv_denoiser()``, or a noise-conditional network.
    sigma_of_tau : ``tau -> sigma`` (default ``sqrt_tau``); scale it (``lambda t: c * sqrt(t)``) to tune.
    image_ndim : None (default): ``f`` gets the whole array, batch included. An int ``k``: ``f`` gets one
        image of the last ``k`` axes at a time and the leading axes are looped over (for BM3D).
    numpy : convert ``v`` to a float64 NumPy array for ``f`` (and the result back to ``v``'s kind and dtype).
    name : shown in reports.
    """

    def __init__(self, denoiser, sigma_of_tau=sqrt_tau, image_ndim: int | None = None, numpy: bool = False,
                 name: str | None = None):
        if not callable(denoiser):
            raise TypeError(f"PlugAndPlay: denoiser must be a callable f(v, sigma), got {type(denoiser).__name__}")
        if not callable(sigma_of_tau):
            raise TypeError("PlugAndPlay: sigma_of_tau must be a callable tau -> sigma")
        self.denoiser = denoiser
        self.sigma_of_tau = sigma_of_tau
        self.image_ndim = None if image_ndim is None else positive_int(image_ndim, "PlugAndPlay image_ndim")
        self.numpy = bool(numpy)
        self.name = name or getattr(denoiser, "__name__", type(denoiser).__name__)

    def _prox(self, v, tau, y):
        sigma = real_number(self.sigma_of_tau(tau), f"PlugAndPlay: sigma_of_tau({tau})")
        a = np.asarray(to_numpy(v), dtype=np.float64) if self.numpy else v
        if self.image_ndim is None or a.ndim <= self.image_ndim:
            out = self.denoiser(a, sigma)
        else:
            batch = tuple(a.shape[: a.ndim - self.image_ndim])
            flat = a.reshape((-1,) + tuple(a.shape[a.ndim - self.image_ndim:]))
            outs = [self.denoiser(flat[i], sigma) for i in range(flat.shape[0])]
            out = namespace(outs[0]).stack(outs) if is_torch(outs[0]) else np.stack([np.asarray(o) for o in outs])
            out = out.reshape(batch + tuple(out.shape[1:]))
        if tuple(out.shape) != tuple(v.shape):
            raise ValueError(f"PlugAndPlay: the denoiser mapped shape {tuple(v.shape)} to {tuple(out.shape)}")
        return as_like(out, v)

    def __repr__(self):
        return f"PlugAndPlay({self.name}, sigma_of_tau={getattr(self.sigma_of_tau, '__name__', '?')})"


def bm3d_denoiser(profile: str = "np", stage: str = "all"):
    """``f(v, sigma)`` running BM3D (the ``bm3d`` package, ``pip install bm3d``; imported on first use) on
    one grey image ``(H, W)`` or one colour image ``(3, H, W)`` (given to BM3D channel-last), NumPy float64.
    ``stage``: ``"all"`` (hard thresholding then Wiener) or ``"hard"`` (hard thresholding only, faster).
    Use with ``PlugAndPlay(bm3d_denoiser(), image_ndim=2, numpy=True)`` for grey images."""
    try:
        import bm3d
    except ImportError:
        raise ImportError("bm3d_denoiser needs the optional bm3d package: pip install bm3d "
                          "(or pip install 'ppsolve[bm3d]')") from None
    stages = {"all": bm3d.BM3DStages.ALL_STAGES, "hard": bm3d.BM3DStages.HARD_THRESHOLDING}
    if stage not in stages:
        raise ValueError(f"bm3d_denoiser: stage must be one of {sorted(stages)}, got {stage!r}")

    def denoise(v, sigma):
        v = np.asarray(v, dtype=np.float64)
        if sigma == 0:
            return v.copy()
        if v.ndim == 3:
            out = bm3d.bm3d(np.moveaxis(v, 0, -1), sigma_psd=sigma, profile=profile, stage_arg=stages[stage])
            return np.moveaxis(np.asarray(out), -1, 0)
        if v.ndim != 2:
            raise ValueError(f"bm3d_denoiser: expected one image (H, W) or (3, H, W), got shape {v.shape}; "
                             "use PlugAndPlay(..., image_ndim=2) to loop over a batch")
        return np.asarray(bm3d.bm3d(v, sigma_psd=sigma, profile=profile, stage_arg=stages[stage])).reshape(v.shape)

    denoise.__name__ = "bm3d"
    return denoise


def tv_denoiser(iters: int = 100, **kwargs):
    """``f(v, sigma) = argmin_x 1/2 ||x - v||^2 + sigma^2 TV(x)`` (``ppsolve.prox.TV``): the MAP denoiser of
    the TV prior at noise level ``sigma``, so ``PlugAndPlay(tv_denoiser())`` equals ``TV().prox`` exactly."""
    tv = TV(iters=iters, **kwargs)

    def denoise(v, sigma):
        return tv.prox(v, sigma * sigma)

    denoise.__name__ = "tv"
    return denoise
