"""Proximal operators (priors) for ADMM's x-update: ``prox(v, tau, y=None)`` returns
``argmin_x 1/2 ||x - v||^2 + tau R(x; y)``, with ``tau = lam / (2 beta)`` inside ADMM (see ``basic``).

Classical operators live in ``basic``, plug-and-play denoisers (BM3D, TV; no torch) in ``plug_and_play``,
torch networks in ``denoiser``. The bridges to other libraries' loops (PyProximal, deepinv, SCICO) are in
``ppsolve.interop``.
"""
from .basic import L2, TV, Box, CallableProx, Proximal, SoftThreshold, as_prox, check_tau
from .denoiser import CPSDAEProx, DAEProx, DenoiserProx
from .plug_and_play import PlugAndPlay, bm3d_denoiser, sqrt_tau, tv_denoiser

__all__ = [
    "L2",
    "TV",
    "Box",
    "CPSDAEProx",
    "CallableProx",
    "DAEProx",
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
