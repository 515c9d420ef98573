"""Proximal operators (priors) for ADMM's x-update: ``prox(v, tau, y=None)`` returns
``argmin_x 1/2 ||x - v||^2 + tau R(x; y)``, with ``tau = lam / (2 beta)`` inside ADMM (see ``basic``).

Classical operators live in ``basic``, learned and plug-and-play denoisers in ``learned``; ``pyproximal`` bridges ppsolve inverses into PyProximal
(imported on demand, it needs the optional ``pyproximal`` package).
"""
from .basic import L2, TV, Box, CallableProx, Proximal, SoftThreshold, as_prox, check_tau
from .learned import CPSDAE, DAE, DenoiserProx, PlugAndPlay, bm3d_denoiser, sqrt_tau, tv_denoiser

__all__ = [
    "CPSDAE",
    "DAE",
    "L2",
    "TV",
    "Box",
    "CallableProx",
    "DenoiserProx",
    "PlugAndPlay",
    "Proximal",
    "SoftThreshold",
    "as_prox",
    "bm3d_denoiser",
    "check_tau",
    "sqrt_tau",
    "tv_denoiser",
]
